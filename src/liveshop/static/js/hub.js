// WebSocket client for /ws: reconnects with backoff, unwraps `batch` frames, rejoins the show
// with `afterMessageId` so the chat resumes without gaps or duplicates (and without the messages
// deleted meanwhile).

const SERVICE_RESTART = 1012; // sent by the server when it stops (SIGTERM, rolling restart)
const NO_RETRY = new Map([
  [4401, 'unauthorized'],
  [4403, 'banned'],
]);

export class Hub {
  constructor({ token, url = wsUrl(), minDelay = 500, maxDelay = 10000 } = {}) {
    this.url = url;
    this.token = token;
    this.minDelay = minDelay;
    this.maxDelay = maxDelay;
    this.ws = null;
    this.handlers = new Map();
    this.showId = null;
    this.lastMessageId = 0;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.wasOpen = false;
    this.state = 'idle';
    this.peerId = null;
  }

  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return () => this.handlers.get(type).delete(fn);
  }

  emit(type, event) {
    for (const fn of [...(this.handlers.get(type) || [])]) {
      try {
        fn(event);
      } catch (err) {
        console.warn('hub handler failed', type, err);
      }
    }
  }

  setState(state, detail = {}) {
    this.state = state;
    this.emit('status', { state, ...detail });
  }

  get open() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    this.stopped = false;
    clearTimeout(this.timer);
    if (this.ws) return;
    this.setState(this.wasOpen ? 'reconnecting' : 'connecting');
    const ws = new WebSocket(`${this.url}?token=${encodeURIComponent(this.token || '')}`);
    this.ws = ws;
    ws.onopen = () => {
      this.wasOpen = true;
      this.setState('open');
      if (this.showId !== null) this.sendJoin();
    };
    ws.onmessage = (e) => {
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      if (msg && msg.type === 'batch' && Array.isArray(msg.events)) msg.events.forEach((ev) => this.dispatch(ev));
      else if (msg) this.dispatch(msg);
    };
    ws.onerror = () => {};
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.peerId = null;
      if (this.stopped) return;
      const reason = NO_RETRY.get(e.code);
      if (reason) {
        this.setState(reason);
        this.emit(reason, { code: e.code });
        return;
      }
      if (e.code === SERVICE_RESTART) {
        // the server is restarting (another process takes over): come back at once, spread
        // over a quarter second so a whole audience does not arrive in the same instant
        this.attempt = 0;
        this.setState('reconnecting', { delay: 0 });
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.connect(), Math.random() * 250);
        return;
      }
      this.scheduleReconnect();
    };
  }

  scheduleReconnect() {
    const base = Math.min(this.maxDelay, this.minDelay * 2 ** this.attempt);
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.attempt += 1;
    this.setState('reconnecting', { delay });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** Reconnect at once (new token, or the page wants to resync). */
  reconnect() {
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, 'reconnect');
    this.attempt = 0;
    this.connect();
  }

  setToken(token) {
    this.token = token;
    if (this.ws) this.reconnect();
  }

  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, 'bye');
    this.ws = null;
    this.setState('closed');
  }

  dispatch(ev) {
    if (typeof ev !== 'object' || ev === null || typeof ev.type !== 'string') return;
    if (ev.type === 'snapshot') {
      this.attempt = 0;
      this.peerId = ev.peerId;
      if (ev.livestream && ev.livestream.id !== this.showId) return;
      for (const m of ev.recentChat || []) this.lastMessageId = Math.max(this.lastMessageId, m.id);
    } else if (ev.type === 'chat_message') {
      if (ev.livestreamId !== this.showId) return;
      this.lastMessageId = Math.max(this.lastMessageId, ev.id);
    }
    this.emit(ev.type, ev);
    this.emit('*', ev);
    // a resume snapshot lists the messages deleted while this socket was away: every page
    // removes them as it removes a live deletion
    if (ev.type === 'snapshot' && Array.isArray(ev.deletedMessageIds) && ev.deletedMessageIds.length) {
      this.dispatch({ type: 'chat_deleted', livestreamId: this.showId, messageIds: ev.deletedMessageIds });
    }
  }

  /** Enter show `id` (remembered: every reconnect rejoins it, resuming the chat). */
  join(id) {
    if (id !== this.showId) {
      this.showId = id;
      this.lastMessageId = 0;
    }
    if (this.open) this.sendJoin();
    else this.connect();
  }

  /** Rejoin now (e.g. to get a fresh peer id and new media offers); keeps the chat position. */
  rejoin() {
    if (this.open && this.showId !== null) this.sendJoin();
  }

  leave() {
    this.showId = null;
    this.lastMessageId = 0;
    this.send({ type: 'leave' });
  }

  sendJoin() {
    const msg = { type: 'join', livestreamId: this.showId };
    if (this.lastMessageId > 0) msg.afterMessageId = this.lastMessageId;
    this.send(msg);
  }

  send(msg) {
    if (!this.open) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }
}

export function wsUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}
