// Camera and microphone for the studio: device pickers, quality preset, live preview, mic level
// meter, and a clear message with a retry when the camera is denied or missing.
import { h } from './dom.js';

export const QUALITY = {
  '480p': { width: 854, height: 480 },
  '720p': { width: 1280, height: 720 },
  '1080p': { width: 1920, height: 1080 },
};

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

  function constraints() {
    const q = QUALITY[qualitySelect.value] || QUALITY['720p'];
    return {
      video: {
        deviceId: cameraSelect.value ? { exact: cameraSelect.value } : undefined,
        width: { ideal: q.width },
        height: { ideal: q.height },
        frameRate: { ideal: 30 },
      },
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
    video.srcObject = stream;
    video.muted = true;
    video.play().catch(() => {});
    for (const track of stream.getTracks()) {
      track.addEventListener('ended', () => {
        if (stream && stream.getTracks().includes(track)) {
          problemMessage.textContent = 'The camera or microphone was disconnected. Reconnect it, then press Retry.';
          problem.hidden = false;
        }
      });
    }
    startMeter();
    await fillPickers().catch(() => {});
    onChange(stream);
    return stream;
  }

  cameraSelect.addEventListener('change', open);
  micSelect.addEventListener('change', open);
  qualitySelect.addEventListener('change', open);
  retry.addEventListener('click', open);

  return {
    open,
    release,
    get stream() {
      return stream;
    },
    get quality() {
      return qualitySelect.value;
    },
  };
}
