// The replay page's clips: one per product pinned during the show (its time on screen) and the
// seller's highlights, each with its own page (/clips/{id}) and a stable video URL to embed.
import { h, formatDuration, safeUrl } from './dom.js';

/** Render `clips` (GET …/clips) into `list`; `products` maps product id → product. */
export function renderClips(list, clips, products, { onPlay } = {}) {
  const done = clips.filter((c) => c.state === 'done' && c.url);
  list.replaceChildren(
    ...done.map((clip) => {
      const product = clip.productId ? products.get(clip.productId) : null;
      const name = clip.title || (product ? product.name : 'Highlight');
      const page = safeUrl(clip.pageUrl);
      return h(
        'li',
        { class: 'clip-item', 'data-clip-id': String(clip.id), 'data-kind': clip.kind },
        h('a', { class: 'clip-title', href: page, text: name }),
        h('span', { class: 'muted clip-duration', text: ` ${formatDuration(clip.durationSeconds || 0)} ` }),
        h('button', { type: 'button', class: 'secondary', text: 'Play here', 'aria-label': `Play the clip ${name}`, onclick: () => onPlay && onPlay(clip) }),
        h('a', { class: 'clip-video', href: safeUrl(clip.url), text: 'MP4', 'aria-label': `MP4 of the clip ${name}` }),
      );
    }),
  );
  return done.length;
}
