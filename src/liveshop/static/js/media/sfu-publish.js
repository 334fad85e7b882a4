// sfu publishing over WHIP: one send-only connection to the service, non-trickle (the offer is POSTed
// once ICE gathering is complete). DELETE on the Location ends it.
// Recovery: when the connection fails, or stays `disconnected` for RECOVERY_GRACE_MS, the same
// camera stream is published again on a new connection with `?replace=1` (the server moves the
// viewers over and starts a new recording segment), with backoff. The old session is not DELETEd:
// that would end the viewers' sessions; the replace retires it. `webrtc_broadcast_stop` with reason
// `janus_down` while this page publishes: the show's Janus instance (the origin) died; the page
// publishes again at once, without waiting for ICE to notice, and an instance that is up becomes
// the origin.
import { CONNECT_TIMEOUT_MS, RECOVERY_GRACE_MS, backoff, createSendStats, iceGatheringComplete, requestTimeout } from './common.js';

export class WhipUnavailable extends Error {}

// simulcast (LIVESHOP_SIMULCAST): three layers, the server sends each viewer the one that fits
export const SIMULCAST_ENCODINGS = [
  { rid: 'f', maxBitrate: 2_500_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
];

// LIVESHOP_VIDEO_CODEC=h264: H.264 packetization-mode 1 first, Constrained Baseline (42e0..)
// before other profiles, as every decoder plays it; then the rest in the browser's order. A
// browser without an H.264 encoder keeps its own order (VP8): the server takes either.
export function preferredCodecs(codecs, videoCodec) {
  if (videoCodec !== 'h264') return null;
  const rank = (c) => {
    if (c.mimeType.toLowerCase() !== 'video/h264') return 3;
    const fmtp = c.sdpFmtpLine || '';
    if (!/packetization-mode=1/.test(fmtp)) return 2;
    return /profile-level-id=42e0/i.test(fmtp) ? 0 : 1;
  };
  if (!codecs.some((c) => rank(c) < 2)) return null;
  return codecs.map((c, i) => [rank(c), i, c]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[2]);
}

export function createSfuPublisher({ hub, livestreamId, getToken, iceServers = [], onState = () => {}, simulcast = false, videoCodec = 'vp8' }) {
  let pc = null;
  let resource = null;
  let stream = null;
  let stopped = false;
  let attempt = 0;
  let retryTimer = null;
  let watchdog = null; // a new connection that never connects is replaced too
  let published = false; // the service gave this page a session: later attempts replace it
  const sample = createSendStats();

  async function connect() {
    clearTimeout(retryTimer);
    if (pc) pc.close();
    const current = new RTCPeerConnection({ iceServers });
    pc = current;
    for (const track of stream.getTracks()) {
      const init = { direction: 'sendonly', streams: [stream] };
      if (simulcast && track.kind === 'video') init.sendEncodings = SIMULCAST_ENCODINGS.map((e) => ({ ...e }));
      const transceiver = current.addTransceiver(track, init);
      const caps = track.kind === 'video' && globalThis.RTCRtpSender?.getCapabilities?.('video');
      const order = caps && preferredCodecs(caps.codecs, videoCodec);
      if (order && transceiver.setCodecPreferences) transceiver.setCodecPreferences(order);
    }
    current.onconnectionstatechange = () => {
      if (pc !== current) return;
      const state = current.connectionState;
      if (state === 'connected') {
        clearTimeout(watchdog);
        attempt = 0;
        onState('live');
      } else if (state === 'failed') retry();
      else if (state === 'disconnected') {
        onState('reconnecting');
        retryTimer = setTimeout(() => {
          if (pc === current && current.connectionState !== 'connected') retry();
        }, RECOVERY_GRACE_MS);
      }
    };
    await current.setLocalDescription(await current.createOffer());
    await iceGatheringComplete(current);
    const res = await fetch(`/api/livestreams/${livestreamId}/whip${published ? '?replace=1' : ''}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${getToken()}` },
      body: current.localDescription.sdp,
      signal: requestTimeout(),
    });
    if (res.status === 404 || res.status === 405) throw new WhipUnavailable(`WHIP is not available (HTTP ${res.status})`);
    if (res.status !== 201) throw new Error(`WHIP refused: HTTP ${res.status}`);
    published = true;
    const location = res.headers.get('Location');
    resource = location ? new URL(location, res.url).href : null;
    const answer = await res.text();
    if (pc !== current) return;
    await current.setRemoteDescription({ type: 'answer', sdp: answer });
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      if (pc === current && current.connectionState !== 'connected') retry();
    }, CONNECT_TIMEOUT_MS);
    hub.send({ type: 'webrtc_broadcast_start' });
  }

  function retry(delay = backoff(attempt++, 1000, 10000)) {
    if (stopped) return;
    onState('reconnecting');
    resource = null; // replaced by the next session, not DELETEd (see the top)
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => connect().catch(() => retry()), delay);
  }

  const offs = [
    hub.on('webrtc_broadcast_stop', (ev) => {
      if (ev.reason !== 'janus_down' || Number(ev.livestreamId) !== Number(livestreamId) || !published || stopped) return;
      attempt = 0;
      retry(0);
    }),
  ];

  function deleteResource() {
    if (!resource) return;
    const url = resource;
    resource = null;
    fetch(url, { method: 'DELETE', headers: { Authorization: `Bearer ${getToken()}` }, keepalive: true }).catch(() => {});
  }

  return {
    mode: 'sfu',
    async start(mediaStream) {
      stream = mediaStream;
      stopped = false;
      published = false;
      onState('connecting');
      await connect();
    },
    async replaceStream(mediaStream) {
      stream = mediaStream;
      if (!pc) return;
      for (const sender of pc.getSenders()) {
        const next = mediaStream.getTracks().find((t) => sender.track && t.kind === sender.track.kind);
        if (next) await sender.replaceTrack(next);
      }
    },
    async stats() {
      return sample(pc ? [pc] : []);
    },
    get viewerConnections() {
      return null;
    },
    async stop() {
      stopped = true;
      offs.forEach((off) => off());
      clearTimeout(retryTimer);
      clearTimeout(watchdog);
      deleteResource();
      if (pc) pc.close();
      pc = null;
    },
  };
}
