// /replays: every recorded show, newest first, a page at a time (GET /api/livestreams?status=ended&recorded=true).
import { createApi } from './api.js';
import { $, setText } from './dom.js';
import { replayCard } from './replay-card.js';
import { upcomingCard } from './upcoming-view.js';

const PAGE = 12;
const api = createApi();
const list = $('#replay-list');
const more = $('#load-more');
let next = null;
let shown = 0;

async function load(before = null) {
  more.disabled = true;
  setText($('#replays-error'), '');
  try {
    const page = await api.replays(PAGE, before);
    list.append(...page.livestreams.map(replayCard));
    shown += page.livestreams.length;
    next = page.next;
    setText($('#replays-status'), shown ? '' : 'No replays yet: recorded shows appear here once they end.');
  } catch (err) {
    setText($('#replays-status'), '');
    setText($('#replays-error'), `Replays could not be loaded: ${err.message}`);
  } finally {
    list.setAttribute('aria-busy', 'false');
    more.hidden = !next;
    more.disabled = false;
  }
}

/** Upcoming shows above the replays (a nicety: the replays work without it). */
async function loadUpcoming() {
  try {
    const { livestreams } = await api.get('/api/livestreams/upcoming?limit=12', { auth: false });
    $('#upcoming-list').replaceChildren(...livestreams.map(upcomingCard));
    $('#upcoming-shows').hidden = livestreams.length === 0;
  } catch {
    $('#upcoming-shows').hidden = true;
  }
}

more.addEventListener('click', () => load(next));
loadUpcoming();
load();
