// The studio on a phone (narrow screens; css/studio-phone.css lays it out): the camera preview fills
// the screen and the show is run from compact overlays. This module owns what only that layout
// needs: the stage the studio is in (setup / live / summary, as data-stage for the CSS), the bottom
// sheets (chat with moderation, products to pin, shop settings, camera settings) opened from the
// tool buttons, the camera switch, mute, and keeping the screen awake while live. A moderator has no
// camera: their studio is in the 'moderate' stage, plain panels in the flow. Desktop keeps the panels; the
// same elements serve both layouts, so each control exists once.
import { createCameraSwitch } from './camera-switch.js';
import { $, formatPrice, h, setText } from './dom.js';
import { createWakeLock } from './wake-lock.js';

const PHONE = '(max-width: 700px)';

export function createPhoneStudio({ devices, root = $('#studio-view') }) {
  const status = $('#phone-status');
  const backdrop = $('#sheet-backdrop');
  const toggles = [...root.querySelectorAll('button[aria-controls]')];
  let open = null; // {button, panel} of the open sheet
  let moderator = false;
  let statusTimer = null;

  const say = (text) => {
    setText(status, text);
    clearTimeout(statusTimer);
    if (text) statusTimer = setTimeout(() => setText(status, ''), 4000);
  };

  const cameraSwitch = createCameraSwitch({ devices, button: $('#switch-camera'), say, preview: $('#preview') });
  const wakeLock = createWakeLock({
    onChange: (state) => {
      root.dataset.wakeLock = state;
    },
  });

  // -- sheets ----------------------------------------------------------------------------------

  function openSheet(button) {
    const panel = document.getElementById(button.getAttribute('aria-controls'));
    if (!panel) return;
    if (open && open.panel === panel) return closeSheet();
    closeSheet({ restoreFocus: false });
    open = { button, panel };
    panel.dataset.open = '';
    root.dataset.sheet = panel.id;
    button.setAttribute('aria-expanded', 'true');
    backdrop.hidden = false;
    // focus moves into the sheet (its heading, so a screen reader announces it)
    const heading = panel.querySelector('h2');
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
  }

  function closeSheet({ restoreFocus = true } = {}) {
    if (!open) return;
    const { button, panel } = open;
    open = null;
    delete panel.dataset.open;
    delete root.dataset.sheet;
    button.setAttribute('aria-expanded', 'false');
    backdrop.hidden = true;
    if (restoreFocus && !button.hidden && button.offsetParent !== null) button.focus({ preventScroll: true });
  }

  for (const button of toggles) button.addEventListener('click', () => openSheet(button));
  for (const close of root.querySelectorAll('[data-close]')) close.addEventListener('click', () => closeSheet());
  backdrop.addEventListener('click', () => closeSheet());
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && open && !document.querySelector('dialog[open]')) closeSheet();
  });
  // a tap on the latest chat lines opens the whole chat (with delete and ban)
  $('#chat-list').addEventListener('click', (e) => {
    if (!open && root.dataset.stage === 'live' && matchMedia(PHONE).matches && !e.target.closest('button')) openSheet($('#open-chat'));
  });
  // growing past the phone width leaves the sheets as desktop panels
  matchMedia(PHONE).addEventListener('change', (e) => {
    if (!e.matches) closeSheet({ restoreFocus: false });
  });

  // -- mute ------------------------------------------------------------------------------------

  const mute = $('#mute');
  mute.addEventListener('click', () => {
    const next = !devices.muted;
    devices.setMuted(next);
    mute.setAttribute('aria-pressed', next ? 'true' : 'false');
    say(next ? 'Microphone off: shoppers cannot hear you.' : 'Microphone on.');
  });

  // -- stages ----------------------------------------------------------------------------------

  function setStage(stage) {
    closeSheet({ restoreFocus: false });
    root.dataset.stage = moderator ? 'moderate' : stage;
    if (stage === 'live' && !moderator) wakeLock.start();
    else wakeLock.stop();
  }

  return {
    setStage,
    /** 'admin' (the seller) or 'moderator'. */
    setRole(role) {
      moderator = role !== 'admin';
    },
    /** The camera is open: offer the switch when there is another camera. */
    camerasChanged: () => cameraSwitch.refresh(),
    /** The Products button counts the pins; the newest one shows over the picture. */
    setPinned(pins) {
      const count = pins.length;
      const badge = $('#pinned-count');
      badge.hidden = count === 0;
      setText(badge, count);
      $('#open-products').setAttribute('aria-label', count ? `Products, ${count} pinned` : 'Products');
      const latest = pins[pins.length - 1];
      const chip = $('#pinned-now');
      chip.hidden = !latest;
      if (latest) {
        chip.replaceChildren(h('span', { class: 'pinned-now-tag', text: 'Pinned' }), h('span', { class: 'pinned-now-name', text: latest.name }), h('span', { class: 'pinned-now-price', text: formatPrice(latest.price, latest.currency) }));
        chip.setAttribute('aria-label', `Pinned: ${latest.name}, ${formatPrice(latest.price, latest.currency)}`);
      }
    },
    closeSheet,
  };
}
