// The shop's chat rules (the seller's): blocked words and phrases, and whether shoppers may post
// links. Stored with PUT /api/moderation; every server process applies them to the next message,
// and a shopper whose message breaks them is told so (the message is not posted).
import { h, setText } from './dom.js';

const MAX_WORDS = 500;

export function createChatRulesPanel(section, { api }) {
  const words = h('textarea', { id: 'blocked-words', rows: 5, spellcheck: false, 'aria-describedby': 'blocked-words-help', placeholder: 'one word or phrase per line' });
  const links = h('input', { id: 'allow-links', type: 'checkbox', role: 'switch' });
  const status = h('p', { class: 'muted', role: 'status' });
  const error = h('p', { class: 'error', role: 'alert' });
  const save = h('button', { type: 'submit', class: 'primary', text: 'Save chat rules' });
  const form = h(
    'form',
    { class: 'chat-rules-form' },
    h('label', { for: 'blocked-words', text: 'Blocked words and phrases' }),
    words,
    h('p', { id: 'blocked-words-help', class: 'muted small', text: 'One per line. Case, spacing and punctuation do not hide them. Messages from shoppers that contain one are refused, and the sender is told why.' }),
    h('div', { class: 'check' }, links, h('label', { for: 'allow-links', text: 'Allow links from shoppers' })),
    error,
    h('div', { class: 'row' }, save, status),
  );
  section.append(form);

  const parse = () => [...new Set(words.value.split('\n').map((w) => w.trim()).filter(Boolean))];

  function show(rules) {
    words.value = rules.blockedWords.join('\n');
    links.checked = rules.allowLinks;
  }

  // the stored rules arrive after the page opens: never overwrite what the seller started typing
  let edited = false;
  words.addEventListener('input', () => { edited = true; });
  links.addEventListener('change', () => { edited = true; });

  async function load() {
    try {
      const rules = await api.get('/api/moderation');
      if (!edited) show(rules);
      setText(error, '');
    } catch (err) {
      setText(error, `Could not load the chat rules: ${err.message}`);
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    setText(status, '');
    setText(error, '');
    const blockedWords = parse();
    const tooLong = blockedWords.find((w) => w.length > 100);
    if (tooLong) {
      setText(error, `“${tooLong.slice(0, 30)}…” is too long: at most 100 characters per line.`);
      return;
    }
    if (blockedWords.length > MAX_WORDS) {
      setText(error, `At most ${MAX_WORDS} blocked words (you have ${blockedWords.length}).`);
      return;
    }
    save.disabled = true;
    try {
      show(await api.put('/api/moderation', { blockedWords, allowLinks: links.checked }));
      edited = false;
      const n = blockedWords.length;
      setText(status, `Saved: ${n} blocked word${n === 1 ? '' : 's'}, links ${links.checked ? 'allowed' : 'refused'}.`);
    } catch (err) {
      setText(error, `Could not save the chat rules: ${err.message}`);
    } finally {
      save.disabled = false;
    }
  });

  return { load };
}
