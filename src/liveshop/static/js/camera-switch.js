// Front/back camera switch. Phones name their cameras' facing mode: ask for the other one. Cameras
// that do not (webcams, Chromium's fake devices) are cycled through in the order the browser lists
// them. Only the video track is replaced (devices.replaceVideo), so the show is not interrupted.
/** The next camera after `current` (a MediaStreamTrack): {facingMode} or {deviceId}, or null. */
export async function nextCamera(current) {
  const settings = current ? current.getSettings() : {};
  const facing = settings.facingMode;
  const caps = current && current.getCapabilities ? current.getCapabilities() : {};
  if (facing === 'user' || facing === 'environment') {
    return { facingMode: facing === 'user' ? 'environment' : 'user' };
  }
  const cameras = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput' && d.deviceId);
  if (cameras.length < 2) return Array.isArray(caps.facingMode) && caps.facingMode.length ? { facingMode: 'environment' } : null;
  const at = cameras.findIndex((d) => d.deviceId === settings.deviceId);
  return { deviceId: cameras[(at + 1) % cameras.length].deviceId };
}

/** How many cameras this device has (labels need a granted permission, ids do not). */
export async function cameraCount() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return 0;
  return (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput').length;
}

/**
 * Wire `button` to switch cameras; `say(text)` tells the seller what happened. The button
 * is hidden on a device with one camera; while switching it is disabled (aria-busy on the preview).
 */
export function createCameraSwitch({ devices, button, say, preview }) {
  let busy = false;

  async function refresh() {
    button.hidden = (await cameraCount().catch(() => 0)) < 2;
  }

  async function flip() {
    if (busy) return;
    busy = true;
    button.disabled = true;
    preview.setAttribute('aria-busy', 'true');
    try {
      const next = await nextCamera(devices.videoTrack);
      if (!next) {
        say('There is no other camera.');
        return;
      }
      const track = await devices.replaceVideo(next);
      const facing = track && track.getSettings().facingMode;
      say(facing === 'environment' ? 'Back camera on.' : facing === 'user' ? 'Front camera on.' : `Camera: ${(track && track.label) || 'switched'}.`);
      button.dataset.deviceId = (track && track.getSettings().deviceId) || '';
    } catch (err) {
      say(`The camera could not be switched: ${err.message}`);
    } finally {
      busy = false;
      button.disabled = false;
      preview.removeAttribute('aria-busy');
    }
  }

  button.addEventListener('click', flip);
  if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) navigator.mediaDevices.addEventListener('devicechange', refresh);
  return { refresh, flip };
}
