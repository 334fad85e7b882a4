// Studio: how many viewers are on each simulcast layer (sfu and janus modes), from GET /api/livestreams/{id}/stats
// (viewersPerLayer). Hidden while nobody is on a layer (single-layer publishing, other modes).
const ORDER = ['f', 'h', 'q', 'paused'];
const LABEL = { f: 'full', h: 'half', q: 'quarter', paused: 'audio only' };

export function renderLayers(element, stats) {
  const perLayer = (stats && stats.viewersPerLayer) || {};
  const names = Object.keys(perLayer).sort((a, b) => (ORDER.indexOf(a) + 1 || 99) - (ORDER.indexOf(b) + 1 || 99));
  element.hidden = names.length === 0;
  element.textContent = names.map((name) => `${LABEL[name] || name}: ${perLayer[name]}`).join(' · ');
}

export async function updateLayers(api, livestreamId, element) {
  const stats = await api.get(`/api/livestreams/${livestreamId}/stats`).catch(() => null);
  renderLayers(element, stats);
}
