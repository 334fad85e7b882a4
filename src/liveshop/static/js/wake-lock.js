// Keep the screen on while live (Screen Wake Lock API where the browser has it). The browser drops
// the lock when the tab is hidden; it is taken again when the seller comes back.

export function createWakeLock({ onChange = () => {} } = {}) {
  let wanted = false;
  let sentinel = null;

  async function acquire() {
    if (!wanted || sentinel || document.visibilityState !== 'visible') return;
    if (!('wakeLock' in navigator)) {
      onChange('unsupported');
      return;
    }
    try {
      sentinel = await navigator.wakeLock.request('screen');
      sentinel.addEventListener('release', () => {
        sentinel = null;
        onChange(wanted ? 'released' : 'off');
      });
      if (!wanted) {
        // released in the meantime
        await sentinel.release();
        return;
      }
      onChange('held');
    } catch (err) {
      // refused (battery saver, no user activation): the show goes on, the screen may dim
      sentinel = null;
      onChange('refused');
    }
  }

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') acquire();
  });

  return {
    start() {
      wanted = true;
      return acquire();
    },
    stop() {
      wanted = false;
      const current = sentinel;
      sentinel = null;
      if (current) current.release().catch(() => {});
      onChange('off');
    },
  };
}
