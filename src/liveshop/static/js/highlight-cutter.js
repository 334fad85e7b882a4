// The studio after a show: cut a highlight from the replay by start and end (m:ss or seconds).
// POST /api/livestreams/{id}/clips; the clip is cut from the MP4 replay in the background, and
// its line links to its page (/clips/{id}) and its MP4 (/clips/{id}.mp4) once ready.
import { h, setText } from './dom.js';

/** "1:05" or "65" → 65; null when unreadable. */
export function parseTime(text) {
  const parts = String(text).trim().split(':');
  if (!parts.length || parts.length > 3 || parts.some((p) => !/^\d+(\.\d+)?$/.test(p))) return null;
  return parts.reduce((total, p) => total * 60 + Number(p), 0);
}

/** Put the highlight form for show `id` into `root` (replacing what was there). */
export function mountHighlightCutter(api, id, root) {
  const start = h('input', { id: 'highlight-start', name: 'start', inputmode: 'decimal', placeholder: '0:30', required: true, size: 6 });
  const end = h('input', { id: 'highlight-end', name: 'end', inputmode: 'decimal', placeholder: '1:15', required: true, size: 6 });
  const title = h('input', { id: 'highlight-title', name: 'title', maxlength: 200, placeholder: 'Title (optional)' });
  const error = h('p', { class: 'error', role: 'alert' });
  const list = h('ul', { id: 'highlight-list', class: 'clip-list' });
  const form = h(
    'form',
    { id: 'highlight-form', class: 'highlight-form', onsubmit: (e) => submit(e) },
    h('label', { for: 'highlight-start', text: 'Start ' }),
    start,
    h('label', { for: 'highlight-end', text: ' End ' }),
    end,
    ' ',
    title,
    ' ',
    h('button', { type: 'submit', text: 'Cut highlight' }),
  );
  root.replaceChildren(h('h3', { text: 'Highlights' }), form, error, list);

  function line(clip) {
    const item = h('li', { class: 'clip-item', 'data-clip-id': String(clip.id), 'data-state': clip.state });
    const name = clip.title || `Highlight ${clip.startSeconds}–${clip.endSeconds} s`;
    if (clip.state === 'done') {
      item.append(h('a', { href: clip.pageUrl, text: name }), ' ', h('a', { href: clip.url, text: 'MP4' }), ` ${Math.round(clip.durationSeconds)} s`);
    } else item.append(`${name}: ${clip.state === 'failed' ? 'could not be cut' : 'cutting…'}`);
    return item;
  }

  async function follow(clip) {
    let item = line(clip);
    list.prepend(item);
    while (clip.state === 'queued') {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      try {
        ({ clip } = await api.get(`/api/clips/${clip.id}`));
      } catch {
        continue;
      }
      const next = line(clip);
      item.replaceWith(next);
      item = next;
    }
  }

  async function submit(event) {
    event.preventDefault();
    setText(error, '');
    const a = parseTime(start.value);
    const b = parseTime(end.value);
    if (a === null || b === null || b <= a) {
      setText(error, 'Give a start and a later end, like 0:30 and 1:15.');
      return;
    }
    try {
      const { clip } = await api.post(`/api/livestreams/${id}/clips`, { startSeconds: a, endSeconds: b, title: title.value });
      form.reset();
      follow(clip);
    } catch (err) {
      setText(error, `The highlight could not be cut: ${typeof err.message === 'string' ? err.message : 'invalid times'}`);
    }
  }
}
