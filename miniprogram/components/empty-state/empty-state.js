// Empty or error state with an optional action button ("retry" event).
function derive(type, text, action) {
  const isError = type === 'error'
  return {
    icon: isError ? '!' : 'o',
    shown: text || (isError ? '加载失败' : '这里还什么都没有'),
    buttonText: action || (isError ? '重试' : '')
  }
}
Component({
  properties: {
    type: { type: String, value: 'empty' },   // empty | error
    text: { type: String, value: '' },
    action: { type: String, value: '' }
  },
  data: { icon: 'o', shown: '', buttonText: '' },
  observers: {
    'type, text, action'(type, text, action) { this.setData(derive(type, text, action)) }
  },
  lifetimes: {
    attached() { this.setData(derive(this.data.type, this.data.text, this.data.action)) }
  },
  methods: { onAction() { this.triggerEvent('retry') } }
})
