// Scheduled shows for shoppers: the countdown page of an upcoming show (/live/{id} before it
// starts: cover, title, time, countdown, planned products, "Add to calendar"), the "next show"
// teaser on the offline page, and the upcoming cards of /replays. The page switches to the live
// show by itself when the seller goes live (stream_started, handled by watch.js).
import { $, formatPrice, h, safeUrl, setText } from './dom.js';

export function calendarHref(show) {
  return `/api/livestreams/${show.id}/calendar.ics`;
}

export function watchHref(show) {
  return `/live/${show.id}`;
}

/** "2 d 03:04:05", "03:04:05", or null once the time has come. */
export function formatCountdown(ms) {
  if (!(ms > 0)) return null;
  const s = Math.floor(ms / 1000);
  const days = Math.floor(s / 86400);
  const pad = (n) => String(n).padStart(2, '0');
  const clock = `${pad(Math.floor((s % 86400) / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  return days ? `${days} d ${clock}` : clock;
}

export function formatWhen(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleString(navigator.language || 'en', { weekday: 'short', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** Keeps `el`'s text on the time left until `iso` (every second); returns a stop function. */
export function startCountdown(el, iso) {
  const at = Date.parse(iso);
  const tick = () => {
    const left = formatCountdown(at - Date.now());
    setText(el, left ? `Starts in ${left}` : 'Starting any minute now…');
    el.dataset.secondsLeft = String(Math.max(0, Math.round((at - Date.now()) / 1000)));
  };
  tick();
  const timer = setInterval(tick, 1000);
  return () => clearInterval(timer);
}

/** An upcoming show in a list (/replays, the offline page): cover, title, time, calendar link. */
export function upcomingCard(show) {
  const cover = safeUrl(show.thumbnailUrl);
  return h(
    'li',
    { class: 'replay-card upcoming-card', dataset: { showId: String(show.id) } },
    h(
      'a',
      { class: 'replay-link', href: watchHref(show) },
      h('span', { class: 'replay-thumb' }, cover ? h('img', { src: cover, alt: '', loading: 'lazy', width: 320, height: 180 }) : h('span', { class: 'replay-thumb-empty', 'aria-hidden': 'true', text: '⏰' }), h('span', { class: 'badge upcoming', text: 'UPCOMING' })),
      h('span', { class: 'replay-title', text: show.title }),
    ),
    h('p', { class: 'replay-meta muted' }, h('time', { datetime: show.scheduledAt, text: formatWhen(show.scheduledAt) }), ' · ', h('a', { href: calendarHref(show), download: '', text: 'Add to calendar' })),
  );
}

function plannedCard(product) {
  const image = safeUrl(product.imageUrl);
  return h(
    'li',
    { class: 'product-card', dataset: { productId: String(product.id) } },
    image ? h('img', { class: 'product-img', src: image, alt: '', loading: 'lazy', width: 72, height: 72 }) : h('div', { class: 'product-img placeholder', 'aria-hidden': 'true' }),
    h('div', { class: 'product-info' }, h('h3', { class: 'product-name', text: product.name }), h('p', { class: 'product-price', text: formatPrice(product.price, product.currency) })),
  );
}

/**
 * The countdown page in `root` (a [data-when="upcoming"] section of watch.html) and the "next
 * show" teaser in `next` (inside the offline section).
 */
export function createUpcomingView({ root, next, api }) {
  let stop = () => {};

  async function loadPlanned(show) {
    try {
      const { products } = await api.get(`/api/livestreams/${show.id}/planned-products`, { auth: false });
      $('.upcoming-products', root).replaceChildren(...products.map(plannedCard));
      $('.upcoming-products-title', root).hidden = products.length === 0;
    } catch {
      // the plan is a nicety: the countdown works without it
    }
  }

  return {
    /** Show the countdown page of an upcoming show. */
    show(show) {
      stop();
      document.title = `${show.title} — upcoming`;
      setText($('.upcoming-title', root), show.title);
      setText($('.upcoming-description', root), show.description || '');
      const when = $('.upcoming-when', root);
      when.dateTime = show.scheduledAt;
      setText(when, formatWhen(show.scheduledAt));
      const src = safeUrl(show.thumbnailUrl);
      $('.upcoming-cover-slot', root).replaceChildren(src ? h('img', { class: 'upcoming-cover', src, alt: '' }) : '');
      $('.upcoming-calendar', root).href = calendarHref(show);
      stop = startCountdown($('.upcoming-countdown', root), show.scheduledAt);
      loadPlanned(show);
    },
    /** The soonest upcoming show, if any, under "We're offline". */
    async loadNext() {
      if (!next) return;
      try {
        const { livestreams } = await api.get('/api/livestreams/upcoming?limit=1', { auth: false });
        next.replaceChildren(...livestreams.map(upcomingCard));
        next.hidden = livestreams.length === 0;
      } catch {
        next.hidden = true;
      }
    },
    stop() {
      stop();
      stop = () => {};
    },
  };
}
