// The ban confirmation: who is banned, whether their messages go too, and whether their network
// address is banned along (off by default: carriers and public Wi-Fi put many shoppers behind one
// address). An accessible <dialog>; resolves {deleteMessages, banAddress} or null when cancelled.
import { h } from './dom.js';

let dialogs = 0;

export function banDialog(name) {
  dialogs += 1;
  const id = (part) => `ban-${dialogs}-${part}`;
  return new Promise((resolve) => {
    const deleteMessages = h('input', { type: 'checkbox', id: id('delete'), checked: true });
    const banAddress = h('input', { type: 'checkbox', id: id('address'), 'aria-describedby': id('address-warning') });
    const ok = h('button', { type: 'submit', value: 'ok', class: 'danger', text: 'Ban' });
    const no = h('button', { type: 'submit', value: 'cancel', text: 'Cancel' });
    const dialog = h(
      'dialog',
      { 'aria-labelledby': id('title'), 'aria-describedby': id('body'), class: 'confirm ban-dialog' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: id('title'), text: `Ban ${name}?` }),
        h('p', { id: id('body'), text: 'They leave the show and cannot come back or chat in it. You can lift the ban from the bans list.' }),
        h('div', { class: 'check' }, deleteMessages, h('label', { for: id('delete'), text: 'Also delete their messages' })),
        h('div', { class: 'check' }, banAddress, h('label', { for: id('address'), text: 'Also ban their network address' })),
        h('p', { id: id('address-warning'), class: 'muted small', text: 'Careful: mobile carriers and public Wi-Fi put many shoppers behind one address — they would all be shut out of this show.' }),
        h('div', { class: 'row' }, no, ok),
      ),
    );
    dialog.addEventListener('close', () => {
      const answer = dialog.returnValue === 'ok' ? { deleteMessages: deleteMessages.checked, banAddress: banAddress.checked } : null;
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}
