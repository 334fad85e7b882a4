// The studio after a show: how far the MP4 replay (H.264 + AAC, for every phone) is, from
// GET /api/livestreams/{id}/rendition every 2 s until it is done or failed. A failed one can be
// made again (POST …/rendition).
import { h, setText } from './dom.js';

let current = null; // the show being watched: one at a time

const LABELS = {
  none: 'MP4 replay: waiting for the recording…',
  queued: 'MP4 replay: queued…',
  failed: 'MP4 replay: could not be made.',
};

/** Show the rendition of show `id` in `box` until it is done; replaces any earlier watch. */
export function watchRendition(api, id, box, { interval = 2000 } = {}) {
  const watch = { id, stopped: false };
  if (current) current.stopped = true;
  current = watch;
  box.hidden = false;

  function render(r) {
    box.dataset.state = r.state;
    box.dataset.progress = String(Math.round((r.progress || 0) * 100));
    if (r.state === 'running') setText(box, `MP4 replay: ${box.dataset.progress} %…`);
    else if (r.state === 'done') {
      box.replaceChildren('MP4 replay ready (plays on every phone): ', h('a', { href: r.url, text: 'download' }));
    } else if (r.state === 'failed') {
      box.replaceChildren(
        `${LABELS.failed} `,
        h('button', { type: 'button', class: 'secondary', text: 'Try again', onclick: () => retry() }),
      );
    } else setText(box, LABELS[r.state] || '');
  }

  async function retry() {
    try {
      render(await api.post(`/api/livestreams/${id}/rendition`));
      poll();
    } catch (err) {
      setText(box, `MP4 replay: ${err.message}`);
    }
  }

  async function poll() {
    // until done or failed, or until the summary it is in is hidden (the next show started)
    while (!watch.stopped && !box.closest('[hidden]')) {
      try {
        const r = await api.get(`/api/livestreams/${id}/rendition`);
        if (watch.stopped) return;
        render(r);
        if (r.state === 'done' || r.state === 'failed') return;
      } catch {
        // offline for a moment: try again at the next tick
      }
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  }

  poll();
  return () => {
    watch.stopped = true;
  };
}
