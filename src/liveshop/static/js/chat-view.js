// The chat list: renders messages as text, shows your own messages at once and de-duplicates them
// when the server's echo arrives (clientMessageId), removes deleted ones, marks the shop's staff
// (the seller and moderators), and (for staff) offers delete and ban on each message.
import { h } from './dom.js';

const STAFF_TAGS = { admin: 'seller', moderator: 'moderator' };

/** The tag shown next to a staff member's name ('seller', 'moderator'), or null for shoppers. */
export function staffTag(user) {
  return (user && STAFF_TAGS[user.role]) || null;
}

let counter = 0;
export function newClientMessageId() {
  counter += 1;
  return `c-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}-${counter}`;
}

export function createChatView(list, { moderation = null, maxMessages = 200 } = {}) {
  const byId = new Map(); // message id → element
  const pending = new Map(); // clientMessageId → element

  function render(msg, isPending = false) {
    const tag = staffTag(msg.user);
    const el = h(
      'li',
      { class: `chat-msg${isPending ? ' pending' : ''}${tag ? ` staff ${tag}` : ''}`, dataset: { userId: (msg.user && msg.user.id) || '' } },
      h('span', { class: 'chat-author', text: (msg.user && msg.user.name) || 'Guest' }),
      tag ? h('span', { class: 'chat-tag', text: tag }) : null,
      h('span', { class: 'chat-text', text: msg.text }),
    );
    if (msg.id) el.dataset.id = String(msg.id);
    if (moderation && msg.id) addModeration(el, msg);
    return el;
  }

  function addModeration(el, msg) {
    if (el.querySelector('.chat-actions')) return;
    const name = (msg.user && msg.user.name) || 'Guest';
    const actions = h(
      'span',
      { class: 'chat-actions' },
      h('button', { type: 'button', class: 'chat-delete', text: 'Delete', 'aria-label': `Delete message from ${name}`, onclick: () => moderation.onDelete(msg) }),
      msg.user && !staffTag(msg.user)
        ? h('button', { type: 'button', class: 'chat-ban', text: 'Ban', 'aria-label': `Ban ${name}`, onclick: () => moderation.onBan(msg) })
        : null,
    );
    el.append(actions);
  }

  function trim() {
    while (list.children.length > maxMessages) {
      const first = list.firstElementChild;
      if (first.dataset.id) byId.delete(Number(first.dataset.id));
      first.remove();
    }
  }

  function stickToBottom(fn) {
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    fn();
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function add(msg) {
    if (!msg || byId.has(msg.id)) return;
    stickToBottom(() => {
      const mine = msg.clientMessageId ? pending.get(msg.clientMessageId) : null;
      const el = render(msg);
      if (mine) {
        pending.delete(msg.clientMessageId);
        mine.replaceWith(el);
      } else {
        list.append(el);
      }
      byId.set(msg.id, el);
      trim();
    });
  }

  return {
    /** Replace everything (a fresh join). */
    reset(messages = []) {
      byId.clear();
      list.replaceChildren();
      for (const el of pending.values()) list.append(el);
      messages.forEach(add);
      list.scrollTop = list.scrollHeight;
    },
    add,
    addMany(messages = []) {
      messages.forEach(add);
    },
    /** Show your own message before the server confirms it. */
    addPending(clientMessageId, text, user) {
      stickToBottom(() => {
        const el = render({ text, user }, true);
        el.dataset.clientMessageId = clientMessageId;
        pending.set(clientMessageId, el);
        list.append(el);
      });
    },
    /** The server refused a message of ours: mark it, with the reason. */
    fail(clientMessageId, reason) {
      const el = pending.get(clientMessageId);
      if (!el) return;
      pending.delete(clientMessageId);
      el.classList.remove('pending');
      el.classList.add('failed');
      el.append(h('span', { class: 'chat-failed', text: ` — not sent: ${reason}` }));
    },
    remove(ids) {
      for (const id of ids) {
        const el = byId.get(id);
        if (el) {
          el.remove();
          byId.delete(id);
        }
      }
    },
    removeByUser(userId) {
      for (const el of [...list.querySelectorAll('.chat-msg')]) {
        if (el.dataset.userId === userId) {
          if (el.dataset.id) byId.delete(Number(el.dataset.id));
          el.remove();
        }
      }
    },
    get size() {
      return byId.size;
    },
  };
}
