// The shoppers' page: `/` follows whatever show is live, `/live/{id}` a given show.
import { createApi, reportQuietly } from './api.js';
import { createChatView, newClientMessageId } from './chat-view.js';
import { $, formatCount, setText } from './dom.js';
import { createFigures } from './figures.js';
import { forgetGuest, loadGuest, saveGuest as storeGuest } from './guest.js';
import { Hub } from './hub.js';
import { createWatcher } from './media/index.js';
import { createPlayer } from './player.js';
import { createProductsView } from './products-view.js';
import { replayCard, replayHref } from './replay-card.js';

const app = $('#app');
const el = {
  banner: $('#conn-banner'),
  title: $('#show-title'),
  viewers: $('#viewer-count'),
  like: $('#like'),
  likeCount: $('#like-count'),
  mediaStatus: $('#media-status'),
  chatList: $('#chat-list'),
  chatNotice: $('#chat-notice'),
  nameForm: $('#name-form'),
  nameInput: $('#name-input'),
  chatForm: $('#chat-form'),
  chatInput: $('#chat-input'),
  endedShow: $('#ended-show'),
  endedReplay: $('#ended-replay'),
  endedNoReplay: $('#ended-no-replay'),
  replayLink: $('#replay-link'),
};

const pathMatch = location.pathname.match(/^\/live\/(\d+)\/?$/);
const fixedShowId = pathMatch ? Number(pathMatch[1]) : null;

let guest = loadGuest();
const api = createApi(() => guest && guest.token);
let config = { mediaMode: 'p2p', iceServers: [] };
let hub = null;
let show = null; // the show on screen
const figures = createFigures(); // the revision of each live figure on screen
let watcher = null;
let firstSnapshot = true;
let banned = false;
let noticeTimer = null;

const player = createPlayer($('#video'), $('#unmute'));
const chat = createChatView(el.chatList);
const products = createProductsView($('#product-list'), {
  onBuy: (product) => {
    if (show) reportQuietly(`/api/livestreams/${show.id}/product-clicks`, { productId: product.id }, guest && guest.token);
  },
});

function saveGuest(answer, named) {
  guest = storeGuest(answer, named);
}

async function ensureGuest() {
  if (!guest) saveGuest(await api.guest(), false);
}

function setState(state) {
  app.dataset.state = state;
  app.setAttribute('aria-busy', 'false');
}

function notice(text, { timeout = 6000 } = {}) {
  setText(el.chatNotice, text);
  clearTimeout(noticeTimer);
  if (timeout) noticeTimer = setTimeout(() => setText(el.chatNotice, ''), timeout);
}

function syncComposer() {
  const canChat = show && show.isActive && !banned;
  el.nameForm.hidden = !canChat || !!(guest && guest.named);
  el.chatForm.hidden = !canChat || !(guest && guest.named);
}

// -- media ------------------------------------------------------------------------------------

const MEDIA_TEXT = {
  waiting: "Waiting for the seller's video…",
  connecting: 'Connecting to the video…',
  reconnecting: 'Video connection lost — reconnecting…',
  playing: '',
};

function startMedia() {
  stopMedia();
  watcher = createWatcher(config.mediaMode, {
    hub,
    livestreamId: show.id,
    getToken: () => guest.token,
    iceServers: config.iceServers,
    onStream: (stream) => player.attach(stream),
    onState: (state) => {
      setText(el.mediaStatus, MEDIA_TEXT[state] ?? '');
      el.mediaStatus.hidden = state === 'playing';
    },
  });
  watcher.start();
}

function stopMedia() {
  if (watcher) watcher.stop();
  watcher = null;
  player.detach();
}

// -- show states -------------------------------------------------------------------------------

function goLive(stream) {
  const switching = !show || show.id !== stream.id;
  if (switching) figures.reset();
  show = stream;
  banned = false;
  setState('live');
  renderShow(stream);
  syncComposer();
  if (switching) {
    firstSnapshot = true;
    chat.reset([]);
    products.render(stream.pinnedProducts || []);
    hub.join(stream.id);
    startMedia();
  }
}

function renderShow(stream) {
  setText(el.title, stream.title);
  document.title = `${stream.title} — live`;
  if (typeof stream.likes === 'number') setText(el.likeCount, formatCount(stream.likes));
  if (typeof stream.viewerCount === 'number') setText(el.viewers, formatCount(stream.viewerCount));
}

function showEnded(stream, videoUrl) {
  stopMedia();
  if (stream) show = { ...stream, isActive: false };
  else if (show) show = { ...show, isActive: false };
  setState('ended');
  syncComposer();
  setText(el.endedShow, show ? `“${show.title}” is over.` : '');
  const recorded = !!(show && (show.isRecorded || videoUrl || show.videoUrl));
  el.endedReplay.hidden = !recorded;
  el.endedNoReplay.hidden = recorded;
  if (recorded) el.replayLink.href = replayHref(show);
  document.title = 'Show ended — liveshop';
}

async function showOffline() {
  stopMedia();
  show = null;
  setState('offline');
  document.title = 'Offline — liveshop';
  await loadReplays();
}

/** The latest recorded shows, under "We're offline". */
async function loadReplays() {
  try {
    const { livestreams } = await api.replays(6);
    $('#replay-list').replaceChildren(...livestreams.map(replayCard));
    $('#replays').hidden = livestreams.length === 0;
    $('#replays-none').hidden = livestreams.length > 0;
  } catch {
    // the replay list is a nicety; the page still works without it
  }
}

// -- hub events --------------------------------------------------------------------------------

function wireHub() {
  hub.on('status', ({ state, delay }) => {
    if (state === 'open' || state === 'connecting' || state === 'closed') {
      el.banner.hidden = true;
    } else if (state === 'reconnecting') {
      el.banner.hidden = false;
      setText(el.banner, delay ? `Connection lost — reconnecting in ${Math.ceil(delay / 1000)} s…` : 'Reconnecting…');
    } else if (state === 'banned') {
      el.banner.hidden = false;
      setText(el.banner, 'You were removed from this show.');
    }
  });
  hub.on('open', () => {});
  hub.on('snapshot', (ev) => {
    if (!show || ev.livestream.id !== show.id) return;
    el.banner.hidden = true;
    if (firstSnapshot) chat.reset(ev.recentChat);
    else chat.addMany(ev.recentChat);
    if (ev.chatTruncated) pageChat(show.id);
    firstSnapshot = false;
    figures.reset(ev.rev);
    products.render(ev.pinnedProducts);
    setText(el.likeCount, formatCount(ev.likes));
    setLiked(ev.liked);
    setText(el.viewers, formatCount(ev.viewerCount));
    if (!ev.livestream.isActive) showEnded(ev.livestream);
  });
  hub.on('chat_message', (ev) => chat.add(ev));
  hub.on('chat_deleted', (ev) => {
    if (show && ev.livestreamId === show.id) chat.remove(ev.messageIds);
  });
  hub.on('likes_update', (ev) => {
    if (show && ev.livestreamId === show.id && figures.take('likes', ev.rev)) setText(el.likeCount, formatCount(ev.likes));
  });
  hub.on('like_state', (ev) => {
    if (!show || ev.livestreamId !== show.id) return;
    setLiked(ev.liked);
    if (figures.take('likes', ev.rev)) setText(el.likeCount, formatCount(ev.likes));
  });
  hub.on('viewer_count', (ev) => {
    if (show && ev.livestreamId === show.id) setText(el.viewers, formatCount(ev.count));
  });
  hub.on('pinned_products_update', (ev) => {
    if (show && ev.livestreamId === show.id && figures.take('pins', ev.rev)) products.render(ev.pinnedProducts);
  });
  hub.on('slow_mode', (ev) => {
    if (show && ev.livestreamId === show.id && figures.take('slowMode', ev.rev)) notice(ev.seconds ? `Slow mode is on: one message every ${ev.seconds} s.` : 'Slow mode is off.');
  });
  hub.on('stream_started', (ev) => {
    if (fixedShowId === null || ev.livestream.id === fixedShowId) goLive(ev.livestream);
  });
  hub.on('stream_update', (ev) => {
    if (show && ev.livestream.id === show.id) {
      if (!figures.take('show', ev.rev)) return;
      // the show as of ev.rev: its likes only if not older than those shown; viewers come from viewer_count
      const { viewerCount, likes, ...fields } = ev.livestream;
      show = { ...show, ...fields, ...(figures.take('likes', ev.rev) ? { likes } : {}) };
      if (show.isActive) renderShow(show);
      else showEnded(show); // e.g. the recording is ready: offer the replay
    } else if (!show && app.dataset.state === 'offline' && ev.livestream.isRecorded) {
      loadReplays();
    }
  });
  hub.on('stream_ended', (ev) => {
    if (show && ev.livestreamId === show.id && figures.take('show', ev.rev)) showEnded(null, ev.videoUrl);
  });
  hub.on('error', (ev) => {
    const message = errorText(ev);
    if (ev.ref) chat.fail(ev.ref, message);
    if (ev.code === 'banned') {
      banned = true;
      syncComposer();
    }
    if (ev.code !== 'not_found' || ev.ref) notice(message);
  });
  hub.on('banned', () => {
    banned = true;
    stopMedia();
    syncComposer();
    setText(el.mediaStatus, 'You were removed from this show.');
    el.mediaStatus.hidden = false;
  });
  hub.on('unauthorized', async () => {
    // the guest token expired or the key changed: start over with a new guest identity
    const name = guest && guest.named ? guest.user.name : null;
    guest = null;
    forgetGuest();
    try {
      saveGuest(await api.guest(name), !!name);
      hub.setToken(guest.token);
      hub.connect();
    } catch {
      setText(el.banner, 'Could not reconnect: reload the page.');
    }
  });
}

function errorText(ev) {
  switch (ev.code) {
    case 'rate_limited':
      return `You're sending messages too fast — try again in ${Math.max(1, Math.ceil(ev.retryAfter || 1))} s.`;
    case 'slow_mode':
      return `Slow mode — you can send again in ${Math.max(1, Math.ceil(ev.retryAfter || 1))} s.`;
    case 'banned':
      return 'You were removed from this show and cannot chat.';
    case 'not_live':
      return 'The show is not live.';
    default:
      return ev.message || 'Something went wrong.';
  }
}

async function pageChat(id) {
  try {
    for (;;) {
      const { messages } = await api.chatAfter(id, hub.lastMessageId, 500);
      chat.addMany(messages);
      for (const m of messages) hub.lastMessageId = Math.max(hub.lastMessageId, m.id);
      if (messages.length < 500) break;
    }
  } catch {
    notice('Some older messages could not be loaded.');
  }
}

function setLiked(liked) {
  el.like.setAttribute('aria-pressed', liked ? 'true' : 'false');
  el.like.setAttribute('aria-label', liked ? 'Unlike' : 'Like');
}

// -- user actions ------------------------------------------------------------------------------

el.like.addEventListener('click', () => {
  if (!hub.send({ type: 'like_toggle' })) notice('Not connected — try again in a moment.');
});

el.nameForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = el.nameInput.value.trim();
  if (!name) return;
  try {
    saveGuest(await api.guest(name), true);
  } catch (err) {
    notice(`Could not set your name: ${err.message}`);
    return;
  }
  syncComposer();
  hub.setToken(guest.token); // the name lives in the token: reconnect (the chat resumes where it was)
  el.chatInput.focus();
});

el.chatForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = el.chatInput.value.trim();
  if (!text || !show) return;
  const clientMessageId = newClientMessageId();
  if (!hub.send({ type: 'chat_send', text, clientMessageId })) {
    notice('Not connected — your message was not sent.');
    return;
  }
  chat.addPending(clientMessageId, text, guest.user);
  el.chatInput.value = '';
});

// -- start -------------------------------------------------------------------------------------

async function main() {
  try {
    [config] = await Promise.all([api.config(), ensureGuest()]);
  } catch (err) {
    setState('offline');
    setText($('#offline-title'), 'The service cannot be reached');
    setText($('#offline .lead'), 'Check your connection and reload the page.');
    return;
  }
  hub = new Hub({ token: guest.token });
  wireHub();
  hub.connect();
  try {
    if (fixedShowId !== null) {
      const { livestream } = await api.show(fixedShowId);
      if (livestream.isActive) goLive(livestream);
      else showEnded(livestream);
    } else {
      const { livestream } = await api.activeShow();
      if (livestream) goLive(livestream);
      else await showOffline();
    }
  } catch (err) {
    if (err.status === 404) {
      setState('offline');
      setText($('#offline-title'), 'There is no such show');
      setText($('#offline .lead'), 'The link may be wrong.');
    } else {
      setState('offline');
      setText($('#offline .lead'), `Could not load the show: ${err.message}`);
    }
  }
}

main();
