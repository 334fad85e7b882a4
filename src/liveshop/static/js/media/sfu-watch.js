// sfu watching over WHEP: recv-only video + audio, non-trickle. 409 "not live" means the seller is not
// connected yet: retry when the hub says the broadcast started, or with backoff. Also the janus mode's
// watcher (a server forwards the media there too), whose offer `prepareOffer` adjusts.
// Recovery: a connection that fails, or stays `disconnected` for RECOVERY_GRACE_MS, is closed (its
// session DELETEd) and WHEP is done again on a new one, with backoff, in the same page; the page
// shows "reconnecting" meanwhile. In janus mode the hub's `webrtc_reconnect` lists the WHEP sessions
// whose Janus instance went away: a watcher holding one offers again at once (new placement), without
// waiting for ICE to notice. `webrtc_broadcast_stop` means the server ended every viewer's session
// (its publisher left): the connection is dropped at once, so that the next `webrtc_broadcast_start`
// (the publisher back, perhaps on another Janus instance) is answered with a new offer even though
// ICE may not have noticed yet.
// Audio only: in sfu mode the server pauses a viewer's video when its link cannot carry the lowest
// simulcast layer. The page tells the hub which WHEP session it watches through (`webrtc_watching`,
// again after every join snapshot), and the server sends `webrtc_video_state` for that session to
// this socket alone; the state is then `audio_only` until the server says `playing` again.
import { CONNECT_TIMEOUT_MS, RECOVERY_GRACE_MS, backoff, createReceiveStats, iceGatheringComplete, requestTimeout } from './common.js';
import { createPlaybackReporter } from './playback-report.js';
import { createPlayerSizeReporter } from './player-size.js';

export function createSfuWatcher({ hub, livestreamId, getToken, iceServers = [], onStream, onState, prepareOffer = (sdp) => sdp, video = null }) {
  const sizer = video ? createPlayerSizeReporter({ video, getToken }) : null;
  let pc = null;
  const playback = createPlaybackReporter({ getToken, getPc: () => pc });
  let resource = null;
  let stopped = false;
  let attempt = 0;
  let retryTimer = null;
  let watchdog = null; // a new connection that never connects is replaced too
  let busy = false;
  let recovering = false; // a connection was lost: attempts say "reconnecting" until one plays
  const sample = createReceiveStats();

  function schedule(delay = backoff(attempt++, 1000, 10000)) {
    if (stopped) return;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => connect(), delay);
  }

  function release() {
    playback.session(null);
    if (pc) pc.close();
    pc = null;
    if (resource) {
      const url = resource;
      resource = null;
      fetch(url, { method: 'DELETE', headers: { Authorization: `Bearer ${getToken()}` }, keepalive: true }).catch(() => {});
    }
  }

  async function connect() {
    if (stopped || busy) return;
    busy = true;
    clearTimeout(retryTimer);
    release();
    const current = new RTCPeerConnection({ iceServers });
    pc = current;
    current.addTransceiver('video', { direction: 'recvonly' });
    current.addTransceiver('audio', { direction: 'recvonly' });
    const remote = new MediaStream();
    current.ontrack = (ev) => {
      remote.addTrack(ev.track);
      onStream(ev.streams[0] || remote);
    };
    current.onconnectionstatechange = () => {
      if (pc !== current) return;
      const state = current.connectionState;
      if (state === 'connected') {
        clearTimeout(watchdog);
        attempt = 0;
        recovering = false;
        onState('playing');
      } else if (state === 'failed') {
        recovering = true;
        onState('reconnecting');
        schedule();
      } else if (state === 'disconnected') {
        recovering = true;
        onState('reconnecting');
        clearTimeout(retryTimer);
        retryTimer = setTimeout(() => {
          if (pc === current && current.connectionState !== 'connected') schedule(0);
        }, RECOVERY_GRACE_MS);
      }
    };
    try {
      onState(recovering ? 'reconnecting' : 'connecting');
      const offer = await current.createOffer();
      await current.setLocalDescription({ type: 'offer', sdp: prepareOffer(offer.sdp) });
      await iceGatheringComplete(current);
      const res = await fetch(`/api/livestreams/${livestreamId}/whep`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${getToken()}` },
        body: current.localDescription.sdp,
        signal: requestTimeout(),
      });
      if (res.status !== 201) {
        current.close();
        if (pc === current) pc = null;
        recovering = recovering && res.status !== 409;
        onState(res.status === 409 ? 'waiting' : 'reconnecting');
        schedule();
        return;
      }
      const location = res.headers.get('Location');
      resource = location ? new URL(location, res.url).href : null;
      if (sizer) sizer.session(resource);
      playback.session(resource);
      announce();
      const answer = await res.text();
      if (pc === current) await current.setRemoteDescription({ type: 'answer', sdp: answer });
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        if (pc !== current || current.connectionState === 'connected') return;
        recovering = true;
        onState('reconnecting');
        schedule();
      }, CONNECT_TIMEOUT_MS);
    } catch (err) {
      onState('reconnecting');
      schedule();
    } finally {
      busy = false;
    }
  }

  /** This watcher's WHEP session id (the last segment of its Location), or null. */
  function sessionId() {
    return resource ? decodeURIComponent(new URL(resource).pathname.split('/').pop()) : null;
  }

  function announce() { // once the socket has joined (it has a peer id); each snapshot announces again
    const id = sessionId();
    if (id && hub.peerId) hub.send({ type: 'webrtc_watching', sessionId: id });
  }

  const offs = [
    hub.on('webrtc_video_state', (ev) => {
      if (ev.sessionId !== sessionId() || !pc || pc.connectionState !== 'connected') return;
      onState(ev.state === 'paused' ? 'audio_only' : 'playing');
    }),
    hub.on('snapshot', () => announce()), // a (re)joined socket is a new one to the hub
    hub.on('webrtc_broadcast_start', () => {
      if (!pc || pc.connectionState !== 'connected') {
        attempt = 0;
        schedule(0);
      }
    }),
    hub.on('webrtc_broadcast_stop', (ev) => {
      if (Number(ev.livestreamId) !== Number(livestreamId) || !pc) return;
      resource = null; // ended by the server: nothing to DELETE
      if (sizer) sizer.session(null);
      playback.session(null);
      release();
      clearTimeout(watchdog);
      recovering = false;
      attempt = 0;
      onState('waiting');
      schedule(); // with backoff, in case webrtc_broadcast_start is missed
    }),
    hub.on('webrtc_reconnect', (ev) => {
      const id = sessionId();
      if (Number(ev.livestreamId) !== Number(livestreamId) || !id || !(ev.sessionIds || []).includes(id)) return;
      resource = null; // gone with its instance: nothing to DELETE
      if (sizer) sizer.session(null);
      playback.session(null);
      recovering = true;
      attempt = 0;
      onState('reconnecting');
      schedule(0);
    }),
  ];

  return {
    mode: 'sfu',
    start() {
      stopped = false;
      connect();
    },
    async stats() {
      return pc ? sample(pc) : null;
    },
    stop() {
      stopped = true;
      clearTimeout(retryTimer);
      clearTimeout(watchdog);
      offs.forEach((off) => off());
      if (sizer) sizer.stop();
      playback.stop();
      release();
    },
  };
}
