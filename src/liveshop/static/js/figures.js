// Live figures (likes, pins, slow mode, the show's state) carry `rev`: the show's revision they are
// true at (docs/protocol.md, "Live figures"). A page keeps the newest: an update older than what it
// shows is ignored. Updates without `rev` are always taken (older servers).

export function createFigures() {
  let revs = {};
  return {
    /** Start over: another show, or a snapshot at `rev` (every figure in it is as of `rev`). */
    reset(rev) {
      revs = typeof rev === 'number' ? { likes: rev, pins: rev, slowMode: rev, show: rev } : {};
    },
    /** True when `key` at `rev` is not older than what is shown; it is what is shown from now. */
    take(key, rev) {
      if (typeof rev !== 'number') return true;
      if (rev < (revs[key] ?? -1)) return false;
      revs[key] = rev;
      return true;
    },
  };
}
