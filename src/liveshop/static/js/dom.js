// Tiny DOM helpers. Everything a user typed goes through textContent, never innerHTML.

export const $ = (selector, root = document) => root.querySelector(selector);

/** h('button', {class: 'x', text: 'Hi', onclick: fn, 'aria-label': 'y'}, child, 'text') */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function show(el, visible = true) {
  if (el) el.hidden = !visible;
}

export function setText(el, value) {
  if (el) el.textContent = value === null || value === undefined ? '' : String(value);
}

/** A link target only if it is http(s) or a same-origin path; anything else becomes null. */
export function safeUrl(value) {
  if (typeof value !== 'string' || value === '') return null;
  if (value.startsWith('/') && !value.startsWith('//')) return value;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

export function formatPrice(price, currency) {
  const amount = Number(price);
  try {
    return new Intl.NumberFormat(navigator.language || 'en', { style: 'currency', currency: currency || 'USD' }).format(amount);
  } catch {
    return `${price} ${currency || ''}`.trim();
  }
}

export function formatDuration(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const hh = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function formatCount(n) {
  return new Intl.NumberFormat(navigator.language || 'en').format(Number(n) || 0);
}

/** An accessible confirmation (a <dialog>, not window.confirm). Resolves true or false. */
export function confirmDialog({ title, body = '', confirm = 'OK', cancel = 'Cancel', danger = false }) {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'submit', value: 'ok', class: danger ? 'danger' : 'primary', text: confirm });
    const no = h('button', { type: 'submit', value: 'cancel', text: cancel });
    const dialog = h(
      'dialog',
      { 'aria-labelledby': 'confirm-title', class: 'confirm' },
      h('form', { method: 'dialog' }, h('h2', { id: 'confirm-title', text: title }), body ? h('p', { text: body }) : null, h('div', { class: 'row' }, no, ok)),
    );
    dialog.addEventListener('close', () => {
      const answer = dialog.returnValue === 'ok';
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}

/** An SVG element (for small inline charts): svg('path', {d: '…', class: 'x'}, child…). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') el.textContent = String(value);
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) if (child) el.append(child);
  return el;
}

export function formatDate(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleDateString(navigator.language || 'en', { year: 'numeric', month: 'short', day: 'numeric' });
}
