// The embedded player's side of the host-page protocol (docs/protocol.md, "Embedding the player").
// On /embed/… pages framed by a shop site listed in LIVESHOP_EMBED_ORIGINS, Buy hands the product
// to the host page (`liveshop:add-to-cart`) so the shop's own cart takes it, and the page reports
// its state (`liveshop:state`). Messages go to the host page's origin only, and only when that
// origin is allowed (never '*'); messages are taken only from the parent window at that origin.
// Anywhere else (the watch page itself, a host that is not allowed) this does nothing and Buy stays
// a plain link to the product page.

export const ADD_TO_CART = 'liveshop:add-to-cart';
export const ACK = 'liveshop:ack';
export const STATE = 'liveshop:state';
export const ACK_TIMEOUT_MS = 1000; // within Chrome's 5 s user activation, so the fallback may open a tab

/** The product as the host page's cart gets it; `sku` is null while the catalogue has none. */
export function cartItem(product) {
  return {
    id: product.id,
    sku: product.sku || null, // a product without a SKU has "" or none
    name: product.name,
    price: product.price,
    currency: product.currency,
    productUrl: product.productUrl ? new URL(product.productUrl, location.origin).href : null,
  };
}

/** The origin of the page framing this one, or null (not framed, or unknown). */
function parentOrigin() {
  if (window.parent === window) return null;
  if (location.ancestorOrigins && location.ancestorOrigins.length) return location.ancestorOrigins[0];
  try {
    return document.referrer ? new URL(document.referrer).origin : null;
  } catch {
    return null;
  }
}

export function createShopBridge({ embedded = location.pathname.startsWith('/embed/') } = {}) {
  let host = null; // the allowed origin of the host page, once known
  let counter = 0;
  const pending = new Map(); // add-to-cart id → resolve(acknowledged)
  let current = { state: 'loading', livestreamId: null, title: null, viewers: null };
  let sent = '';

  if (embedded) document.documentElement.classList.add('embedded');

  function post(message) {
    if (host) window.parent.postMessage(message, host);
  }

  function sendState() {
    const text = JSON.stringify(current);
    if (!host || text === sent) return;
    sent = text;
    post({ type: STATE, ...current });
  }

  window.addEventListener('message', (e) => {
    if (!host || e.origin !== host || e.source !== window.parent) return;
    const data = e.data;
    if (data && data.type === ACK && pending.has(data.id)) {
      pending.get(data.id)(true);
      pending.delete(data.id);
    }
  });

  return {
    /** The origins allowed to embed the player (from /api/config): talk to the host if it is one. */
    allow(origins = []) {
      const origin = embedded ? parentOrigin() : null;
      host = origin && origins.includes(origin) ? origin : null;
      sendState();
    },
    get host() {
      return host;
    },
    /** Buy clicked (`event` is the link's click): hand it to the host page's cart; open the product
     * page only when the host does not acknowledge in time. Without a host, the link does its job. */
    buy(product, event) {
      if (!host) return;
      if (event) event.preventDefault();
      counter += 1;
      const id = `b-${Date.now().toString(36)}-${counter}`;
      const item = cartItem(product);
      const acknowledged = new Promise((resolve) => {
        pending.set(id, resolve);
        setTimeout(() => resolve(false), ACK_TIMEOUT_MS);
      });
      post({ type: ADD_TO_CART, id, product: item });
      acknowledged.then((ok) => {
        pending.delete(id);
        document.documentElement.dataset.lastHandoff = ok ? 'cart' : 'product-page';
        if (!ok && item.productUrl) window.open(item.productUrl, '_blank', 'noopener');
      });
    },
    /** The page's state changed (any of state, livestreamId, title, viewers): tell the host. */
    state(update) {
      current = { ...current, ...update };
      sendState();
    },
  };
}
