// Which file the replay page plays, and how its time maps onto the show's clock.
//
// A show has its recorded WebM (the studio's part or the server's first segment) and, once the
// background job made it, an MP4 (H.264 + AAC) that joins every part. The <video> gets <source>
// elements in order of preference: the MP4 first when it holds more than one part (the whole show)
// or when this browser cannot play the WebM (canPlayType: iPhones' Safari), else the WebM first
// with the MP4 as the fallback. The browser plays the first one it can.

export const WEBM_TYPE = 'video/webm; codecs="vp8, opus"';
export const MKV_TYPE = 'video/x-matroska';
export const MP4_TYPE = 'video/mp4';

/** [{src, type, kind}] for `video`, best first. `rendition` is GET …/rendition's answer. */
export function chooseSources(video, webmUrl, rendition) {
  const mp4 = rendition && rendition.state === 'done' && rendition.url ? { src: rendition.url, type: MP4_TYPE, kind: 'mp4' } : null;
  const original = webmUrl ? { src: webmUrl, type: webmUrl.endsWith('.mkv') ? MKV_TYPE : WEBM_TYPE, kind: 'webm' } : null;
  if (!mp4) return original ? [original] : [];
  if (!original) return [mp4];
  const whole = rendition.parts && rendition.parts.length > 1;
  const webmPlays = video.canPlayType(original.type) !== '';
  return whole || !webmPlays ? [mp4, original] : [original, mp4];
}

/** Put `sources` into `video` as <source> elements (and load them). */
export function setSources(video, sources) {
  video.removeAttribute('src');
  video.replaceChildren(...sources.map(({ src, type }) => Object.assign(document.createElement('source'), { src, type })));
  video.load();
}

/** The show-clock second shown at second `t` of the MP4 (its parts follow one another). */
export function mp4ToShow(parts, t) {
  let chosen = parts[0];
  for (const part of parts) if (part.startSeconds <= t) chosen = part;
  return chosen ? chosen.showOffsetSeconds + (t - chosen.startSeconds) : t;
}
