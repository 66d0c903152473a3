// The icon of a category: the merchant's own image when it has one, else the bundled icon of
// the demo categories (assets/category), else a generic one.
const BUNDLED = ['cat_fruit', 'cat_snack', 'cat_tea', 'cat_home']

function iconFor(category) {
  const c = category || {}
  if (c.image) return c.image
  return '/assets/category/' + (BUNDLED.includes(c.id) ? c.id : 'other') + '.png'
}

function withIcons(categories) {
  return (categories || []).map((c) => Object.assign({}, c, { icon: iconFor(c) }))
}

module.exports = { iconFor, withIcons }
