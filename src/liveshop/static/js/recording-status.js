// The studio's notice about the server's own recording: shown when it pauses (the server's disk
// is full: the show stays live, what was recorded is kept) and gone when a new segment starts.
import { h, setText } from './dom.js';

const REASONS = {
  disk_full: "the server's disk is full",
  write_failed: 'the server could not write it',
};

/** Listen to `recording_status` on `hub`; the notice goes right after `anchor` (once per page). */
export function mountRecordingStatus(hub, anchor) {
  let notice = document.getElementById('server-rec-notice');
  if (!notice) {
    notice = h('p', { class: 'notice', role: 'alert', id: 'server-rec-notice' });
    anchor.after(notice);
  }
  notice.hidden = true;
  hub.on('recording_status', ({ state, reason }) => {
    if (state === 'paused') {
      const why = REASONS[reason] || REASONS.write_failed;
      setText(notice, `Recording paused: ${why}. You are still live; what was recorded so far is kept, and recording resumes by itself when there is room.`);
      notice.hidden = false;
    } else {
      notice.hidden = true;
      setText(notice, '');
    }
  });
  return notice;
}
