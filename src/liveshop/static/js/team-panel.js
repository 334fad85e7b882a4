// The seller's team: moderators (they log in to the studio and may delete messages, ban, unban and
// set slow mode and the new-shopper wait, nothing else). List, add, remove (their sessions end at
// once). GET/POST /api/staff, DELETE /api/staff/{id}.
import { confirmDialog, h, setText } from './dom.js';

export function createTeamPanel(section, { api }) {
  const list = h('ul', { class: 'team-list', 'aria-label': 'Team members' });
  const error = h('p', { class: 'error', role: 'alert' });
  const status = h('p', { class: 'muted', role: 'status' });
  const field = (id, label, attrs) => [h('label', { for: id, text: label }), h('input', { id, ...attrs })];
  const [emailLabel, email] = field('mod-email', "Moderator's e-mail", { type: 'email', autocomplete: 'off', maxlength: 254, required: true });
  const [nameLabel, name] = field('mod-name', "Moderator's name", { autocomplete: 'off', maxlength: 100, required: true });
  const [passwordLabel, password] = field('mod-password', "Moderator's password", { type: 'password', autocomplete: 'new-password', minlength: 8, maxlength: 1024, required: true, 'aria-describedby': 'mod-password-help' });
  const add = h('button', { type: 'submit', text: 'Add moderator' });
  const form = h(
    'form',
    { class: 'team-form', 'aria-labelledby': 'team-add-title' },
    h('h3', { id: 'team-add-title', text: 'Add a moderator' }),
    emailLabel,
    email,
    nameLabel,
    name,
    passwordLabel,
    password,
    h('p', { id: 'mod-password-help', class: 'muted small', text: 'At least 8 characters. Give it to them privately; they log in at this page.' }),
    add,
  );
  section.append(
    h('p', { class: 'muted small', text: 'Moderators log in here too and get the chat only: they can delete messages, ban and unban shoppers, and set slow mode and the new-shopper wait.' }),
    list,
    status,
    error,
    form,
  );

  function render(staff) {
    list.replaceChildren(
      ...staff.map((member) =>
        h(
          'li',
          { class: 'team-member', dataset: { userId: member.id } },
          h('span', { class: 'team-name', text: member.name }),
          h('span', { class: 'muted team-email', text: member.email }),
          member.role === 'admin' ? h('span', { class: 'chat-tag', text: 'seller' }) : h('span', { class: 'chat-tag moderator-tag', text: 'moderator' }),
          member.role === 'moderator'
            ? h('button', { type: 'button', class: 'danger-quiet', text: 'Remove', 'aria-label': `Remove ${member.name}`, onclick: () => remove(member) })
            : null,
        ),
      ),
    );
  }

  async function load() {
    try {
      render((await api.get('/api/staff')).staff);
      setText(error, '');
    } catch (err) {
      setText(error, `Could not load the team: ${err.message}`);
    }
  }

  async function remove(member) {
    const ok = await confirmDialog({ title: `Remove ${member.name}?`, body: 'Their account is deleted and they are logged out at once.', confirm: 'Remove', danger: true });
    if (!ok) return;
    try {
      await api.del(`/api/staff/${encodeURIComponent(member.id)}`);
      setText(status, `${member.name} is no longer a moderator.`);
    } catch (err) {
      if (err.status !== 404) setText(error, `Could not remove ${member.name}: ${err.message}`);
    }
    await load();
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    setText(error, '');
    setText(status, '');
    add.disabled = true;
    try {
      const member = await api.post('/api/staff', { email: email.value.trim(), name: name.value.trim(), password: password.value });
      form.reset();
      setText(status, `${member.name} can now log in as a moderator.`);
      await load();
    } catch (err) {
      setText(error, err.status === 409 ? 'That e-mail cannot be used for a new account.' : `Could not add the moderator: ${err.message}`);
    } finally {
      add.disabled = false;
    }
  });

  return { load };
}
