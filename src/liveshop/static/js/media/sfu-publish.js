// sfu publishing over WHIP: one send-only connection to the service, non-trickle (the offer is POSTed
// once ICE gathering is complete). DELETE on the Location ends it.
import { backoff, createSendStats, iceGatheringComplete } from './common.js';

export class WhipUnavailable extends Error {}

// simulcast (LIVESHOP_SIMULCAST): three layers, the server sends each viewer the one that fits
export const SIMULCAST_ENCODINGS = [
  { rid: 'f', maxBitrate: 2_500_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
];

export function createSfuPublisher({ hub, livestreamId, getToken, iceServers = [], onState = () => {}, simulcast = false }) {
  let pc = null;
  let resource = null;
  let stream = null;
  let stopped = false;
  let attempt = 0;
  let retryTimer = null;
  const sample = createSendStats();

  async function connect() {
    clearTimeout(retryTimer);
    if (pc) pc.close();
    const current = new RTCPeerConnection({ iceServers });
    pc = current;
    for (const track of stream.getTracks()) {
      const init = { direction: 'sendonly', streams: [stream] };
      if (simulcast && track.kind === 'video') init.sendEncodings = SIMULCAST_ENCODINGS.map((e) => ({ ...e }));
      current.addTransceiver(track, init);
    }
    current.onconnectionstatechange = () => {
      if (pc !== current) return;
      const state = current.connectionState;
      if (state === 'connected') {
        attempt = 0;
        onState('live');
      } else if (state === 'failed') retry();
      else if (state === 'disconnected') {
        onState('reconnecting');
        retryTimer = setTimeout(() => {
          if (pc === current && current.connectionState !== 'connected') retry();
        }, 3000);
      }
    };
    await current.setLocalDescription(await current.createOffer());
    await iceGatheringComplete(current);
    const res = await fetch(`/api/livestreams/${livestreamId}/whip`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${getToken()}` },
      body: current.localDescription.sdp,
    });
    if (res.status === 404 || res.status === 405) throw new WhipUnavailable(`WHIP is not available (HTTP ${res.status})`);
    if (res.status !== 201) throw new Error(`WHIP refused: HTTP ${res.status}`);
    const location = res.headers.get('Location');
    resource = location ? new URL(location, res.url).href : null;
    const answer = await res.text();
    if (pc !== current) return;
    await current.setRemoteDescription({ type: 'answer', sdp: answer });
    hub.send({ type: 'webrtc_broadcast_start' });
  }

  function retry() {
    if (stopped) return;
    onState('reconnecting');
    deleteResource();
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => connect().catch(retry), backoff(attempt++, 1000, 10000));
  }

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
      clearTimeout(retryTimer);
      deleteResource();
      if (pc) pc.close();
      pc = null;
    },
  };
}
