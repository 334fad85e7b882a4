// The shopper's guest identity, kept in localStorage (shared by the watch and replay pages).
const GUEST_KEY = 'liveshop.guest';

export function loadGuest() {
  try {
    const value = JSON.parse(localStorage.getItem(GUEST_KEY) || 'null');
    return value && typeof value.token === 'string' ? value : null;
  } catch {
    return null;
  }
}

/** Store a login/guest answer; returns the stored guest. */
export function saveGuest(answer, named) {
  const guest = { token: answer.accessToken, user: answer.user, named };
  localStorage.setItem(GUEST_KEY, JSON.stringify(guest));
  return guest;
}

export function forgetGuest() {
  localStorage.removeItem(GUEST_KEY);
}

/**
 * Ask for a guest token (`api.guest(name)`, sent with the current token when there is one, so the
 * guest id is kept). The server limits new guest ids per network address: on 429 this waits for
 * its Retry-After (telling `onWait(seconds)`, counting down) and asks again; other errors throw.
 */
export async function obtainGuest(api, name, { onWait = () => {} } = {}) {
  for (;;) {
    try {
      return await api.guest(name);
    } catch (err) {
      if (err.status !== 429) throw err;
      let left = Math.max(1, Math.ceil(err.retryAfter || 10));
      while (left > 0) {
        onWait(left);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        left -= 1;
      }
      onWait(0);
    }
  }
}
