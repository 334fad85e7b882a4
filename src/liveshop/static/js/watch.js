// The shoppers' page: `/` follows whatever show is live, `/live/{id}` a given show; `/embed/live`
// and `/embed/{id}` are the same page framed by a shop's site (shop-bridge.js talks to it).
import { createApi, reportQuietly } from './api.js';
import { createChatStatus, describeRefusal } from './chat-status.js';
import { createChatView, newClientMessageId } from './chat-view.js';
import { $, formatCount, setText } from './dom.js';
import { createFigures } from './figures.js';
import { forgetGuest, loadGuest, obtainGuest, saveGuest as storeGuest } from './guest.js';
import { Hub } from './hub.js';
import { createWatcher } from './media/index.js';
import { createPlayer } from './player.js';
import { createProductsView } from './products-view.js';
import { replayCard, replayHref } from './replay-card.js';
import { createShopBridge } from './shop-bridge.js';
import { createUpcomingView } from './upcoming-view.js';
import { followVideoAspect } from './video-aspect.js';

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

const pathMatch = location.pathname.match(/^\/(?:live|embed)\/(\d+)\/?$/);
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
let likePending = false; // a like_toggle is on its way: a refusal without a ref answers it

const player = createPlayer($('#video'), $('#unmute'));
followVideoAspect($('#video'), app);
const bridge = createShopBridge();
const upcoming = createUpcomingView({ root: $('#upcoming'), next: $('#next-show'), api });
const chat = createChatView(el.chatList);
const chatStatus = createChatStatus($('#chat-wait'), { onDone: () => notice('You can chat now.') });
const products = createProductsView($('#product-list'), {
  onBuy: (product, event) => {
    if (show) reportQuietly(`/api/livestreams/${show.id}/product-clicks`, { productId: product.id }, guest && guest.token);
    bridge.buy(product, event); // embedded: the host page's cart takes it
  },
});

function saveGuest(answer, named) {
  guest = storeGuest(answer, named);
}

/** While the server refuses new guest ids from this network (429), say so on the page. */
const offlineText = [$('#offline-title').textContent, $('#offline .lead').textContent];
function waitingForGuest(seconds) {
  if (!seconds) {
    setText($('#offline-title'), offlineText[0]);
    setText($('#offline .lead'), offlineText[1]);
    return;
  }
  setState('offline');
  setText($('#offline-title'), 'Just a moment');
  setText($('#offline .lead'), `Many new shoppers are joining from your network right now. Trying again in ${seconds} s…`);
}

async function ensureGuest() {
  if (!guest) saveGuest(await obtainGuest(api, null, { onWait: waitingForGuest }), false);
}

function setState(state) {
  app.dataset.state = state;
  app.setAttribute('aria-busy', 'false');
  bridge.state({ state, livestreamId: show ? show.id : fixedShowId, title: show ? show.title : null });
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
  audio_only: 'Audio only — your connection is too slow for video right now. The picture comes back by itself.',
  playing: '',
};

function startMedia() {
  stopMedia();
  try {
    watcher = createWatcher(config.mediaMode, {
      hub,
      livestreamId: show.id,
      getToken: () => guest.token,
      iceServers: config.iceServers,
      onStream: (stream) => player.attach(stream),
      video: $('#video'), // the player's size picks the simulcast layer
      onState: (state) => {
        setText(el.mediaStatus, MEDIA_TEXT[state] ?? '');
        el.mediaStatus.hidden = state === 'playing';
      },
    });
  } catch (err) {
    // no video on this page, but the chat, pins, likes and Buy still work
    setText(el.mediaStatus, `The video cannot play here: ${err.message}`);
    el.mediaStatus.hidden = false;
    return;
  }
  watcher.start();
}

function stopMedia() {
  if (watcher) watcher.stop();
  watcher = null;
  player.detach();
}

// -- show states -------------------------------------------------------------------------------

function goLive(stream) {
  upcoming.stop();
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
  chatStatus.stop();
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
  upcoming.loadNext();
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
    chatStatus.joined(ev.newShopperWait);
    if (ev.newShopperWait) notice(`New shoppers can chat after watching for ${describeWait(ev.newShopperWait)}.`);
    if (!ev.livestream.isActive) showEnded(ev.livestream);
  });
  hub.on('new_shopper_wait', (ev) => {
    if (!show || ev.livestreamId !== show.id) return;
    chatStatus.waitChanged(ev.seconds);
    notice(ev.seconds ? `New shoppers can chat after watching for ${describeWait(ev.seconds)}.` : 'New shoppers can chat at once.');
  });
  hub.on('chat_message', (ev) => chat.add(ev));
  hub.on('chat_deleted', (ev) => {
    if (show && ev.livestreamId === show.id) chat.remove(ev.messageIds);
  });
  hub.on('likes_update', (ev) => {
    if (show && ev.livestreamId === show.id && figures.take('likes', ev.rev)) setText(el.likeCount, formatCount(ev.likes));
  });
  hub.on('like_state', (ev) => {
    likePending = false;
    if (!show || ev.livestreamId !== show.id) return;
    setLiked(ev.liked);
    if (figures.take('likes', ev.rev)) setText(el.likeCount, formatCount(ev.likes));
  });
  hub.on('viewer_count', (ev) => {
    if (!show || ev.livestreamId !== show.id) return;
    setText(el.viewers, formatCount(ev.count));
    bridge.state({ viewers: ev.count });
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
    const like = likePending && !ev.ref;
    if (like) likePending = false;
    const message = describeRefusal(ev, { like });
    if (ev.ref) chat.fail(ev.ref, ev.code === 'blocked' ? ev.message : ev.code === 'too_new' ? `you can chat in ${Math.max(1, Math.ceil(ev.retryAfter || 1))} s` : message);
    if (ev.code === 'too_new' && !like) chatStatus.tooNew(ev.retryAfter);
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
      saveGuest(await obtainGuest(api, name, { onWait: (s) => s && setText(el.banner, `Reconnecting: many new shoppers are joining from your network — trying again in ${s} s…`) }), !!name);
      hub.setToken(guest.token);
      hub.connect();
    } catch {
      setText(el.banner, 'Could not reconnect: reload the page.');
    }
  });
}

function describeWait(seconds) {
  return seconds >= 120 ? `${seconds / 60} min` : `${seconds} s`;
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
  if (hub.send({ type: 'like_toggle' })) likePending = true;
  else notice('Not connected — try again in a moment.');
});

el.nameForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = el.nameInput.value.trim();
  if (!name) return;
  try {
    saveGuest(await api.guest(name), true);
  } catch (err) {
    notice(nameRefusal(err), { timeout: 0 });
    el.nameInput.focus();
    return;
  }
  syncComposer();
  hub.setToken(guest.token); // the name lives in the token: reconnect (the chat resumes where it was)
  el.chatInput.focus();
});

function nameRefusal(err) {
  if (err.status === 422) {
    const first = Array.isArray(err.detail) ? err.detail[0] : null;
    const why = first && first.msg ? first.msg.replace(/^Value error, /, '') : err.message;
    return `That name cannot be used (${why}): pick another.`;
  }
  if (err.status === 429) return `Too many new shoppers from your network right now — try again in ${Math.max(1, Math.ceil(err.retryAfter || 10))} s.`;
  return `Could not set your name: ${err.message}`;
}

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
    bridge.allow(config.embedOrigins);
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
      else if (livestream.status === 'upcoming') {
        setState('upcoming');
        upcoming.show(livestream);
      } else showEnded(livestream);
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
