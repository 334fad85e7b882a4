// What the shopper may do in the chat right now, next to the chat box: the new-shopper wait ("You
// can chat in N s", counting down from the join or from the server's `too_new`), and the words for
// every refusal the server sends (blocked words or links, too fast, slow mode, banned…).
import { setText } from './dom.js';

const secondsLeft = (retryAfter) => Math.max(1, Math.ceil(Number(retryAfter) || 1));

export function createChatStatus(box, { onDone = () => {} } = {}) {
  let until = 0; // performance.now() when the wait ends
  let joinedAt = 0;
  let wait = 0;
  let timer = null;

  function tick() {
    const left = Math.ceil((until - performance.now()) / 1000);
    if (left <= 0) {
      const wasCounting = timer !== null;
      clearInterval(timer);
      timer = null;
      box.hidden = true;
      setText(box, '');
      if (wasCounting && until > 0) onDone();
      return;
    }
    box.hidden = false;
    setText(box, `You can chat in ${left} s`);
  }

  /** Count down to `seconds` from now (never shortens a longer wait already running). */
  function countdown(seconds) {
    const end = performance.now() + seconds * 1000;
    if (timer && end <= until) return;
    until = end;
    clearInterval(timer);
    timer = setInterval(tick, 250);
    tick();
  }

  /** The wait counts from the join (the server's rule): show what is left of it, if anything. */
  function fromJoin() {
    until = 0;
    const left = wait - (performance.now() - joinedAt) / 1000;
    if (left > 0) countdown(left);
    else tick();
  }

  return {
    /** A snapshot: the server counts the wait from this join. */
    joined(newShopperWait) {
      joinedAt = performance.now();
      wait = newShopperWait || 0;
      fromJoin();
    },
    /** The seller changed the wait during the show. */
    waitChanged(seconds) {
      wait = seconds || 0;
      fromJoin();
    },
    /** The server refused a message or a like as too new. */
    tooNew(retryAfter) {
      countdown(secondsLeft(retryAfter));
    },
    stop() {
      until = 0;
      tick();
    },
  };
}

/** A shopper-facing sentence for a refusal (`error` event); `like`: it answered a like. */
export function describeRefusal(ev, { like = false } = {}) {
  const n = secondsLeft(ev.retryAfter);
  switch (ev.code) {
    case 'too_new':
      return like ? `New shoppers can like after watching a little: you can like in ${n} s.` : `New shoppers watch a little before chatting: you can chat in ${n} s.`;
    case 'blocked':
      return `Your message was not sent: ${ev.message || 'the shop does not allow it'}.`;
    case 'rate_limited':
      if (like) return `Too many likes at once — try again in ${n} s.`;
      if (/network/.test(ev.message || '')) return `Too many messages from your network right now — try again in ${n} s.`;
      return `You're sending messages too fast — try again in ${n} s.`;
    case 'slow_mode':
      return `Slow mode — you can send again in ${n} s.`;
    case 'banned':
      return 'You were removed from this show and cannot chat.';
    case 'not_live':
      return 'The show is not live.';
    case 'unavailable':
      return `Your message was not sent: the chat is briefly unavailable — send it again in ${n} s.`;
    default:
      return ev.message || 'Something went wrong.';
  }
}
