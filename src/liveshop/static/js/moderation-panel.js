// The show's moderation controls, for the seller and moderators (the chat panel of the studio):
// slow mode, the new-shopper wait, banning from a chat message (with the network-address option)
// and the show's bans with Unban. The bans list comes from REST and is refreshed when this studio
// bans someone (once the server confirmed it) and every 15 s while a show is on, so bans made by
// another member of the team show up too.
import { banDialog } from './ban-dialog.js';
import { $, h, setText } from './dom.js';

const POLL_MS = 15000;

export function createModerationPanel({ api, getHub, getShow, say, takeFigure = () => true }) {
  const el = {
    slow: $('#slow-mode'),
    slowSeconds: $('#slow-seconds'),
    wait: $('#new-shopper-wait'),
    list: $('#ban-list'),
    count: $('#ban-count'),
    empty: $('#bans-empty'),
    error: $('#bans-error'),
  };
  const names = new Map(); // user id → the name last seen in the chat (bans carry only ids)
  let refreshAfterPong = false;
  let loading = 0; // the latest refresh wins
  let pollTimer = null;

  const showId = () => {
    const show = getShow();
    return show ? show.id : null;
  };
  const send = (msg) => {
    const hub = getHub();
    return !!hub && hub.send(msg);
  };

  // -- slow mode and the new-shopper wait ----------------------------------------------------

  function sendSlowMode() {
    send({ type: 'slow_mode', seconds: el.slow.checked ? Number(el.slowSeconds.value) : 0 });
  }
  el.slow.addEventListener('change', sendSlowMode);
  el.slowSeconds.addEventListener('change', () => {
    if (el.slow.checked) sendSlowMode();
  });
  el.wait.addEventListener('change', () => {
    if (!send({ type: 'new_shopper_wait', seconds: Number(el.wait.value) })) say('Not connected — the new-shopper wait was not changed.');
  });

  /** Show `seconds` in a select, adding an option when another studio picked a value we lack. */
  function selectValue(select, seconds) {
    const value = String(seconds);
    if (![...select.options].some((o) => o.value === value)) select.append(h('option', { value, text: `${seconds} s` }));
    select.value = value;
  }

  function describeWait(seconds) {
    if (!seconds) return 'New shoppers can chat at once.';
    return `New shoppers must watch for ${seconds >= 120 ? `${seconds / 60} min` : `${seconds} s`} before they can chat or like.`;
  }

  // -- bans -------------------------------------------------------------------------------------

  function nameOf(userId) {
    return names.get(userId) || `Shopper ${userId.slice(0, 10)}`;
  }

  function remember(messages) {
    for (const m of messages || []) if (m && m.user && m.user.id) names.set(m.user.id, m.user.name || 'Guest');
  }

  function render(bans) {
    el.list.replaceChildren(
      ...bans.map((ban) => {
        const who = nameOf(ban.userId);
        const when = new Date(ban.createdAt);
        const time = Number.isNaN(when.getTime()) ? '' : when.toLocaleTimeString(navigator.language || 'en', { hour: '2-digit', minute: '2-digit' });
        const extra = ban.addresses && ban.addresses.length ? ` · with their network address${ban.addresses.length > 1 ? 'es' : ''}` : '';
        return h(
          'li',
          { class: 'ban', dataset: { userId: ban.userId } },
          h('span', { class: 'ban-who', text: who }),
          h('span', { class: 'muted ban-when', text: `${time ? `banned at ${time}` : 'banned'}${extra}` }),
          h('button', { type: 'button', class: 'unban', text: 'Unban', 'aria-label': `Unban ${who}`, onclick: () => unban(ban.userId) }),
        );
      }),
    );
    setText(el.count, `(${bans.length})`);
    el.empty.hidden = bans.length > 0;
  }

  async function refresh() {
    const id = showId();
    if (id === null) return;
    const mine = ++loading;
    try {
      const { bans } = await api.get(`/api/livestreams/${id}/bans`);
      if (mine !== loading || showId() !== id) return;
      setText(el.error, '');
      render(bans);
    } catch (err) {
      if (mine === loading) setText(el.error, `Could not load the bans: ${err.message}`);
    }
  }

  async function unban(userId) {
    const id = showId();
    if (id === null) return;
    const who = nameOf(userId);
    try {
      await api.del(`/api/livestreams/${id}/bans/${encodeURIComponent(userId)}`);
      say(`${who} may come back to the show.`);
    } catch (err) {
      if (err.status !== 404) setText(el.error, `Could not unban ${who}: ${err.message}`);
    }
    await refresh();
  }

  async function ban(msg) {
    const user = msg.user || {};
    const who = user.name || 'this shopper';
    const choice = await banDialog(who);
    if (!choice || !user.id) return;
    names.set(user.id, user.name || 'Guest');
    if (!send({ type: 'user_ban', userId: user.id, ...choice })) {
      say(`Not connected — ${who} was not banned.`);
      return;
    }
    // the socket's messages are handled in order: the pong comes once the ban is stored
    refreshAfterPong = true;
    send({ type: 'ping' });
    // the address bans are stored by each server process a moment later
    if (choice.banAddress) setTimeout(refresh, 2000);
  }

  function poll(on) {
    clearInterval(pollTimer);
    pollTimer = on ? setInterval(() => document.visibilityState === 'visible' && refresh(), POLL_MS) : null;
  }

  // -- hub --------------------------------------------------------------------------------------

  function wire(hub) {
    hub.on('snapshot', (ev) => {
      if (ev.livestream.id !== showId()) return;
      remember(ev.recentChat);
      el.slow.checked = ev.slowMode > 0;
      if (ev.slowMode > 0) selectValue(el.slowSeconds, ev.slowMode);
      selectValue(el.wait, ev.newShopperWait || 0);
      refresh();
    });
    hub.on('chat_message', (ev) => remember([ev]));
    hub.on('slow_mode', (ev) => {
      if (ev.livestreamId !== showId() || !takeFigure('slowMode', ev.rev)) return;
      el.slow.checked = ev.seconds > 0;
      if (ev.seconds > 0) selectValue(el.slowSeconds, ev.seconds);
      say(ev.seconds ? `Slow mode on: shoppers can send one message every ${ev.seconds} s.` : 'Slow mode off.');
    });
    hub.on('new_shopper_wait', (ev) => {
      if (ev.livestreamId !== showId()) return;
      selectValue(el.wait, ev.seconds);
      say(describeWait(ev.seconds));
    });
    hub.on('pong', () => {
      if (!refreshAfterPong) return;
      refreshAfterPong = false;
      refresh();
    });
  }

  return {
    wire,
    ban,
    refresh,
    /** The studio runs `show` now (null: none): the bans list follows it. */
    setShow(show) {
      loading += 1;
      render([]);
      setText(el.error, '');
      poll(!!show);
      if (show) refresh();
    },
  };
}
