// Tells the server how big the viewer's player is (sfu and janus modes, simulcast): POST {width, height} in
// device pixels to the WHEP session's /player, or height null in full screen, so a small player is
// not sent the 720p layer. Debounced; only sent when the size changes by more than 10 %.
const DEBOUNCE_MS = 500;

export function createPlayerSizeReporter({ video, getToken }) {
  let resource = null;
  let sent = null;
  let timer = null;

  function measure() {
    if (document.fullscreenElement) return { width: null, height: null };
    const ratio = window.devicePixelRatio || 1;
    return { width: Math.round(video.clientWidth * ratio), height: Math.round(video.clientHeight * ratio) };
  }

  function changed(next) {
    if (!sent) return true;
    if ((next.height === null) !== (sent.height === null)) return true;
    if (next.height === null) return false;
    return Math.abs(next.height - sent.height) > 0.1 * Math.max(1, sent.height);
  }

  function report() {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const size = measure();
      if (!resource || !changed(size) || size.height === 0) return;
      sent = size;
      fetch(`${resource}/player`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${getToken()}` },
        body: JSON.stringify(size),
      }).catch(() => {});
    }, DEBOUNCE_MS);
  }

  const observer = typeof ResizeObserver === 'function' ? new ResizeObserver(report) : null;
  if (observer) observer.observe(video);
  document.addEventListener('fullscreenchange', report);

  return {
    // a new WHEP session: its size is reported afresh
    session(url) {
      resource = url;
      sent = null;
      if (url) report();
    },
    stop() {
      clearTimeout(timer);
      if (observer) observer.disconnect();
      document.removeEventListener('fullscreenchange', report);
    },
  };
}
