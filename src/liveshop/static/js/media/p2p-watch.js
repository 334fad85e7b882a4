// p2p watching: answer the seller's offer, trickle ICE through the hub. When the media connection
// drops, rejoin the show (the seller then gets webrtc_viewer_joined and offers again).
import { backoff, createReceiveStats, serial } from './common.js';

export function createP2PWatcher({ hub, iceServers = [], onStream, onState }) {
  let pc = null;
  let seller = null;
  let run = serial();
  let attempt = 0;
  let retryTimer = null;
  let stopped = false;
  const sample = createReceiveStats();

  function close() {
    if (pc) pc.close();
    pc = null;
  }

  function scheduleRetry() {
    clearTimeout(retryTimer);
    onState('reconnecting');
    retryTimer = setTimeout(() => {
      if (!stopped) hub.rejoin();
    }, backoff(attempt++, 1000, 10000));
  }

  function accept(e) {
    close();
    seller = e.from;
    run = serial();
    const current = new RTCPeerConnection({ iceServers });
    pc = current;
    current.ontrack = (ev) => {
      const stream = ev.streams[0] || new MediaStream([ev.track]);
      onStream(stream);
    };
    current.onicecandidate = (ev) => {
      hub.send({ type: 'webrtc_ice_candidate', to: seller, candidate: ev.candidate ? ev.candidate.toJSON() : null });
    };
    current.onconnectionstatechange = () => {
      if (pc !== current) return;
      const state = current.connectionState;
      if (state === 'connected') {
        attempt = 0;
        clearTimeout(retryTimer);
        onState('playing');
      } else if (state === 'failed' || state === 'closed') {
        scheduleRetry();
      } else if (state === 'disconnected') {
        onState('reconnecting');
        clearTimeout(retryTimer);
        retryTimer = setTimeout(() => {
          if (pc === current && current.connectionState !== 'connected') scheduleRetry();
        }, 3000);
      }
    };
    onState('connecting');
    run(async () => {
      await current.setRemoteDescription(e.offer);
      const answer = await current.createAnswer();
      await current.setLocalDescription(answer);
      hub.send({ type: 'webrtc_answer', to: seller, answer: { type: answer.type, sdp: current.localDescription.sdp } });
    });
  }

  const offs = [
    hub.on('webrtc_offer', (e) => {
      if (!stopped) accept(e);
    }),
    hub.on('webrtc_ice_candidate', (e) => {
      const current = pc;
      if (current && e.from === seller && e.candidate) run(() => current.addIceCandidate(e.candidate));
    }),
  ];

  return {
    mode: 'p2p',
    start() {
      stopped = false;
      onState('waiting');
    },
    async stats() {
      return pc ? sample(pc) : null;
    },
    stop() {
      stopped = true;
      clearTimeout(retryTimer);
      close();
      offs.forEach((off) => off());
    },
  };
}
