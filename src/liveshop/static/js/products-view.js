// Pinned products as cards: image, name, price in the product's currency, stock, and a Buy link.
import { formatPrice, h, safeUrl } from './dom.js';

/** An uploaded picture's sizes for `srcset` (null when the picture is only a URL). */
export function srcset(product) {
  const sizes = (product.images || []).filter((i) => safeUrl(i.url));
  return sizes.length ? sizes.map((i) => `${i.url} ${i.width}w`).join(', ') : null;
}

export function productCard(product, { onBuy } = {}) {
  const href = safeUrl(product.productUrl);
  const image = safeUrl(product.imageUrl);
  const stock = Number(product.stock) || 0;
  return h(
    'li',
    { class: 'product-card', dataset: { productId: String(product.id) } },
    image ? h('img', { class: 'product-img', src: image, srcset: srcset(product), sizes: '72px', alt: '', loading: 'lazy', width: 72, height: 72 }) : h('div', { class: 'product-img placeholder', 'aria-hidden': 'true' }),
    h(
      'div',
      { class: 'product-info' },
      h('h3', { class: 'product-name', text: product.name }),
      h('p', { class: 'product-price', text: formatPrice(product.price, product.currency) }),
      h('p', { class: `product-stock${stock === 0 ? ' out' : ''}`, text: stock === 0 ? 'Sold out' : `${stock} in stock` }),
    ),
    href
      ? h('a', {
          class: 'buy',
          href,
          target: '_blank',
          rel: 'noopener',
          text: 'Buy',
          'aria-label': `Buy ${product.name}`,
          onclick: (event) => onBuy && onBuy(product, event),
        })
      : h('span', { class: 'buy disabled', text: 'Soon' }),
  );
}

/** Shoppers see the newest pin first. */
export function createProductsView(list, { onBuy, newestFirst = true, empty = null } = {}) {
  return {
    render(products = []) {
      const ordered = newestFirst ? [...products].reverse() : products;
      list.replaceChildren(...ordered.map((p) => productCard(p, { onBuy })));
      if (empty) empty.hidden = products.length > 0;
    },
  };
}
