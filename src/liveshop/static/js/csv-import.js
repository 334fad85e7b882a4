// Import and export in Shopify's product CSV format. An import is first a dry run: the seller sees
// what would be created or updated and every bad row (row, column, problem); only a file without
// errors can be imported, and it is imported whole or not at all.
import { h } from './dom.js';

const ACTIONS = { create: 'New', update: 'Update', unchanged: 'No change', skip: 'Skipped (archived)' };

export function createCsvImport(section, { api, fileInput, onImported }) {
  let file = null; // sent as it is: the server reads its bytes (UTF-8) and says what is wrong
  let fileName = '';

  async function send(dryRun) {
    return api.request('POST', `/api/products/import${dryRun ? '?dryRun=true' : ''}`, file, { headers: { 'Content-Type': 'text/csv' } });
  }

  function summary(report) {
    const parts = [];
    if (report.created) parts.push(`${report.created} new`);
    if (report.updated) parts.push(`${report.updated} to update`);
    if (report.unchanged) parts.push(`${report.unchanged} unchanged`);
    if (report.skipped) parts.push(`${report.skipped} archived (skipped)`);
    return `${report.rows} rows, ${report.products.length} products without errors: ${parts.join(', ') || 'nothing to import'}.`;
  }

  function render(report) {
    const errors = report.errors || [];
    const importButton = h('button', {
      type: 'button',
      class: 'primary',
      id: 'csv-confirm',
      text: `Import ${report.created + report.updated} products`,
      disabled: errors.length > 0 || report.created + report.updated === 0,
      onclick: () => confirm(importButton),
    });
    const cancel = h('button', { type: 'button', text: 'Cancel', onclick: close });
    section.replaceChildren(
      h('h2', { id: 'import-title', text: `Import preview: ${fileName}` }),
      h('p', { id: 'csv-summary', role: 'status', text: summary(report) }),
      errors.length
        ? h(
            'div',
            { class: 'csv-errors', role: 'alert' },
            h('p', { text: `${errors.length} ${errors.length === 1 ? 'row needs' : 'rows need'} fixing. Nothing is imported until the file has no errors: correct it and choose it again.` }),
            h('div', { class: 'scroll' }, h('ul', { id: 'csv-error-list' }, ...errors.map((e) => h('li', { dataset: { row: String(e.row) }, text: `Row ${e.row}${e.column ? `, ${e.column}` : ''}: ${e.message}` })))),
          )
        : null,
      report.products.length
        ? h(
            'div',
            { class: 'scroll' },
            h(
              'table',
              { id: 'csv-preview' },
              h('caption', { class: 'sr-only', text: 'Products in the file' }),
              h('thead', {}, h('tr', {}, ...['Row', 'Handle', 'Name', 'SKU', 'Price', 'Stock', 'Action'].map((t) => h('th', { scope: 'col', text: t })))),
              h(
                'tbody',
                {},
                ...report.products.map((p) =>
                  h('tr', { dataset: { handle: p.handle } }, h('td', { text: p.row }), h('td', { text: p.handle }), h('td', { text: p.name }), h('td', { text: p.sku || '—' }), h('td', { text: p.price }), h('td', { text: p.stock }), h('td', { class: 'action', text: ACTIONS[p.action] || p.action })),
                ),
              ),
            ),
          )
        : null,
      h('div', { class: 'row' }, cancel, importButton),
    );
    section.hidden = false;
  }

  async function confirm(button) {
    button.disabled = true;
    try {
      const report = await send(false);
      section.replaceChildren(
        h('h2', { id: 'import-title', text: 'Import done' }),
        h('p', { id: 'csv-summary', role: 'status', text: `Imported ${fileName}: ${report.created} new, ${report.updated} updated, ${report.unchanged} unchanged.` }),
        h('div', { class: 'row' }, h('button', { type: 'button', text: 'Close', onclick: close })),
      );
      onImported();
    } catch (err) {
      // another change since the preview: show the server's errors; nothing was imported
      section.replaceChildren(
        h('h2', { id: 'import-title', text: 'Nothing was imported' }),
        h('p', { class: 'error', role: 'alert', text: err.message }),
        h('div', { class: 'row' }, h('button', { type: 'button', text: 'Close', onclick: close })),
      );
    }
  }

  function close() {
    section.hidden = true;
    section.replaceChildren();
    file = null;
    fileInput.value = '';
  }

  fileInput.addEventListener('change', async () => {
    file = fileInput.files[0] || null;
    if (!file) return;
    fileName = file.name;
    section.hidden = false;
    section.replaceChildren(h('p', { role: 'status', text: `Checking ${fileName}…` }));
    try {
      render(await send(true));
    } catch (err) {
      section.replaceChildren(h('p', { class: 'error', role: 'alert', text: `Could not read ${fileName}: ${err.message}` }), h('button', { type: 'button', text: 'Close', onclick: close }));
    }
  });

  return { close };
}

/** Downloads the catalogue as products.csv (a fetch with the token, then a local link). */
export async function downloadExport(getToken) {
  const res = await fetch('/api/products/export.csv', { headers: { Authorization: `Bearer ${getToken()}` } });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const url = URL.createObjectURL(await res.blob());
  const link = h('a', { href: url, download: 'products.csv', hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

