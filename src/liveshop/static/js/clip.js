// /clips/{id}: one clip of a show (a product's time on screen, or a seller's highlight) with the
// product's card, so a shop can link to it or put it on the product's page. /embed/clips/{id} is
// the same page framed by a shop's site: Buy goes to the host page's cart (shop-bridge.js).
import { createApi } from './api.js';
import { $, formatDuration, setText } from './dom.js';
import { productCard } from './products-view.js';
import { createShopBridge } from './shop-bridge.js';

const match = location.pathname.match(/^(?:\/embed)?\/clips\/(\d+)\/?$/);
const api = createApi();
const bridge = createShopBridge();

async function main() {
  const box = $('#clip');
  try {
    if (!match) throw new Error('The link is not a clip link.');
    const { clip } = await api.get(`/api/clips/${match[1]}`, { auth: false });
    if (clip.state !== 'done') throw new Error('This clip is still being cut — try again in a moment.');
    const product = clip.productId ? (await api.get(`/api/products/${clip.productId}`, { auth: false }).catch(() => null))?.product : null;
    const title = clip.title || (product ? product.name : 'Highlight');
    document.title = `${title} — clip`;
    setText($('#clip-title'), title);
    setText($('#clip-meta'), formatDuration(clip.durationSeconds || 0));
    $('#clip-video').src = clip.url;
    $('#clip-replay').href = `/replays/${clip.livestreamId}`;
    if (product) $('#clip-product').replaceChildren(productCard(product, { onBuy: (p, event) => bridge.buy(p, event) }));
    bridge.allow((await api.config().catch(() => ({}))).embedOrigins || []);
    bridge.state({ state: 'clip', livestreamId: clip.livestreamId, title });
  } catch (err) {
    setText($('#clip-problem'), err.status === 404 ? 'There is no such clip.' : err.message);
  } finally {
    box.setAttribute('aria-busy', 'false');
  }
}

main();
