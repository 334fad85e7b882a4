// The product form (a <dialog>): add or edit a product's name, description, price, currency,
// stock, SKU, handle, link and picture. The picture is uploaded after the product is saved; the
// server keeps its pixels only (EXIF dropped) in three sizes.
import { ApiError } from './api.js';
import { h, safeUrl, setText } from './dom.js';

const CURRENCIES = ['USD', 'EUR', 'GBP', 'CAD', 'AUD', 'CHF', 'SEK', 'NOK', 'DKK', 'PLN', 'JPY'];
const PICTURE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif'];
const MAX_PICTURE = 10 * 1024 * 1024;

function field(id, label, input) {
  input.id = id;
  return h('div', {}, h('label', { for: id, text: label }), input);
}

/** Opens the editor; resolves to the saved product, or null when cancelled. */
export function openProductEditor({ api, product = null }) {
  return new Promise((resolve) => {
    let current = product;
    let chosen = null; // a File to upload
    let previewUrl = null;
    const p = product || { name: '', description: '', price: '', currency: 'USD', stock: 0, sku: '', handle: '', productUrl: '' };
    const name = h('input', { required: true, maxlength: 200, value: p.name, autocomplete: 'off' });
    const description = h('textarea', { rows: 4, maxlength: 5000 });
    description.value = p.description;
    const price = h('input', { required: true, inputmode: 'decimal', value: p.price, placeholder: '19.99', pattern: '[0-9]+([.][0-9]{1,2})?', autocomplete: 'off' });
    const currency = h('select', {}, ...[...new Set([p.currency, ...CURRENCIES])].map((c) => h('option', { value: c, text: c, selected: c === p.currency })));
    const stock = h('input', { type: 'number', min: 0, step: 1, value: String(p.stock), required: true });
    const sku = h('input', { maxlength: 100, value: p.sku, autocomplete: 'off', placeholder: 'Optional' });
    const handle = h('input', { maxlength: 255, value: p.handle, autocomplete: 'off', placeholder: 'Made from the name', pattern: '[a-z0-9]+(-[a-z0-9]+)*' });
    const productUrl = h('input', { type: 'text', maxlength: 2048, value: p.productUrl, placeholder: 'https://your-shop.example/products/…', autocomplete: 'off' });
    const file = h('input', { type: 'file', accept: PICTURE_TYPES.join(','), id: 'product-picture' });
    const preview = h('div', { class: 'picture-field' });
    const error = h('p', { class: 'error', role: 'alert' });
    const save = h('button', { type: 'submit', class: 'primary', text: product ? 'Save' : 'Add product' });
    const cancel = h('button', { type: 'button', text: 'Cancel' });
    const title = h('h2', { id: 'editor-title', text: product ? `Edit “${product.name}”` : 'Add a product' });

    function showPicture() {
      const src = previewUrl || safeUrl(current ? current.imageUrl : '');
      preview.replaceChildren(
        src ? h('img', { src, alt: 'Picture preview' }) : h('div', { class: 'placeholder', 'aria-hidden': 'true' }),
        h('div', {}, h('label', { for: 'product-picture', text: 'Picture (JPEG, PNG, WebP or GIF, up to 10 MB)' }), file),
      );
    }
    showPicture();

    file.addEventListener('change', () => {
      setText(error, '');
      const f = file.files[0] || null;
      if (f && !PICTURE_TYPES.includes(f.type)) {
        setText(error, 'Choose a JPEG, PNG, WebP or GIF picture.');
        file.value = '';
        return;
      }
      if (f && f.size > MAX_PICTURE) {
        setText(error, 'The picture is over 10 MB.');
        file.value = '';
        return;
      }
      chosen = f;
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = f ? URL.createObjectURL(f) : null;
      showPicture();
    });

    const form = h(
      'form',
      { method: 'dialog', novalidate: false },
      title,
      field('product-name', 'Name', name),
      field('product-description', 'Description', description),
      h('div', { class: 'grid' }, field('product-price', 'Price', price), field('product-currency', 'Currency', currency), field('product-stock', 'Stock', stock)),
      h('div', { class: 'grid' }, field('product-sku', 'SKU', sku), field('product-handle', 'Handle', handle)),
      field('product-url', 'Product page (Buy link)', productUrl),
      preview,
      error,
      h('div', { class: 'row' }, cancel, save),
    );
    const dialog = h('dialog', { class: 'product-editor', 'aria-labelledby': 'editor-title' }, form);

    function close(result) {
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      dialog.close();
      dialog.remove();
      resolve(result);
    }
    cancel.addEventListener('click', () => close(current !== product ? current : null));
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      close(current !== product ? current : null);
    });

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      setText(error, '');
      const body = {
        name: name.value.trim(),
        description: description.value,
        price: price.value.trim(),
        currency: currency.value,
        stock: Number(stock.value),
        sku: sku.value.trim(),
        productUrl: productUrl.value.trim(),
      };
      if (handle.value.trim()) body.handle = handle.value.trim();
      save.disabled = true;
      try {
        const answer = current ? await api.patch(`/api/products/${current.id}`, body) : await api.post('/api/products', body);
        current = answer.product;
        if (chosen) {
          const uploaded = await api.request('PUT', `/api/products/${current.id}/picture`, chosen, { headers: { 'Content-Type': chosen.type } });
          current = uploaded.product;
          chosen = null;
        }
        close(current);
      } catch (err) {
        const what = current ? (chosen ? 'The product was saved, but not its picture' : 'Could not save') : 'Could not add the product';
        setText(error, `${what}: ${err instanceof ApiError ? err.message : String(err)}`);
        if (current) {
          title.textContent = `Edit “${current.name}”`;
          save.textContent = 'Save';
        }
      } finally {
        save.disabled = false;
      }
    });

    document.body.append(dialog);
    dialog.showModal();
    name.focus();
  });
}
