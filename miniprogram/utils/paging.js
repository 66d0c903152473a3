// Paged lists for pages: data {items, page, pages, loading, error, empty, noMore}.
const initial = () => ({ items: [], page: 0, pages: 1, loading: false, error: '', empty: false, noMore: false })

async function loadList(ctx, fetchPage, reset) {
  const d = ctx.data
  if (d.loading) return
  if (!reset && d.noMore) return
  const next = reset ? 1 : d.page + 1
  ctx.setData({ loading: true, error: '' })
  try {
    const res = await fetchPage(next)
    const got = res.items || []
    const items = reset ? got : d.items.concat(got)
    const page = res.page || next
    const pages = res.pages == null ? page : res.pages
    ctx.setData({ items, page, pages, loading: false, empty: items.length === 0, noMore: page >= pages })
  } catch (e) {
    ctx.setData({ loading: false, error: e.message || '加载失败，请重试' })
  }
}

module.exports = { initial, loadList }
