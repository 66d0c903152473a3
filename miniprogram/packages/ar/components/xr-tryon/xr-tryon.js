// The XR-FRAME scene of a try-on: an ar-system in the asset's mode, the model (GLB from its URL,
// never from the code package) on an ar-tracker. Tells the page when it is ready or failed.
Component({
  properties: {
    glbUrl: { type: String, value: '' },
    arModes: { type: String, value: 'Plane' },
    trackerMode: { type: String, value: 'Plane' },
    camera: { type: String, value: 'Back' },
    autoSync: { type: String, value: '' },
    markerUrl: { type: String, value: '' },
    position: { type: String, value: '0 0 0' },
    rotation: { type: String, value: '0 0 0' },
    scale: { type: String, value: '1 1 1' }
  },
  data: { loaded: false },
  methods: {
    handleReady({ detail }) { this.scene = detail.value },
    handleAssetsLoaded() {
      this.setData({ loaded: true })
      this.triggerEvent('loaded')
    },
    handleArReady() { this.triggerEvent('arready') },
    // the model could not load, or the phone cannot track: the page shows the fallback image
    handleError(e) { this.triggerEvent('failed', { message: (e && e.detail && e.detail.message) || '' }) }
  }
})
