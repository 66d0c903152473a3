// Time left until `until` (an ISO time) as HH:MM:SS, ticking each second; emits "end" once per
// `until` when it reaches zero; the timer is cleared on detach.
const { parseUtc } = require('../../utils/time')

function pad(n) { return (n < 10 ? '0' : '') + n }

function format(ms) {
  const s = Math.max(0, Math.floor(ms / 1000))
  return pad(Math.floor(s / 3600)) + ':' + pad(Math.floor((s % 3600) / 60)) + ':' + pad(s % 60)
}

Component({
  properties: {
    until: { type: String, value: '' }
  },
  data: { text: '--:--:--' },
  observers: {
    until() { if (this.attachedOnce) this.start() }
  },
  lifetimes: {
    attached() { this.attachedOnce = true; this.start() },
    detached() { this.stop() }
  },
  methods: {
    stop() {
      if (this.timer) { clearInterval(this.timer); this.timer = null }
    },
    start() {
      this.stop()
      const target = parseUtc(this.data.until || '')   // microseconds too (iOS)
      if (!isFinite(target)) { this.setData({ text: '--:--:--' }); return }
      if (this.endedFor === this.data.until) { this.setData({ text: format(0) }); return }
      if (!this.tick(target)) this.timer = setInterval(() => { if (this.tick(target)) this.stop() }, 1000)
    },
    // -> true when the time is up
    tick(target) {
      const left = target - Date.now()
      this.setData({ text: format(left) })
      if (left > 0) return false
      if (this.endedFor !== this.data.until) {
        this.endedFor = this.data.until
        this.triggerEvent('end')
      }
      return true
    }
  }
})
