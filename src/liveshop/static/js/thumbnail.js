// The show's thumbnail: one frame of the camera preview drawn to a canvas, uploaded as JPEG
// (PUT /api/livestreams/{id}/thumbnail).

/** A JPEG Blob of the video's current frame, at most `maxWidth` pixels wide. */
export function captureFrame(video, { maxWidth = 640, quality = 0.85 } = {}) {
  if (!video || !video.videoWidth) return Promise.reject(new Error('the camera has no picture yet'));
  const scale = Math.min(1, maxWidth / video.videoWidth);
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('the frame could not be encoded'))), 'image/jpeg', quality);
  });
}

/** Capture and upload; resolves with the updated livestream. */
export async function uploadThumbnail(api, id, video) {
  const blob = await captureFrame(video);
  const { livestream } = await api.putThumbnail(id, blob);
  return livestream;
}
