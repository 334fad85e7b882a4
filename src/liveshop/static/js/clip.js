// /clips/{id}: one clip of a show (a product's time on screen, or a seller's highlight) with the
// product's card, so a shop can link to it or put it on the product's page.
import { createApi } from './api.js';
import { $, formatDuration, setText } from './dom.js';
import { productCard } from './products-view.js';

const match = location.pathname.match(/^\/clips\/(\d+)\/?$/);
const api = createApi();

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
    if (product) $('#clip-product').replaceChildren(productCard(product));
  } catch (err) {
    setText($('#clip-problem'), err.status === 404 ? 'There is no such clip.' : err.message);
  } finally {
    box.setAttribute('aria-busy', 'false');
  }
}

main();
