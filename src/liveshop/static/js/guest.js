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
