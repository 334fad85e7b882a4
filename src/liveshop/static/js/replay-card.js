// A past show in a list of replays: thumbnail, title, date, duration and likes, linking to
// /replays/{id}. Used by /replays and by the watch page's offline state.
import { formatCount, formatDate, formatDuration, h, safeUrl } from './dom.js';

/** An upright thumbnail (a show sold from a phone) is shown whole, not cropped to the card. */
function markUpright(e) {
  const img = e.target;
  img.classList.toggle('upright', img.naturalHeight > img.naturalWidth);
}

export function replayHref(show) {
  return `/replays/${show.id}`;
}

export function replayCard(show) {
  const thumb = safeUrl(show.thumbnailUrl);
  const duration = Number(show.durationSeconds);
  return h(
    'li',
    { class: 'replay-card', dataset: { showId: String(show.id) } },
    h(
      'a',
      { class: 'replay-link', href: replayHref(show) },
      h(
        'span',
        { class: 'replay-thumb' },
        thumb ? h('img', { src: thumb, alt: '', loading: 'lazy', width: 320, height: 180, onload: markUpright }) : h('span', { class: 'replay-thumb-empty', 'aria-hidden': 'true', text: '▶' }),
        Number.isFinite(duration) && duration > 0 ? h('span', { class: 'replay-duration' }, h('span', { class: 'sr-only', text: 'Duration ' }), formatDuration(duration)) : null,
      ),
      h('span', { class: 'replay-title', text: show.title }),
    ),
    h(
      'p',
      { class: 'replay-meta muted' },
      h('time', { datetime: show.startTime, text: formatDate(show.startTime) }),
      ' · ',
      h('span', { class: 'replay-likes' }, h('span', { 'aria-hidden': 'true', text: '♥ ' }), formatCount(show.likes), h('span', { class: 'sr-only', text: ' likes' })),
    ),
  );
}
