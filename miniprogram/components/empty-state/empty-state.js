// Empty or error state: an illustration, a line of text and an optional action button ("retry").
// kind picks the picture (cart | orders | search | network | box); without one an error about
// the network (api.js's NETWORK sentence, or no text) shows "network", any other error "box".
const KINDS = ['cart', 'orders', 'search', 'network', 'box']

function derive(type, text, action, kind) {
  const isError = type === 'error'
  const networkError = isError && (!text || text.indexOf('网络') >= 0)
  const picture = KINDS.includes(kind) ? kind : networkError ? 'network' : 'box'
  return {
    image: '/assets/empty/' + picture + '.png',
    shown: text || (isError ? '加载失败' : '这里还什么都没有'),
    buttonText: action || (isError ? '重试' : '')
  }
}
Component({
  properties: {
    type: { type: String, value: 'empty' },   // empty | error
    text: { type: String, value: '' },
    action: { type: String, value: '' },
    kind: { type: String, value: '' }
  },
  data: { image: '', shown: '', buttonText: '' },
  observers: {
    'type, text, action, kind'(type, text, action, kind) { this.setData(derive(type, text, action, kind)) }
  },
  lifetimes: {
    attached() { this.setData(derive(this.data.type, this.data.text, this.data.action, this.data.kind)) }
  },
  methods: { onAction() { this.triggerEvent('retry') } }
})
