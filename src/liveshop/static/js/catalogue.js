// The catalogue page (/studio/catalogue): the seller lists, searches, adds, edits and deletes
// products, uploads their pictures, and imports or exports the shop's Shopify product CSV.
// It shares the studio's log-in (the same tab's session).
import { createApi } from './api.js';
import { createCsvImport, downloadExport } from './csv-import.js';
import { $, confirmDialog, formatPrice, h, safeUrl, setText } from './dom.js';
import { openProductEditor } from './product-editor.js';

const TOKEN_KEY = 'liveshop.seller'; // the studio's
const PAGE = 50;

let token = sessionStorage.getItem(TOKEN_KEY);
const api = createApi(() => token);
let query = '';
let next = null;
let searchTimer = null;
let loadId = 0;

function showLogin(message = '') {
  $('#login-view').hidden = false;
  $('#catalogue-view').hidden = true;
  $('#logout').hidden = true;
  setText($('#who'), '');
  setText($('#login-error'), message);
  $('#email').focus();
}

$('#login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  setText($('#login-error'), '');
  try {
    const answer = await api.login($('#email').value.trim(), $('#password').value);
    if (answer.user.role !== 'admin') {
      showLogin('Only the seller can change the catalogue.');
      return;
    }
    token = answer.accessToken;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('#password').value = '';
    enter(answer.user);
  } catch (err) {
    setText($('#login-error'), err.status === 401 ? 'Wrong e-mail or password.' : err.status === 429 ? 'Too many attempts: wait a minute and try again.' : err.message);
  }
});

$('#logout').addEventListener('click', () => {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin();
});

function enter(user) {
  $('#login-view').hidden = true;
  $('#catalogue-view').hidden = false;
  $('#logout').hidden = false;
  setText($('#who'), user.name);
  load();
}

// -- the list ----------------------------------------------------------------------------------

function picture(product) {
  const src = safeUrl(product.imageUrl);
  if (!src) return h('div', { class: 'placeholder', 'aria-hidden': 'true' });
  const small = (product.images || []).find((i) => i.width === 160);
  return h('img', { src: small ? small.url : src, alt: '', loading: 'lazy', width: 48, height: 48 });
}

function row(product) {
  const stock = Number(product.stock) || 0;
  return h(
    'tr',
    { dataset: { productId: String(product.id), handle: product.handle } },
    h('td', { class: 'thumb' }, picture(product)),
    h('td', { class: 'product' }, h('span', { class: 'name', text: product.name }), h('span', { class: 'handle', text: product.handle })),
    h('td', { class: 'sku', text: product.sku || '—' }),
    h('td', { class: 'num price', text: formatPrice(product.price, product.currency) }),
    h('td', { class: `num stock${stock === 0 ? ' out' : ''}`, text: stock === 0 ? 'Sold out' : String(stock) }),
    h(
      'td',
      { class: 'actions' },
      h('button', { type: 'button', text: 'Edit', 'aria-label': `Edit ${product.name}`, onclick: () => edit(product) }),
      h('button', { type: 'button', class: 'danger-quiet', text: 'Delete', 'aria-label': `Delete ${product.name}`, onclick: () => remove(product) }),
    ),
  );
}

async function load({ more = false } = {}) {
  const id = ++loadId;
  const params = new URLSearchParams({ limit: String(PAGE) });
  if (query) params.set('q', query);
  if (more && next) params.set('before', String(next));
  try {
    const page = await api.get(`/api/products?${params}`, { auth: false });
    if (id !== loadId) return; // a newer search answered first
    const rows = page.products.map(row);
    if (more) $('#product-rows').append(...rows);
    else $('#product-rows').replaceChildren(...rows);
    next = page.next;
    $('#load-more').hidden = !next;
    const shown = $('#product-rows').children.length;
    $('#catalogue-empty').hidden = shown > 0 || !!query;
    setText($('#product-count'), query ? `(${shown}${next ? '+' : ''} found)` : `(${shown}${next ? '+' : ''})`);
    setText($('#catalogue-status'), '');
  } catch (err) {
    if (err.status === 401) return showLogin('Your session ended: log in again.');
    setText($('#catalogue-status'), `Could not load the products: ${err.message}`);
  }
}

$('#catalogue-search').addEventListener('input', (e) => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    query = e.target.value.trim();
    load();
  }, 200);
});
$('#load-more').addEventListener('click', () => load({ more: true }));

// -- add, edit, delete -------------------------------------------------------------------------

$('#add-product').addEventListener('click', () => edit(null));

async function edit(product) {
  const saved = await openProductEditor({ api, product });
  if (saved) await load();
}

async function remove(product) {
  const ok = await confirmDialog({
    title: `Delete “${product.name}”?`,
    body: 'It leaves the catalogue and is unpinned from a live show. Replays of past shows still show it.',
    confirm: 'Delete',
    danger: true,
  });
  if (!ok) return;
  try {
    await api.del(`/api/products/${product.id}`);
    await load();
  } catch (err) {
    setText($('#catalogue-status'), `Could not delete “${product.name}”: ${err.message}`);
  }
}

// -- CSV ---------------------------------------------------------------------------------------

createCsvImport($('#csv-import'), { api, fileInput: $('#csv-file'), onImported: () => load() });
$('#export-csv').addEventListener('click', async () => {
  try {
    await downloadExport(() => token);
  } catch (err) {
    setText($('#catalogue-status'), `Could not export: ${err.message}`);
  }
});

// -- start -------------------------------------------------------------------------------------

(async () => {
  if (!token) return showLogin();
  try {
    const { user } = await api.me();
    if (user.role !== 'admin') return showLogin('Only the seller can change the catalogue.');
    enter(user);
  } catch {
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin();
  }
})();
