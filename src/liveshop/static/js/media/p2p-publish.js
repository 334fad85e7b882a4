// p2p publishing: the seller's page opens one RTCPeerConnection per shopper, signalled through the hub
// (webrtc_viewer_joined → webrtc_offer → webrtc_answer, trickle webrtc_ice_candidate both ways).
import { createSendStats, serial } from './common.js';

export function createP2PPublisher({ hub, iceServers = [] }) {
  const peers = new Map(); // shopper peerId → {pc, run}
  const viewers = new Set(); // shoppers known to be in the show
  let stream = null;
  let live = false;
  let audience = 0; // distinct shoppers according to the hub's viewer_count
  let lastResync = 0;
  let resyncTimer = null;
  const sample = createSendStats();

  // Fallback: if the hub counts more shoppers than we have heard of (a webrtc_viewer_joined went
  // missing), rejoin the show: the hub then re-announces every shopper to us. Throttled.
  function resync() {
    clearTimeout(resyncTimer);
    if (!live || audience <= viewers.size) return;
    const wait = lastResync + 3000 - Date.now();
    if (wait > 0) {
      resyncTimer = setTimeout(resync, wait);
      return;
    }
    lastResync = Date.now();
    hub.rejoin();
    resyncTimer = setTimeout(resync, 3000);
  }

  function drop(peerId) {
    const peer = peers.get(peerId);
    if (peer) {
      peers.delete(peerId);
      peer.pc.close();
    }
  }

  function offer(peerId) {
    if (!live || !stream) return;
    const existing = peers.get(peerId);
    if (existing && existing.pc.connectionState === 'connected') return;
    drop(peerId);
    const pc = new RTCPeerConnection({ iceServers });
    const run = serial();
    peers.set(peerId, { pc, run });
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
    pc.onicecandidate = (e) => {
      hub.send({ type: 'webrtc_ice_candidate', to: peerId, candidate: e.candidate ? e.candidate.toJSON() : null });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed' && peers.get(peerId)?.pc === pc) {
        drop(peerId);
        if (viewers.has(peerId)) offer(peerId); // ICE failed: try again with a fresh connection
      }
    };
    run(async () => {
      const desc = await pc.createOffer();
      await pc.setLocalDescription(desc);
      hub.send({ type: 'webrtc_offer', to: peerId, offer: { type: desc.type, sdp: pc.localDescription.sdp } });
    });
  }

  const offs = [
    hub.on('webrtc_viewer_joined', (e) => {
      viewers.add(e.peerId);
      offer(e.peerId);
    }),
    hub.on('webrtc_viewer_left', (e) => {
      viewers.delete(e.peerId);
      drop(e.peerId);
      // a shopper reconnecting gets a new peer id: make sure we hear about it (once the viewer
      // count had time to drop if they really left)
      clearTimeout(resyncTimer);
      resyncTimer = setTimeout(resync, 1500);
    }),
    hub.on('webrtc_answer', (e) => {
      const peer = peers.get(e.from);
      if (peer) peer.run(() => peer.pc.setRemoteDescription(e.answer));
    }),
    hub.on('webrtc_ice_candidate', (e) => {
      const peer = peers.get(e.from);
      if (peer && e.candidate) peer.run(() => peer.pc.addIceCandidate(e.candidate));
    }),
    hub.on('viewer_count', (e) => {
      audience = e.count;
      resync();
    }),
    hub.on('snapshot', () => {
      // a new socket (reconnect): the hub re-announces every shopper; old connections keep their media
      if (live) hub.send({ type: 'webrtc_broadcast_start' });
    }),
  ];

  return {
    mode: 'p2p',
    async start(mediaStream) {
      stream = mediaStream;
      live = true;
      hub.send({ type: 'webrtc_broadcast_start' });
      for (const id of viewers) offer(id);
    },
    async replaceStream(mediaStream) {
      stream = mediaStream;
      for (const { pc } of peers.values()) {
        for (const sender of pc.getSenders()) {
          const next = mediaStream.getTracks().find((t) => sender.track && t.kind === sender.track.kind);
          if (next) await sender.replaceTrack(next);
        }
      }
    },
    async stats() {
      return sample([...peers.values()].map((p) => p.pc));
    },
    get viewerConnections() {
      return [...peers.values()].filter((p) => p.pc.connectionState === 'connected').length;
    },
    async stop() {
      live = false;
      clearTimeout(resyncTimer);
      for (const id of [...peers.keys()]) drop(id);
      viewers.clear();
      offs.forEach((off) => off());
    },
  };
}
