// Shared WebRTC helpers for the publish/watch modules.

/** Wait until ICE gathering is complete (non-trickle WHIP/WHEP), at most `timeout` ms. */
export function iceGatheringComplete(pc, timeout = 3000) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, timeout);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** How long a connection may stay `disconnected` before it is replaced by a new one (ms). */
export const RECOVERY_GRACE_MS = 3000;

/** How long a new connection may take to connect after the answer before it is given up (ms). */
export const CONNECT_TIMEOUT_MS = 15000;

/** An AbortSignal for one WHIP/WHEP request: a request sent while the network is down must not
 * hang the recovery (the browser would otherwise wait minutes for TCP). */
export function requestTimeout(ms = 10000) {
  return AbortSignal.timeout(ms);
}

/** Runs async steps one after another (signalling messages must not overtake each other). */
export function serial() {
  let chain = Promise.resolve();
  return (step) => {
    chain = chain.then(step).catch((err) => console.warn('webrtc step failed:', err && err.message ? err.message : err));
    return chain;
  };
}

/**
 * Sums outbound RTP over several peer connections between two calls: bitrate (kbit/s) and packet
 * loss (% of packets sent that the receivers reported lost).
 */
export function createSendStats() {
  let last = null;
  return async function sample(pcs) {
    let bytes = 0;
    let sent = 0;
    let lost = 0;
    let rtt = null;
    for (const pc of pcs) {
      let report;
      try {
        report = await pc.getStats();
      } catch {
        continue;
      }
      report.forEach((s) => {
        if (s.type === 'outbound-rtp') {
          bytes += s.bytesSent || 0;
          sent += s.packetsSent || 0;
        } else if (s.type === 'remote-inbound-rtp') {
          lost += Math.max(0, s.packetsLost || 0);
          if (typeof s.roundTripTime === 'number') rtt = Math.max(rtt || 0, s.roundTripTime);
        }
      });
    }
    const now = performance.now();
    let bitrate = null; // unknown until the second sample
    if (last && now > last.t) bitrate = (Math.max(0, bytes - last.bytes) * 8) / (now - last.t);
    last = { t: now, bytes };
    return { bitrateKbps: bitrate === null ? null : Math.round(bitrate), packetLoss: sent + lost > 0 ? (100 * lost) / (sent + lost) : 0, rtt, peers: pcs.length };
  };
}

/** Same for receiving (watch side): bitrate and loss from inbound RTP. */
export function createReceiveStats() {
  let last = null;
  return async function sample(pc) {
    if (!pc) return null;
    let bytes = 0;
    let received = 0;
    let lost = 0;
    const report = await pc.getStats();
    report.forEach((s) => {
      if (s.type === 'inbound-rtp') {
        bytes += s.bytesReceived || 0;
        received += s.packetsReceived || 0;
        lost += Math.max(0, s.packetsLost || 0);
      }
    });
    const now = performance.now();
    let bitrate = 0;
    if (last && now > last.t && bytes >= last.bytes) bitrate = ((bytes - last.bytes) * 8) / (now - last.t);
    last = { t: now, bytes };
    return { bitrateKbps: Math.round(bitrate), packetLoss: received + lost > 0 ? (100 * lost) / (received + lost) : 0 };
  };
}

export function backoff(attempt, min = 500, max = 10000) {
  const base = Math.min(max, min * 2 ** attempt);
  return Math.round(base / 2 + Math.random() * (base / 2));
}
