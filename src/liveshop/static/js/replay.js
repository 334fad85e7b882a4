// /replays/{id}: the show's recording with seeking, the chat replayed in step with the video and
// the products that were pinned at each moment (from GET /api/livestreams/{id}/timeline).
import { createApi, reportQuietly } from './api.js';
import { createChatView } from './chat-view.js';
import { $, formatCount, formatDate, formatDuration, safeUrl, setText } from './dom.js';
import { loadGuest, saveGuest } from './guest.js';
import { createProductsView } from './products-view.js';
import { renderClips } from './replay-clips.js';
import { chooseSources, mp4ToShow, setSources } from './replay-sources.js';
import { chatAt, pinsAt } from './timeline.js';
import { followVideoAspect } from './video-aspect.js';

const match = location.pathname.match(/^\/replays\/(\d+)\/?$/);
const showId = match ? Number(match[1]) : null;

let guest = loadGuest();
const api = createApi(() => guest && guest.token);
const app = $('#app');
const video = $('#replay-video');
const chat = createChatView($('#chat-list'), { maxMessages: 300 });
followVideoAspect(video, app);
const products = createProductsView($('#product-list'), { onBuy: reportClick, empty: $('#products-empty') });

let timeline = null;
// Where the recording starts on the show's clock. The studio starts recording as the show starts;
// a server that says otherwise (recording.startOffsetSeconds) is believed.
let startOffset = 0;
let mp4Parts = null; // the MP4's parts, when the MP4 is what plays
let chatShown = 0; // the first chatShown messages of the timeline are on screen
let pinsKey = null;

function setState(state) {
  app.dataset.state = state;
  app.setAttribute('aria-busy', state === 'loading' ? 'true' : 'false');
}

function problem(text) {
  setText($('#problem-text'), text);
  setState('problem');
}

async function reportClick(product) {
  try {
    if (!guest) guest = saveGuest(await api.guest(), false);
  } catch {
    return; // counting clicks is a nicety
  }
  reportQuietly(`/api/livestreams/${showId}/product-clicks`, { productId: product.id }, guest.token);
}

/** Bring the chat and the products to the video's current moment. */
function sync() {
  if (!timeline) return;
  const now = Number.isFinite(video.currentTime) ? video.currentTime : 0;
  const playingMp4 = mp4Parts && mp4Parts.length && video.currentSrc.endsWith('.mp4');
  const t = playingMp4 ? mp4ToShow(mp4Parts, now) : now + startOffset;
  const messages = chatAt(timeline, t); // a prefix of the timeline's chat
  if (messages.length < chatShown) chat.reset(messages); // sought backwards
  else if (messages.length > chatShown) chat.addMany(messages.slice(chatShown));
  chatShown = messages.length;
  $('#chat-empty').hidden = chatShown > 0;
  const onScreen = pinsAt(timeline, t);
  const key = onScreen.map((p) => p.id).join(',');
  if (key !== pinsKey) {
    products.render(onScreen);
    pinsKey = key;
  }
}

for (const type of ['loadedmetadata', 'timeupdate', 'seeking', 'seeked', 'ended']) video.addEventListener(type, sync);
video.addEventListener('error', () => {
  if (app.dataset.state === 'ready') setText($('#replay-meta'), 'The recording could not be played in this browser.');
});

function renderShow(show, recording, rendition) {
  document.title = `${show.title} — replay`;
  setText($('#replay-title'), show.title);
  const duration = (rendition && rendition.durationSeconds) || (recording && recording.durationSeconds) || show.durationSeconds;
  const parts = [formatDate(show.startTime)];
  if (duration) parts.push(formatDuration(duration));
  parts.push(`♥ ${formatCount(show.likes)}`);
  setText($('#replay-meta'), parts.filter(Boolean).join(' · '));
  setText($('#replay-description'), show.description || '');
}

/** Seek to a clip's moment (clip times are the MP4's; the WebM is the show's first part). */
function playClip(clip) {
  const playingMp4 = video.currentSrc.endsWith('.mp4');
  const at = clip.clipStartSeconds ?? clip.startSeconds;
  video.currentTime = playingMp4 || !mp4Parts ? at : Math.max(0, mp4ToShow(mp4Parts, at) - startOffset);
  video.play().catch(() => {});
}

async function main() {
  if (showId === null) {
    problem('The link is not a replay link.');
    return;
  }
  let show;
  let recordings;
  let rendition;
  let clips;
  try {
    [{ livestream: show }, timeline, { recordings }, rendition, { clips }] = await Promise.all([
      api.show(showId),
      api.timeline(showId),
      api.recordings(showId).catch(() => ({ recordings: [] })),
      api.get(`/api/livestreams/${showId}/rendition`, { auth: false }).catch(() => null),
      api.get(`/api/livestreams/${showId}/clips`, { auth: false }).catch(() => ({ clips: [] })),
    ]);
  } catch (err) {
    problem(err.status === 404 ? 'There is no such show.' : `It could not be loaded: ${err.message}`);
    return;
  }
  if (show.isActive) {
    problem('This show is still live.');
    const link = $('#problem-text');
    link.append(' ', Object.assign(document.createElement('a'), { href: `/live/${show.id}`, textContent: 'Watch it live' }));
    return;
  }
  // the show's own video (the latest recording made for it), else the first recorded file
  const recording = recordings.find((r) => r.url === show.videoUrl) || recordings[0] || null;
  const src = safeUrl(show.videoUrl) || (recording && safeUrl(recording.url));
  const sources = chooseSources(video, src, rendition && { ...rendition, url: safeUrl(rendition.url) });
  if (!sources.length) {
    problem('This show has no recording (yet).');
    return;
  }
  if (recording && Number.isFinite(recording.startOffsetSeconds)) startOffset = recording.startOffsetSeconds;
  renderShow(show, recording, rendition);
  const poster = safeUrl(show.thumbnailUrl);
  if (poster) video.poster = poster;
  if (rendition && rendition.state === 'done') mp4Parts = rendition.parts;
  setSources(video, sources);
  const products = new Map((timeline.pins || []).map((p) => [p.product.id, p.product]));
  const shown = renderClips($('#clip-list'), clips, products, { onPlay: playClip });
  $('#replay-clips').hidden = shown === 0;
  setState('ready');
  sync();
}

main();
