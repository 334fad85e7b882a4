// The <video> for a live stream: autoplay muted (browsers allow that), a visible "tap to unmute"
// (or a tap on the picture), reattaching when the media connection is replaced.

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

  function unmute() {
    video.muted = false;
    play();
    syncButton();
  }
  unmuteButton.addEventListener('click', unmute);
  // as in the phone apps, a tap anywhere on the picture turns the sound on (the button stays the
  // way for keyboards and screen readers)
  video.addEventListener('click', () => {
    if (video.muted && video.srcObject) unmute();
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
