// Tells the server how this viewer's playback goes (sfu and janus modes): every REPORT_MS, POST
// {freezes, freezeSeconds, framesDecoded} (the browser's own inbound video counters: WebRTC's
// freezeCount, totalFreezesDuration, framesDecoded, since the WHEP session began) to the session's
// /playback, so the stats route shows each viewer's freezes beside the server's view of its link.
// Only sent when the counters moved.
const REPORT_MS = 5000;

export function createPlaybackReporter({ getToken, getPc }) {
  let resource = null;
  let timer = null;
  let last = null;

  async function tick() {
    const pc = getPc();
    const url = resource;
    if (!url || !pc) return;
    let inbound = null;
    try {
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') inbound = s;
      });
    } catch (err) {
      return; // the connection closed meanwhile
    }
    if (!inbound || url !== resource) return;
    const body = {
      freezes: inbound.freezeCount || 0,
      freezeSeconds: Math.round((inbound.totalFreezesDuration || 0) * 1000) / 1000,
      framesDecoded: inbound.framesDecoded || 0,
    };
    if (last && last.framesDecoded === body.framesDecoded && last.freezes === body.freezes) return;
    last = body;
    fetch(`${url}/playback`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${getToken()}` },
      body: JSON.stringify(body),
    }).catch(() => {});
  }

  return {
    // a new WHEP session (null: none): its counters start afresh
    session(url) {
      resource = url;
      last = null;
      clearInterval(timer);
      timer = url ? setInterval(tick, REPORT_MS) : null;
    },
    stop() {
      clearInterval(timer);
      timer = null;
      resource = null;
    },
  };
}
