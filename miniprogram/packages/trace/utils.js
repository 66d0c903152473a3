// What the trace page shows of get_trace's answer; kept apart so tests call it directly.

const STEP_TEXT = {
  commissioning: '生产', inspecting: '质检', storing: '入库', packing: '包装', shipping: '发货',
  receiving: '收货', loading: '装车', unloading: '卸货', transporting: '运输', accepting: '验收',
  arriving: '到达', departing: '出发', holding: '暂存', picking: '拣货', sampling: '抽检',
  retail_selling: '零售', other: '其他'
}

function codeOf(options) {
  const o = options || {}
  if (o.code) return o.code
  return o.scene ? decodeURIComponent(o.scene) : ''
}

function eventRows(events) {
  return (events || []).map((e) => ({
    seq: e.seq, step: STEP_TEXT[e.biz_step] || e.biz_step, time: (e.event_time || '').replace('T', ' ').replace('Z', ''),
    place: e.read_point, hash: (e.hash || '').slice(0, 12), anchored: !!e.anchor,
    onChain: !!(e.anchor && e.anchor.chain && e.anchor.chain.tx_id)
  }))
}

module.exports = { codeOf, eventRows, STEP_TEXT }
