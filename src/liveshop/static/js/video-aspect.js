// Lay a video out by the shape of its picture: `target.dataset.aspect` is portrait, landscape or
// square and the CSS variable --video-aspect is width/height, both updated whenever the picture's
// size changes (a seller rotating the phone, switching camera, a new stream). The CSS uses them to
// give an upright video an upright box instead of a landscape box with black bands.

export function aspectOf(width, height) {
  if (!width || !height) return null;
  const ratio = width / height;
  return ratio < 0.95 ? 'portrait' : ratio > 1.05 ? 'landscape' : 'square';
}

export function followVideoAspect(video, target = video) {
  function update() {
    const aspect = aspectOf(video.videoWidth, video.videoHeight);
    if (!aspect) return;
    target.dataset.aspect = aspect;
    target.style.setProperty('--video-aspect', String(video.videoWidth / video.videoHeight));
  }
  video.addEventListener('loadedmetadata', update);
  video.addEventListener('resize', update);
  update();
  return update;
}
