// Shared by the nearby package and checkout (self-pickup); subpackages cannot require each other.
// wx.getLocation gcj02; on refusal a clear fallback: a default city centre and a flag to say so.
const FALLBACK = { lat: 31.2304, lng: 121.4737, name: '上海市中心' }

function getLocation() {
  return new Promise((resolve) => {
    wx.getLocation({
      type: 'gcj02',
      success: (res) => resolve({ lat: res.latitude, lng: res.longitude, fallback: false }),
      fail: () => resolve({ lat: FALLBACK.lat, lng: FALLBACK.lng, fallback: true, name: FALLBACK.name })
    })
  })
}

function distanceText(m) {
  if (m == null) return ''
  return m < 1000 ? Math.round(m) + 'm' : (m / 1000).toFixed(1) + 'km'
}

module.exports = { getLocation, distanceText, FALLBACK }
