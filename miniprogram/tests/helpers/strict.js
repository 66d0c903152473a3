// After each test: a tap-only wx API called outside a tap (refused by the double, as a phone
// would) fails the test, even when the page swallowed the fail callback. A test that means to
// show a refusal empties wx.refused itself.
afterEach(() => {
  const w = global.wx
  if (w && Array.isArray(w.refused) && w.refused.length) {
    const names = w.refused.splice(0)
    throw new Error('tap-only wx API called outside a tap (refused on a device): ' + names.join(', ') +
      '. Call it first thing in the bind:tap handler and run the handler with wx.tap() / render tap().')
  }
})
