// The <video> for a live stream: autoplay muted (browsers allow that), a visible "tap to unmute",
// reattaching when the media connection is replaced.

export function createPlayer(video, unmuteButton) {
  video.muted = true;
  video.playsInline = true;
  video.autoplay = true;

  function syncButton() {
    unmuteButton.hidden = !video.muted || !video.srcObject;
  }

  async function play() {
    try {
      await video.play();
    } catch (err) {
      // autoplay refused even muted, or interrupted by a new stream: the next attach/tap retries
      if (err && err.name === 'NotAllowedError') unmuteButton.hidden = false;
    }
  }

  unmuteButton.addEventListener('click', () => {
    video.muted = false;
    play();
    syncButton();
  });
  video.addEventListener('volumechange', syncButton);

  return {
    attach(stream) {
      if (video.srcObject !== stream) video.srcObject = stream;
      syncButton();
      play();
    },
    detach() {
      video.srcObject = null;
      syncButton();
    },
    get playing() {
      return !!video.srcObject && !video.paused && video.videoWidth > 0;
    },
  };
}
