// The sellers' studio: log in, set up camera and microphone, go live, run the show, end it.
// Moderators log in here too and get the show's chat and its moderation only.
import { ApiError, createApi } from './api.js';
import { createChatRulesPanel } from './chat-rules-panel.js';
import { createChatView, newClientMessageId } from './chat-view.js';
import { createDevices } from './devices.js';
import { $, confirmDialog, formatCount, formatDuration, formatPrice, h, safeUrl, setText } from './dom.js';
import { createFigures } from './figures.js';
import { Hub } from './hub.js';
import { createPhoneStudio } from './phone-studio.js';
import { updateLayers } from './layer-panel.js';
import { createPublisher, WhipUnavailable } from './media/index.js';
import { completeEarlierPart, createShowRecorder } from './recording.js';
import { mountHighlightCutter } from './highlight-cutter.js';
import { watchRendition } from './replay-progress.js';
import { createModerationPanel } from './moderation-panel.js';
import { mountRecordingStatus } from './recording-status.js';
import { renderReport } from './report-view.js';
import { createStreamKeyPanel } from './stream-key-panel.js';
import { createEmbedPanel } from './embed-panel.js';
import { createSchedulePanel } from './schedule-panel.js';
import { createTeamPanel } from './team-panel.js';
import { uploadThumbnail } from './thumbnail.js';

const TOKEN_KEY = 'liveshop.seller';

let token = sessionStorage.getItem(TOKEN_KEY);
let user = null;
const api = createApi(() => token);
let config = { mediaMode: 'p2p', iceServers: [] };
let hub = null;
let show = null; // the show this studio runs
let publisher = null;
let pins = [];
let catalogue = [];
const chatSeen = new Set(); // ids of the show's messages, for the summary
let peak = 0;
let likes = 0;
const figures = createFigures(); // the revision of each live figure on screen
let firstSnapshot = true;
let timer = null;
let statsTimer = null;
let activeElsewhere = null;
let recording = null; // this tab's recording of the show (p2p)
let thumbnailTimer = null;

const STAFF_ROLES = ['admin', 'moderator'];
const isSeller = () => !!user && user.role === 'admin';

const moderation = createModerationPanel({
  api,
  getHub: () => hub,
  getShow: () => show,
  say: (text) => setText($('#chat-notice'), text),
  takeFigure: (key, rev) => figures.take(key, rev), // an older slow mode never wins
});
const chatRules = createChatRulesPanel($('#chat-rules'), { api });
const team = createTeamPanel($('#team-panel'), { api });
const streamKey = createStreamKeyPanel($('#stream-key-panel'), { api });
const schedule = createSchedulePanel($('#schedule-panel'), { api, goLive: (s) => goLiveWith(() => api.post(`/api/livestreams/${s.id}/go-live`)).then(() => schedule.load()) });
createEmbedPanel($('#embed-panel'), { api });
const chat = createChatView($('#chat-list'), {
  moderation: {
    onDelete: (msg) => hub.send({ type: 'chat_delete', messageId: msg.id }),
    onBan: (msg) => moderation.ban(msg),
  },
});

const devices = createDevices({
  video: $('#preview'),
  cameraSelect: $('#camera'),
  micSelect: $('#mic'),
  qualitySelect: $('#quality'),
  meter: $('#meter'),
  problem: $('#camera-problem'),
  problemMessage: $('#camera-problem-text'),
  retry: $('#camera-retry'),
  onChange: (stream) => {
    if (stream && publisher) publisher.replaceStream(stream).catch(() => {});
    if (stream) phone.camerasChanged();
  },
});
const phone = createPhoneStudio({ devices });

// -- log-in ------------------------------------------------------------------------------------

function showLogin(message = '') {
  $('#login-view').hidden = false;
  $('#studio-view').hidden = true;
  $('#logout').hidden = true;
  setText($('#who'), '');
  setText($('#login-error'), message);
  $('#email').focus();
}

$('#login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  setText($('#login-error'), '');
  const button = e.submitter || $('#login-form button');
  button.disabled = true;
  try {
    const answer = await api.login($('#email').value.trim(), $('#password').value);
    if (!STAFF_ROLES.includes(answer.user.role)) {
      showLogin('This account is not a seller or moderator account.');
      return;
    }
    token = answer.accessToken;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('#password').value = '';
    await enterStudio(answer.user);
  } catch (err) {
    setText($('#login-error'), err.status === 401 ? 'Wrong e-mail or password.' : err.status === 429 ? 'Too many attempts: wait a minute and try again.' : err.message);
  } finally {
    button.disabled = false;
  }
});

$('#logout').addEventListener('click', async () => {
  if (show && show.isActive) {
    const ok = await confirmDialog({ title: 'Log out while live?', body: 'Your show keeps running without video until you come back and open it, or end it.', confirm: 'Log out' });
    if (!ok) return;
  }
  if (recording) {
    // upload what was recorded before the token goes; a reopened studio completes it at the end
    setText($('#rec-status'), 'Saving the recording before logging out…');
    await Promise.race([recording.drain(), new Promise((resolve) => setTimeout(resolve, 15000))]);
    recording = null;
  }
  stopLive();
  moderation.setShow(null);
  streamKey.clear();
  phone.setStage('setup');
  if (hub) hub.close();
  hub = null;
  devices.release();
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  show = null;
  $('#catalogue-link').hidden = true;
  showLogin();
});

async function enterStudio(me) {
  user = me;
  $('#login-view').hidden = true;
  $('#studio-view').hidden = false;
  $('#logout').hidden = false;
  $('#catalogue-link').hidden = me.role !== 'admin'; // the catalogue page (catalogue.js)
  setText($('#who'), isSeller() ? me.name : `${me.name} (moderator)`);
  $('#studio-view').dataset.role = me.role;
  phone.setRole(me.role);
  config = await api.config();
  hub = new Hub({ token });
  wireHub();
  hub.connect();
  phone.setStage('setup');
  if (!isSeller()) return followShow();
  devices.open();
  loadCatalogue('');
  chatRules.load();
  team.load();
  streamKey.load();
  schedule.load();
  await checkActive();
}

/** A moderator's studio follows the live show: its chat opens when it starts. */
async function followShow() {
  const { livestream } = await api.activeShow();
  if (livestream) startLive(livestream);
  else $('#staff-idle').hidden = false;
}

// -- setup and going live ----------------------------------------------------------------------

async function checkActive() {
  const { livestream } = await api.activeShow();
  activeElsewhere = livestream;
  const box = $('#active-notice');
  if (!livestream || (show && show.id === livestream.id)) {
    box.hidden = true;
    return;
  }
  setText($('#active-notice-text'), `A show is live right now: “${livestream.title}”. Open it here to continue it, or stop it to start a new one.`);
  box.hidden = false;
}

$('#open-active').addEventListener('click', async () => {
  if (!activeElsewhere) return;
  if (!devices.stream && !(await devices.open())) {
    setText($('#show-error'), 'Your camera is needed to continue the show.');
    return;
  }
  $('#active-notice').hidden = true;
  startLive(activeElsewhere, { resumed: true });
});

$('#stop-active').addEventListener('click', async () => {
  if (!activeElsewhere) return;
  const ok = await confirmDialog({ title: `Stop “${activeElsewhere.title}”?`, body: 'Shoppers watching it will see that it ended.', confirm: 'Stop it', danger: true });
  if (!ok) return;
  try {
    await api.stopShow(activeElsewhere.id);
    $('#active-notice').hidden = true;
    setText($('#show-error'), 'That show is stopped. You can go live now.');
  } catch (err) {
    setText($('#show-error'), `Could not stop it: ${err.message}`);
  }
});

$('#show-form').addEventListener('submit', (e) => {
  e.preventDefault();
  goLiveWith(() => api.createShow({ title: $('#title').value.trim(), description: $('#description').value.trim(), quality: devices.quality }));
});

/** Go live with the show `start()` creates (a new one, or a scheduled one turned live). */
async function goLiveWith(start) {
  setText($('#show-error'), '');
  if (!devices.stream) {
    setText($('#show-error'), 'Your camera is not ready: fix it above (Retry), then go live.');
    return;
  }
  const button = $('#go-live');
  button.disabled = true;
  try {
    // only one show can be live: say so (and offer to open or stop it) instead of failing
    await checkActive();
    if (activeElsewhere) return;
    const { livestream } = await start();
    startLive(livestream);
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) await checkActive();
    else if (err instanceof ApiError && err.status === 401) showLogin('Your session expired: log in again.');
    else setText($('#show-error'), `Could not go live: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

function startLive(livestream, { resumed = false } = {}) {
  show = livestream;
  figures.reset();
  firstSnapshot = true;
  chatSeen.clear();
  peak = livestream.peakViewers || 0;
  likes = livestream.likes || 0;
  $('#setup').hidden = true;
  $('#summary').hidden = true;
  $('#staff-idle').hidden = true;
  $('#live-panel').hidden = false;
  $('#chat-panel').hidden = false;
  $('#catalogue-panel').hidden = false;
  $('#health-box').hidden = false;
  $('#studio-view').classList.add('live-layout');
  phone.setStage('live');
  const badge = $('#live-indicator');
  badge.className = 'badge live';
  setText(badge, 'LIVE');
  setText($('#live-show-title'), livestream.title);
  setText($('#likes'), formatCount(likes));
  setText($('#peak'), formatCount(peak));
  setText($('#publish-status'), 'Connecting…');
  chat.reset([]);
  renderPins(livestream.pinnedProducts || []);
  const started = Date.parse(livestream.startTime) || Date.now();
  const tick = () => setText($('#elapsed'), formatDuration((Date.now() - started) / 1000));
  tick();
  clearInterval(timer);
  timer = setInterval(() => {
    tick();
    if (recording) renderRecording(recording.state);
  }, 1000);
  moderation.setShow(livestream);
  if (isSeller()) startRecording(livestream, resumed);
  hub.join(livestream.id);
}

// -- recording (p2p: the studio records its own stream and uploads it while live) ---------------

async function startRecording(livestream, resumed) {
  recording = null;
  setText($('#rec-error'), '');
  const status = $('#rec-status');
  status.hidden = config.mediaMode !== 'p2p';
  if (config.mediaMode !== 'p2p') return; // a server forwards the media and records the show
  let startOffsetSeconds; // the first part starts with the show; a later one says where
  if (resumed) {
    // what the earlier tab recorded becomes a part of its own; this tab records the next one
    status.dataset.state = 'resumed';
    setText(status, 'Saving the part recorded before…');
    await completeEarlierPart(api, livestream.id).catch((err) => setText($('#rec-error'), `The part recorded before could not be saved: ${err.message}`));
    if (!show || show.id !== livestream.id) return; // ended meanwhile
    startOffsetSeconds = Math.max(0, (Date.now() - Date.parse(livestream.startTime)) / 1000) || undefined;
  }
  const rec = createShowRecorder({ api, id: livestream.id, stream: devices.stream, onChange: renderRecording, startOffsetSeconds });
  if (!rec.supported) {
    status.dataset.state = 'unsupported';
    setText($('#rec-error'), 'This browser cannot record the show (no WebM MediaRecorder): there will be no replay.');
    return;
  }
  try {
    rec.start();
    recording = rec;
  } catch (err) {
    setText($('#rec-error'), `Recording could not start: ${err.message}`);
  }
}

function describeRecording(s) {
  const mb = (s.uploadedBytes / 1e6).toFixed(1);
  switch (s.state) {
    case 'recording':
      return `● Recording ${formatDuration(s.seconds)} · ${s.uploaded} of ${s.chunks} parts uploaded (${mb} MB)`;
    case 'stopping':
    case 'uploading':
      return `Saving the recording… ${s.pendingChunks} part${s.pendingChunks === 1 ? '' : 's'} left to upload`;
    case 'completing':
      return 'Preparing the replay…';
    case 'done':
      return `Recording saved (${formatDuration(s.seconds)}, ${mb} MB).`;
    case 'failed':
      return 'The recording could not be saved.';
    default:
      return '';
  }
}

function renderRecording(s) {
  for (const el of [$('#rec-status'), $('#rec-summary')]) {
    el.dataset.state = s.state;
    el.dataset.seconds = String(Math.floor(s.seconds));
    el.dataset.uploaded = String(s.uploaded);
    setText(el, describeRecording(s));
  }
  const problem = s.problem ? s.problem.message : '';
  setText($('#rec-error'), problem);
  setText($('#rec-summary-error'), problem);
}

/** After the show: upload what is left, complete, then point the replay link at the replay. */
async function finishRecording(ended) {
  const rec = recording;
  recording = null;
  const box = $('#rec-summary');
  if (rec) {
    box.hidden = false;
    renderRecording(rec.state);
    try {
      return await rec.finish();
    } catch {
      return null; // the reason is on screen (renderRecording)
    }
  }
  return null;
}

function scheduleThumbnail(id) {
  clearTimeout(thumbnailTimer);
  // a few seconds in, the seller is in the picture: that frame is the show's thumbnail
  thumbnailTimer = setTimeout(() => {
    if (!show || show.id !== id) return;
    uploadThumbnail(api, id, $('#preview')).catch((err) => console.warn('thumbnail upload failed:', err.message));
  }, 3000);
}

async function startPublishing() {
  if (publisher || !show) return;
  try {
    publisher = createPublisher(config.mediaMode, {
      hub,
      livestreamId: show.id,
      getToken: () => token,
      iceServers: config.iceServers,
      simulcast: Boolean(config.simulcast),
      videoCodec: config.videoCodec || 'vp8',
      onState: (state) => setText($('#publish-status'), state === 'live' ? 'Your video is live.' : state === 'reconnecting' ? 'Video connection lost — reconnecting…' : 'Connecting…'),
    });
  } catch (err) {
    setText($('#publish-status'), `Video cannot start: ${err.message}`); // the chat and pins still work
    return;
  }
  scheduleThumbnail(show.id);
  try {
    await publisher.start(devices.stream);
    if (config.mediaMode === 'p2p') setText($('#publish-status'), 'Your video is live (each shopper connects to you directly).');
  } catch (err) {
    setText($('#publish-status'), err instanceof WhipUnavailable ? 'This server cannot receive video yet (WHIP is not available).' : `Video could not start: ${err.message}`);
  }
  clearInterval(statsTimer);
  statsTimer = setInterval(updateHealth, 2000);
}

async function updateHealth() {
  const current = publisher;
  if (!current) return;
  const s = await current.stats().catch(() => null);
  if (!s || publisher !== current) return; // the show ended (or restarted) meanwhile
  if (config.simulcast && show) updateLayers(api, show.id, $('#layers')).then(() => { $('#layers-stat').hidden = $('#layers').hidden; });
  const connected = current.viewerConnections;
  const kbps = s.bitrateKbps;
  setText($('#bitrate'), kbps === null ? 'measuring…' : kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbit/s` : `${kbps} kbit/s`);
  setText($('#loss'), `${s.packetLoss.toFixed(1)} %`);
  const health = $('#health');
  if (s.peers === 0) {
    health.className = '';
    setText(health, config.mediaMode === 'p2p' ? 'no viewers yet' : 'not connected');
    return;
  }
  const quality = s.packetLoss < 2 ? 'good' : s.packetLoss < 5 ? 'fair' : 'poor';
  health.className = `health-${quality}`;
  setText(health, connected === null ? quality : `${quality} · ${connected} peer${connected === 1 ? '' : 's'}`);
}

window.addEventListener('beforeunload', (e) => {
  // chunks not uploaded yet would be lost with the tab
  const s = recording && recording.state;
  if (s && (s.state === 'recording' || s.pendingChunks > 0)) {
    e.preventDefault();
    e.returnValue = '';
  }
});

function stopLive() {
  clearInterval(timer);
  clearInterval(statsTimer);
  clearTimeout(thumbnailTimer);
  if (publisher) publisher.stop();
  publisher = null;
  if (hub) hub.leave();
  const badge = $('#live-indicator');
  badge.className = 'badge off';
  setText(badge, 'OFFLINE');
}

// -- ending ------------------------------------------------------------------------------------

$('#end-show').addEventListener('click', async () => {
  if (!show) return;
  const ok = await confirmDialog({ title: 'End the show?', body: 'Video stops for every shopper and the pins are cleared.', confirm: 'End show', danger: true });
  if (!ok) return;
  try {
    // the recording ends before the show does, so what was on screen at the end is in the replay
    if (recording) await recording.stop();
    const { livestream } = await api.stopShow(show.id);
    showSummary(livestream);
  } catch (err) {
    setText($('#publish-status'), `Could not end the show: ${err.message}`);
  }
});

function showSummary(livestream) {
  const ended = { ...show, ...livestream };
  stopLive();
  show = null;
  moderation.setShow(null);
  $('#live-panel').hidden = true;
  $('#chat-panel').hidden = true;
  $('#catalogue-panel').hidden = true;
  $('#health-box').hidden = true;
  $('#studio-view').classList.remove('live-layout');
  phone.setStage('summary');
  if (!isSeller()) {
    $('#staff-idle').hidden = false;
    return;
  }
  $('#summary').hidden = false;
  setText($('#sum-title'), ended.title);
  const seconds = ended.durationSeconds ?? (Date.parse(ended.endTime || new Date().toISOString()) - Date.parse(ended.startTime)) / 1000;
  setText($('#sum-duration'), formatDuration(seconds || 0));
  setText($('#sum-peak'), formatCount(Math.max(peak, ended.peakViewers || 0)));
  setText($('#sum-likes'), formatCount(Math.max(likes, ended.likes || 0)));
  setText($('#sum-chat'), formatCount(chatSeen.size));
  $('#rec-summary').hidden = true;
  setText($('#rec-summary-error'), '');
  setReplayLink(ended);
  watchRendition(api, ended.id, $('#mp4-status'));
  mountHighlightCutter(api, ended.id, $('#highlights'));
  loadReport(ended.id);
  $('#summary-title').focus?.();
  finishRecording(ended).then((livestream) => {
    if (livestream) setReplayLink(livestream);
  });
}

function setReplayLink(livestream) {
  const link = $('#replay-link');
  const recorded = livestream.isRecorded || !!livestream.videoUrl;
  link.href = recorded ? `/replays/${livestream.id}` : `/live/${livestream.id}`;
  setText(link, recorded ? 'Watch the replay' : 'Replay page (the recording appears there once it is ready)');
}

async function loadReport(id) {
  const box = $('#report');
  box.replaceChildren(h('p', { class: 'muted', text: 'Loading the report…' }));
  try {
    renderReport(box, await api.report(id));
  } catch (err) {
    box.replaceChildren(h('p', { class: 'error', text: `The report could not be loaded: ${err.message}` }));
  }
}

$('#new-show').addEventListener('click', () => {
  $('#summary').hidden = true;
  phone.setStage('setup');
  $('#setup').hidden = false;
  $('#title').value = '';
  $('#description').value = '';
  $('#title').focus();
  checkActive().catch(() => {});
});

// -- chat and moderation -----------------------------------------------------------------------

$('#chat-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('#chat-input');
  const text = input.value.trim();
  if (!text) return;
  const clientMessageId = newClientMessageId();
  if (!hub.send({ type: 'chat_send', text, clientMessageId })) {
    setText($('#chat-notice'), 'Not connected — message not sent.');
    return;
  }
  chat.addPending(clientMessageId, text, user);
  input.value = '';
});

// -- catalogue and pins ------------------------------------------------------------------------

let searchTimer = null;
$('#product-search').addEventListener('input', (e) => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => loadCatalogue(e.target.value.trim()), 250);
});

async function loadCatalogue(q) {
  try {
    const { products } = await api.products(q, 100);
    catalogue = products;
    setText($('#catalogue-error'), '');
    renderCatalogue();
  } catch (err) {
    setText($('#catalogue-error'), `Could not load the catalogue: ${err.message}`);
  }
}

const thumbnails = new Map(); // image URL → <img>, reused so re-rendering does not flicker
function thumbnail(src) {
  if (!thumbnails.has(src)) thumbnails.set(src, h('img', { src, alt: '', width: 40, height: 40 }));
  return thumbnails.get(src);
}

function renderCatalogue() {
  const pinned = new Set(pins.map((p) => p.id));
  const items = catalogue.map((p) => {
    const isPinned = pinned.has(p.id);
    const image = safeUrl(p.imageUrl);
    return h(
      'li',
      { class: `catalogue-item${isPinned ? ' pinned' : ''}`, dataset: { productId: String(p.id) } },
      image ? thumbnail(image) : null,
      h('span', { class: 'name', text: p.name }),
      h('span', { class: 'muted', text: formatPrice(p.price, p.currency) }),
      h('button', {
        type: 'button',
        class: isPinned ? 'unpin' : 'pin primary',
        text: isPinned ? 'Unpin' : 'Pin',
        'aria-pressed': isPinned ? 'true' : 'false',
        'aria-label': `${isPinned ? 'Unpin' : 'Pin'} ${p.name}`,
        onclick: () => togglePin(p, isPinned),
      }),
    );
  });
  $('#catalogue-list').replaceChildren(...items);
  if (catalogue.length === 0) $('#catalogue-list').append(h('li', { class: 'muted', text: 'No products match.' }));
}

function renderPins(list) {
  pins = list;
  $('#pinned-list').replaceChildren(
    ...list.map((p) =>
      h(
        'li',
        { dataset: { productId: String(p.id) } },
        h('span', { text: `${p.name} · ${formatPrice(p.price, p.currency)} ` }),
        h('button', { type: 'button', class: 'unpin', text: 'Unpin', 'aria-label': `Unpin ${p.name}`, onclick: () => togglePin(p, true) }),
      ),
    ),
  );
  $('#pinned-empty').hidden = list.length > 0;
  phone.setPinned(list);
  renderCatalogue();
}

async function togglePin(product, isPinned) {
  if (!show) return;
  try {
    const { pinnedProducts } = isPinned ? await api.unpin(show.id, product.id) : await api.pin(show.id, product.id);
    renderPins(pinnedProducts);
  } catch (err) {
    setText($('#catalogue-error'), `Could not ${isPinned ? 'unpin' : 'pin'} ${product.name}: ${err.message}`);
  }
}

// -- hub ---------------------------------------------------------------------------------------

function wireHub() {
  moderation.wire(hub);
  mountRecordingStatus(hub, $('#rec-status'));
  hub.on('status', ({ state }) => {
    if (state === 'reconnecting' && show) setText($('#chat-notice'), 'Connection to the service lost — reconnecting…');
    if (state === 'open') setText($('#chat-notice'), '');
  });
  hub.on('unauthorized', () => {
    stopLive();
    sessionStorage.removeItem(TOKEN_KEY);
    token = null;
    showLogin('Your session expired: log in again.');
  });
  hub.on('snapshot', (ev) => {
    if (!show || ev.livestream.id !== show.id) return;
    if (!ev.livestream.isActive) {
      showSummary(ev.livestream);
      return;
    }
    if (firstSnapshot) chat.reset(ev.recentChat);
    else chat.addMany(ev.recentChat);
    ev.recentChat.forEach((m) => chatSeen.add(m.id));
    firstSnapshot = false;
    figures.reset(ev.rev);
    renderPins(ev.pinnedProducts);
    likes = ev.likes;
    peak = Math.max(peak, ev.peakViewers);
    setText($('#likes'), formatCount(likes));
    setText($('#viewers'), formatCount(ev.viewerCount));
    setText($('#peak'), formatCount(peak));
    if (isSeller()) startPublishing();
  });
  hub.on('chat_message', (ev) => {
    chat.add(ev);
    chatSeen.add(ev.id);
  });
  hub.on('chat_deleted', (ev) => {
    if (show && ev.livestreamId === show.id) chat.remove(ev.messageIds);
  });
  hub.on('likes_update', (ev) => {
    if (!show || ev.livestreamId !== show.id || !figures.take('likes', ev.rev)) return;
    likes = ev.likes;
    setText($('#likes'), formatCount(likes));
  });
  hub.on('viewer_count', (ev) => {
    if (!show || ev.livestreamId !== show.id) return;
    peak = Math.max(peak, ev.peak);
    setText($('#viewers'), formatCount(ev.count));
    setText($('#peak'), formatCount(peak));
  });
  hub.on('pinned_products_update', (ev) => {
    if (show && ev.livestreamId === show.id && figures.take('pins', ev.rev)) renderPins(ev.pinnedProducts);
  });
  hub.on('stream_ended', async (ev) => {
    if (show && ev.livestreamId === show.id) {
      const { livestream } = await api.show(ev.livestreamId).catch(() => ({ livestream: { id: ev.livestreamId, videoUrl: ev.videoUrl } }));
      if (show && show.id === ev.livestreamId) showSummary(livestream);
    } else if (!show && isSeller()) {
      checkActive().catch(() => {});
    }
  });
  hub.on('stream_started', (ev) => {
    if (show) return;
    if (isSeller()) checkActive().catch(() => {});
    else startLive(ev.livestream);
  });
  hub.on('error', (ev) => {
    if (ev.ref) chat.fail(ev.ref, ev.message);
    // signalling to a shopper who just left answers not_found: nothing for the seller to do
    if (!ev.ref && ev.code === 'not_found' && publisher) return;
    setText($('#chat-notice'), ev.message || ev.code);
  });
}

// -- start -------------------------------------------------------------------------------------

async function main() {
  if (!token) {
    showLogin();
    return;
  }
  try {
    const { user: me } = await api.me();
    if (!STAFF_ROLES.includes(me.role)) {
      sessionStorage.removeItem(TOKEN_KEY);
      token = null;
      showLogin('This account is not a seller or moderator account.');
      return;
    }
    await enterStudio(me);
  } catch (err) {
    sessionStorage.removeItem(TOKEN_KEY);
    token = null;
    showLogin(err.status === 401 ? '' : err.message);
  }
}

main();
