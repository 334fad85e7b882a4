// Camera and microphone for the studio: device pickers, capture preset (portrait for a phone held
// upright, landscape for webcams), live preview, mic level meter, mute, swapping only the video
// track (camera switch), and a clear message with a retry when the camera is denied or missing.
import { h } from './dom.js';

/** Capture presets: the select's value is `<quality>-<orientation>`; the show records `quality`. */
export const QUALITY = {
  '480p': { width: 854, height: 480 },
  '720p': { width: 1280, height: 720 },
  '1080p': { width: 1920, height: 1080 },
};

/** Phones (narrow screens, or a touch screen held upright) start in portrait; desktops in landscape. */
export function prefersPortrait() {
  return matchMedia('(max-width: 700px)').matches || matchMedia('(pointer: coarse) and (orientation: portrait)').matches;
}

export function parsePreset(value) {
  const [quality, orientation] = String(value || '').split('-');
  return { quality: QUALITY[quality] ? quality : '720p', orientation: orientation === 'portrait' ? 'portrait' : 'landscape' };
}

/** The getUserMedia video constraints of a preset (portrait swaps width and height). */
export function presetConstraints(value) {
  const { quality, orientation } = parsePreset(value);
  const q = QUALITY[quality];
  const portrait = orientation === 'portrait';
  return {
    width: { ideal: portrait ? q.height : q.width },
    height: { ideal: portrait ? q.width : q.height },
    aspectRatio: { ideal: portrait ? q.height / q.width : q.width / q.height },
    frameRate: { ideal: 30 },
  };
}

function problemText(err) {
  switch (err && err.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera and microphone access is blocked. Allow it for this site (the camera icon in the address bar), then press Retry.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera or microphone was found. Connect one, then press Retry.';
    case 'NotReadableError':
    case 'AbortError':
      return 'The camera is busy: another application or tab is using it. Close it, then press Retry.';
    case 'TypeError':
      return 'This page needs HTTPS (or localhost) to use the camera.';
    default:
      return `The camera could not be opened (${(err && err.message) || 'unknown error'}). Press Retry.`;
  }
}

export function createDevices({ video, cameraSelect, micSelect, qualitySelect, meter, problem, problemMessage, retry, onChange = () => {} }) {
  let stream = null;
  let audio = null; // {ctx, source, analyser, raf}
  let muted = false;
  const portraitDefault = prefersPortrait();
  qualitySelect.value = `720p-${portraitDefault ? 'portrait' : 'landscape'}`;

  function videoConstraints(deviceId = cameraSelect.value) {
    return {
      deviceId: deviceId ? { exact: deviceId } : undefined,
      // a phone opens its front (selfie) camera first
      facingMode: !deviceId && portraitDefault ? { ideal: 'user' } : undefined,
      ...presetConstraints(qualitySelect.value),
    };
  }

  function constraints() {
    return {
      video: videoConstraints(),
      audio: {
        deviceId: micSelect.value ? { exact: micSelect.value } : undefined,
        echoCancellation: true,
        noiseSuppression: true,
      },
    };
  }

  async function fillPickers() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const fill = (select, kind, fallback) => {
      const current = select.value || (stream && stream.getTracks().find((t) => t.kind === kind.replace('input', ''))?.getSettings().deviceId) || '';
      const items = devices.filter((d) => d.kind === kind);
      select.replaceChildren(...items.map((d, i) => h('option', { value: d.deviceId, text: d.label || `${fallback} ${i + 1}` })));
      if (items.some((d) => d.deviceId === current)) select.value = current;
      select.disabled = items.length === 0;
    };
    fill(cameraSelect, 'videoinput', 'Camera');
    fill(micSelect, 'audioinput', 'Microphone');
  }

  function stopMeter() {
    if (!audio) return;
    cancelAnimationFrame(audio.raf);
    audio.source.disconnect();
    audio.ctx.close().catch(() => {});
    audio = null;
    meter.style.width = '0%';
  }

  function startMeter() {
    stopMeter();
    if (!stream || stream.getAudioTracks().length === 0 || typeof AudioContext === 'undefined') return;
    const ctx = new AudioContext();
    const source = ctx.createMediaStreamSource(new MediaStream(stream.getAudioTracks()));
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    source.connect(analyser);
    const data = new Float32Array(analyser.fftSize);
    audio = { ctx, source, analyser, raf: 0 };
    const resume = () => ctx.state === 'suspended' && ctx.resume().catch(() => {});
    document.addEventListener('click', resume, { once: true });
    const tick = () => {
      analyser.getFloatTimeDomainData(data);
      let sum = 0;
      for (const v of data) sum += v * v;
      const rms = Math.sqrt(sum / data.length);
      const level = Math.min(100, Math.round(Math.max(0, (20 * Math.log10(rms || 1e-8) + 60) / 60) * 100));
      meter.style.width = `${level}%`;
      meter.parentElement.setAttribute('aria-valuenow', String(level));
      audio.raf = requestAnimationFrame(tick);
    };
    audio.raf = requestAnimationFrame(tick);
  }

  function release() {
    stopMeter();
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    video.srcObject = null;
  }

  async function open() {
    problem.hidden = true;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      problemMessage.textContent = problemText({ name: 'TypeError' });
      problem.hidden = false;
      return null;
    }
    const previous = stream;
    let next;
    try {
      next = await navigator.mediaDevices.getUserMedia(constraints());
    } catch (err) {
      if (err && err.name === 'OverconstrainedError' && (cameraSelect.value || micSelect.value)) {
        cameraSelect.value = '';
        micSelect.value = '';
        return open();
      }
      release();
      problemMessage.textContent = problemText(err);
      problem.hidden = false;
      retry.focus();
      onChange(null);
      return null;
    }
    stream = next;
    if (previous && previous !== next) previous.getTracks().forEach((t) => t.stop());
    stream.getAudioTracks().forEach((t) => (t.enabled = !muted));
    show(stream);
    stream.getTracks().forEach(watchEnded);
    startMeter();
    await fillPickers().catch(() => {});
    onChange(stream);
    return stream;
  }

  function show(current) {
    video.srcObject = current;
    video.muted = true;
    video.play().catch(() => {});
    // the seller sees their front camera as in a mirror (what is sent is not mirrored)
    const track = current.getVideoTracks()[0];
    video.classList.toggle('mirror', !!track && track.getSettings().facingMode === 'user');
  }

  function watchEnded(track) {
    track.addEventListener('ended', () => {
      if (stream && stream.getTracks().includes(track)) {
        problemMessage.textContent = 'The camera or microphone was disconnected. Reconnect it, then press Retry.';
        problem.hidden = false;
      }
    });
  }

  /**
   * Another camera, keeping the microphone: only the video track changes, so a running publisher
   * swaps it with replaceTrack (onChange) and the show goes on. `choice` is {deviceId} or
   * {facingMode}. The old camera is released first: phones cannot open two at once.
   */
  async function replaceVideo(choice) {
    if (!stream) return open();
    const old = stream.getVideoTracks()[0];
    const base = videoConstraints(choice.deviceId || '');
    if (choice.facingMode) base.facingMode = { exact: choice.facingMode };
    if (old) old.stop();
    let track;
    try {
      [track] = (await navigator.mediaDevices.getUserMedia({ video: base })).getVideoTracks();
    } catch (err) {
      if (!old) throw err;
      // the other camera refused: take the one we had back
      [track] = (await navigator.mediaDevices.getUserMedia({ video: videoConstraints(old.getSettings().deviceId) })).getVideoTracks();
    }
    stream = new MediaStream([track, ...stream.getAudioTracks()]);
    show(stream);
    watchEnded(track);
    const id = track.getSettings().deviceId;
    if (id && [...cameraSelect.options].some((o) => o.value === id)) cameraSelect.value = id;
    onChange(stream);
    return track;
  }

  function setMuted(value) {
    muted = !!value;
    if (stream) stream.getAudioTracks().forEach((t) => (t.enabled = !muted));
  }

  cameraSelect.addEventListener('change', open);
  micSelect.addEventListener('change', open);
  qualitySelect.addEventListener('change', open);
  retry.addEventListener('click', open);

  return {
    open,
    release,
    replaceVideo,
    setMuted,
    get muted() {
      return muted;
    },
    get videoTrack() {
      return stream ? stream.getVideoTracks()[0] || null : null;
    },
    get stream() {
      return stream;
    },
    /** What the show records as its quality: 480p, 720p or 1080p (the short side). */
    get quality() {
      return parsePreset(qualitySelect.value).quality;
    },
    get orientation() {
      return parsePreset(qualitySelect.value).orientation;
    },
  };
}
