// The seller's stream key for OBS: a publish-only WHIP bearer token (it can send the live show's
// video and nothing else). Created or rotated here and shown once, with the server URL to paste
// into OBS; afterwards only its last characters are known. Revoking it stops OBS at once.
import { confirmDialog, h, setText } from './dom.js';

export function createStreamKeyPanel(section, { api }) {
  const state = h('p', { class: 'stream-key-state', role: 'status' });
  const error = h('p', { class: 'error', role: 'alert' });
  const create = h('button', { type: 'button', class: 'primary', text: 'Create stream key' });
  const revoke = h('button', { type: 'button', class: 'danger-quiet', text: 'Revoke stream key', hidden: true });
  const copied = h('p', { class: 'muted', role: 'status' });
  const keyInput = h('input', { id: 'stream-key-value', readonly: true, spellcheck: false, autocomplete: 'off', class: 'mono' });
  const urlInput = h('input', { id: 'whip-url', readonly: true, spellcheck: false, class: 'mono', value: `${location.origin}/api/whip` });
  const done = h('button', { type: 'button', text: 'Done, hide the key' });
  const copyButton = (input, label) => h('button', { type: 'button', text: 'Copy', 'aria-label': label, onclick: () => copy(input, label) });
  const reveal = h(
    'div',
    { class: 'stream-key-reveal', hidden: true },
    h('p', { class: 'notice-text', text: 'Copy the key now: it is shown only this once. Anyone with it can send video to your live show.' }),
    h('label', { for: 'whip-url', text: 'Server (WHIP URL)' }),
    h('div', { class: 'row copy-row' }, urlInput, copyButton(urlInput, 'Copy server URL')),
    h('label', { for: 'stream-key-value', text: 'Stream key (Bearer Token)' }),
    h('div', { class: 'row copy-row' }, keyInput, copyButton(keyInput, 'Copy stream key')),
    copied,
    h('ol', { class: 'obs-steps small' },
      h('li', { text: 'Start the show here (Go live), or with the API.' }),
      h('li', { text: 'In OBS: Settings → Stream → Service “WHIP”, paste the server URL and the key as the Bearer Token.' }),
      h('li', { text: 'Start streaming in OBS: it sends the video of the show that is live.' }),
    ),
    done,
  );
  section.append(
    h('p', { class: 'muted small', text: 'Going live from OBS: a key that can only send the video of your live show (it cannot log in or change anything).' }),
    state,
    reveal,
    error,
    h('div', { class: 'row' }, create, revoke),
  );

  function render(hint) {
    setText(state, hint ? `A stream key is set (it ends in …${hint}).` : 'No stream key: OBS cannot send video.');
    create.textContent = hint ? 'Replace stream key' : 'Create stream key';
    revoke.hidden = !hint;
  }

  function hideKey() {
    keyInput.value = '';
    reveal.hidden = true;
    setText(copied, '');
  }

  async function copy(input, label) {
    const what = label === 'Copy stream key' ? 'Stream key' : 'Server URL';
    try {
      await navigator.clipboard.writeText(input.value);
      setText(copied, `${what} copied.`);
    } catch {
      // no clipboard permission: select it so the seller can copy it by hand
      input.focus();
      input.select();
      setText(copied, `${what} selected: press Ctrl+C (⌘C) to copy it.`);
    }
  }

  async function load() {
    try {
      render((await api.get('/api/stream-key')).hint);
      setText(error, '');
    } catch (err) {
      setText(error, `Could not load the stream key: ${err.message}`);
    }
  }

  create.addEventListener('click', async () => {
    setText(error, '');
    if (!revoke.hidden) {
      const ok = await confirmDialog({ title: 'Replace the stream key?', body: 'The current key stops working: OBS needs the new one.', confirm: 'Replace' });
      if (!ok) return;
    }
    create.disabled = true;
    try {
      const { key, hint } = await api.post('/api/stream-key');
      render(hint);
      keyInput.value = key;
      setText(copied, '');
      reveal.hidden = false;
      keyInput.focus();
      keyInput.select();
    } catch (err) {
      setText(error, `Could not create a stream key: ${err.message}`);
    } finally {
      create.disabled = false;
    }
  });

  revoke.addEventListener('click', async () => {
    const ok = await confirmDialog({ title: 'Revoke the stream key?', body: 'OBS can no longer start sending video with it.', confirm: 'Revoke', danger: true });
    if (!ok) return;
    try {
      await api.del('/api/stream-key');
      hideKey();
      render(null);
    } catch (err) {
      setText(error, `Could not revoke the stream key: ${err.message}`);
    }
  });

  done.addEventListener('click', () => {
    hideKey();
    create.focus();
  });

  return { load, clear: hideKey };
}
