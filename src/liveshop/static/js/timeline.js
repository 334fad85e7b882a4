// What a replay shows at offset t (seconds from the show's start), from
// GET /api/livestreams/{id}/timeline: the chat messages with offsetSeconds ≤ t and the products
// pinned at that moment (pinnedAtSeconds ≤ t < unpinnedAtSeconds, null meaning "until the end").

/** Messages up to t, oldest first (the timeline's chat is sorted by offset). */
export function chatAt(timeline, t) {
  const out = [];
  for (const item of timeline.chat || []) {
    if (item.offsetSeconds <= t) out.push(item.message);
  }
  return out;
}

/** Products on screen at t, in pin order. */
export function pinsAt(timeline, t) {
  return (timeline.pins || [])
    .filter((p) => p.pinnedAtSeconds <= t && (p.unpinnedAtSeconds === null || p.unpinnedAtSeconds === undefined || t < p.unpinnedAtSeconds))
    .sort((a, b) => a.pinnedAtSeconds - b.pinnedAtSeconds)
    .map((p) => p.product);
}
