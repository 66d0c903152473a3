/** @jest-environment jsdom */
// A page opened without its id (a broken link, a share cut short) says the link is broken in
// Chinese, and asks the server nothing: never the server's "room_id：至少 1 个字符".
const { openPage } = require('./helpers/render-page')

for (const [page, words] of [
  ['packages/live/pages/room/room', '直播间'],
  ['packages/live/pages/community/community', '社群'],
  ['packages/order/pages/aftersale-detail/aftersale-detail', '售后单']
]) {
  test(`${page} without an id`, async () => {
    const asked = []
    const comp = await openPage(page, {}, { request: (o) => { asked.push(o.url); return { statusCode: 500, data: {} } } })
    expect(comp.dom.textContent).toContain('链接已失效，找不到这个' + words)
    expect(asked.filter((url) => /get_live_room|get_community|get_after_sale/.test(url))).toEqual([])
  })
}
