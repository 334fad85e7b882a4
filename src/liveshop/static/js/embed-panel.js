// The studio's "Embed in your shop": the one-line <script> snippet that puts the player (video,
// chat, likes, pinned products) into any page of the shop's site, with a Copy button, and the sites
// allowed to embed it (LIVESHOP_EMBED_ORIGINS, from /api/config).
import { h, setText } from './dom.js';

export function snippet(origin = location.origin, showId = null) {
  const show = showId ? ` data-show="${showId}"` : '';
  return `<script src="${origin}/static/embed.js"${show} async></script>`;
}

export function createEmbedPanel(section, { api }) {
  const code = h('input', { id: 'embed-snippet', readonly: true, value: snippet(), 'aria-label': 'Embed snippet', class: 'embed-snippet' });
  const copied = h('p', { class: 'muted small', role: 'status' });
  const origins = h('p', { class: 'muted small embed-origins' });
  const copy = h('button', {
    type: 'button',
    text: 'Copy',
    'aria-label': 'Copy embed snippet',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(code.value);
        setText(copied, 'Snippet copied.');
      } catch {
        code.select(); // no clipboard permission: the seller copies it by hand
        setText(copied, 'Snippet selected: press Ctrl+C (⌘C) to copy it.');
      }
    },
  });
  section.append(
    h('p', { class: 'muted small', text: 'Paste this line where the player should appear on your site: it shows the live show with its chat, likes and products, and hands Buy to your own cart (see the README, "Embed in your shop").' }),
    h('div', { class: 'row copy-row' }, code, copy),
    copied,
    origins,
  );
  api
    .config()
    .then(({ embedOrigins = [] }) => {
      setText(origins, embedOrigins.length ? `Sites allowed to embed it: ${embedOrigins.join(', ')}.` : 'No site may embed it yet: list your shop’s address in LIVESHOP_EMBED_ORIGINS (e.g. https://shop.example) and restart.');
    })
    .catch(() => {});
}
