// The studio's own recording: MediaRecorder (WebM VP9/Opus, else VP8) cut into chunks every few
// seconds, each uploaded while live with its sequence number (PUT …/recording/chunks/{seq}), one
// after another. A failed upload is retried with backoff from the first chunk not acknowledged;
// nothing is ever skipped. At the end, POST …/recording/complete; chunks the server reports missing
// (409 {missing}) are sent again and the completion retried.
//
// Chunks stay in memory (Blobs, which Chromium pages to disk when large) until the recording is
// complete, so any of them can be re-sent. How far the upload got is kept in localStorage, so a
// studio reopened after a crash can still complete what reached the server. A studio reopened
// mid-show completes what the earlier tab uploaded as one part (completeEarlierPart), then records
// the next part, which is appended: the replay joins the parts in order.
import { ApiError } from './api.js';
import { backoff } from './media/common.js';

const MIME_TYPES = ['video/webm;codecs=vp9,opus', 'video/webm;codecs=vp8,opus', 'video/webm;codecs=vp9', 'video/webm;codecs=vp8', 'video/webm'];
const PROGRESS_KEY = (id) => `liveshop.recording.${id}`;

/** The best WebM type this browser records, or null when it cannot record. */
export function pickMimeType() {
  if (typeof MediaRecorder === 'undefined') return null;
  return MIME_TYPES.find((t) => MediaRecorder.isTypeSupported(t)) || null;
}

/** Chunks 0..n-1 of show `id` reached the server (a previous studio tab), or 0. */
export function uploadedBefore(id) {
  try {
    const saved = JSON.parse(localStorage.getItem(PROGRESS_KEY(id)) || 'null');
    return saved && Number.isInteger(saved.uploaded) ? saved.uploaded : 0;
  } catch {
    return 0;
  }
}

function saveProgress(id, uploaded) {
  try {
    localStorage.setItem(PROGRESS_KEY(id), JSON.stringify({ uploaded, at: Date.now() }));
  } catch {
    // storage full or disabled: only crash recovery is lost
  }
}

export function forgetProgress(id) {
  try {
    localStorage.removeItem(PROGRESS_KEY(id));
  } catch {
    // ignore
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** What to do about a failed request: retry it (network, busy, disk full) or give up. */
function classify(err) {
  const status = err instanceof ApiError ? err.status : 0;
  if (status === 507) return { retry: true, kind: 'disk_full', message: "The server's disk is full — the recording is kept in this tab and the upload is retried." };
  if (status === 413) return { retry: false, kind: 'too_large', message: 'The recording reached the size limit of this server: recording stopped (what was uploaded is kept).' };
  if (status === 0 || status === 408 || status === 429 || status >= 500) {
    return { retry: true, kind: 'network', message: 'Recording upload interrupted — retrying…' };
  }
  return { retry: false, kind: 'fatal', message: `The recording could not be uploaded: ${err.message}` };
}

/**
 * Send `fn()` until it succeeds or fails for good. `onProblem(problem|null)` hears about retries.
 * Throws the last error, with `.problem`, when it is not worth retrying.
 */
async function withRetry(fn, onProblem) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const result = await fn();
      onProblem(null);
      return result;
    } catch (err) {
      const problem = classify(err);
      err.problem = problem;
      if (!problem.retry) throw err;
      onProblem(problem);
      const wait = err.retryAfter ? err.retryAfter * 1000 : backoff(attempt, problem.kind === 'disk_full' ? 5000 : 1000, 30000);
      await sleep(wait);
    }
  }
}

/**
 * Complete show `id`'s upload of chunks 0..lastSeq. `resend(seq)` sends a chunk again (or throws
 * when it is not available). Returns the updated livestream.
 */
export async function completeUpload(api, id, lastSeq, { resend, onProblem = () => {}, startOffsetSeconds }) {
  for (let round = 0; ; round += 1) {
    try {
      const { livestream } = await withRetry(() => api.completeRecording(id, lastSeq, startOffsetSeconds), onProblem);
      forgetProgress(id);
      return livestream;
    } catch (err) {
      const missing = err instanceof ApiError && err.status === 409 && err.data && Array.isArray(err.data.missing) ? err.data.missing : null;
      if (!missing || round >= 3) throw err;
      onProblem({ kind: 'missing', message: `The server is missing ${missing.length} chunk${missing.length === 1 ? '' : 's'} of the recording — sending ${missing.length === 1 ? 'it' : 'them'} again…` });
      for (const seq of missing) await resend(seq);
    }
  }
}

/**
 * A studio reopened mid-show: complete, as one part of the show's recording, the chunks an earlier
 * tab (this browser or another) uploaded and never completed, so the recording this tab makes next
 * is appended as the following part. Resolves with how many chunks were completed (0: none).
 */
export async function completeEarlierPart(api, id, { onProblem = () => {} } = {}) {
  const { seqs } = await api.get(`/api/livestreams/${id}/recording/chunks`);
  let last = -1;
  while (seqs.includes(last + 1)) last += 1; // the unbroken run from chunk 0
  if (last < 0) return 0;
  await completeUpload(api, id, last, {
    resend: (seq) => Promise.reject(new Error(`part ${seq} never reached the server`)),
    onProblem,
  });
  return last + 1;
}

/**
 * Record `stream` for show `id`. `onChange(state)` is called on every change with
 * {state, seconds, chunks, uploaded, uploadedBytes, pendingChunks, problem}.
 */
export function createShowRecorder({ api, id, stream, timeslice = 2000, onChange = () => {}, startOffsetSeconds }) {
  const mimeType = pickMimeType();
  const chunks = new Map(); // seq → Blob, until the recording is complete
  let produced = 0; // chunks the recorder gave us (seq 0..produced-1)
  let uploaded = 0; // chunks 0..uploaded-1 are acknowledged by the server
  let uploadedBytes = 0;
  let state = 'idle'; // recording | stopping | uploading | completing | done | failed
  let problem = null;
  let pumping = false;
  let halted = null; // an upload error that stops uploading for good (size limit, refused)
  let recorder = null;
  let startedAt = 0;
  let stoppedAt = 0;
  let stopped = null; // resolves when the recorder's last chunk is in
  let waiters = [];

  function snapshot() {
    const end = stoppedAt || performance.now();
    return {
      state,
      mimeType,
      seconds: startedAt ? (end - startedAt) / 1000 : 0,
      chunks: produced,
      uploaded,
      uploadedBytes,
      pendingChunks: produced - uploaded,
      problem,
    };
  }

  function emit() {
    try {
      onChange(snapshot());
    } catch (err) {
      console.warn('recording listener failed', err);
    }
  }

  function setProblem(next) {
    if (problem === next || (problem && next && problem.message === next.message)) return;
    problem = next;
    emit();
  }

  function wake() {
    const list = waiters;
    waiters = [];
    list.forEach((fn) => fn());
  }

  async function pump() {
    if (pumping) return;
    pumping = true;
    try {
      while (uploaded < produced && !halted) {
        const seq = uploaded;
        const blob = chunks.get(seq);
        await withRetry(() => api.putChunk(id, seq, blob), setProblem);
        uploaded = seq + 1;
        uploadedBytes += blob.size;
        saveProgress(id, uploaded);
        emit();
      }
    } catch (err) {
      halted = err;
      problem = err.problem || { kind: 'fatal', message: String(err.message || err) };
      if (recorder && recorder.state !== 'inactive') recorder.stop(); // nothing more can be kept
      emit();
    } finally {
      pumping = false;
      wake();
    }
  }

  /** Resolves once every chunk produced so far is uploaded (or uploading stopped for good). */
  function drained() {
    return new Promise((resolve) => {
      const check = () => {
        if ((uploaded >= produced || halted) && !pumping) resolve();
        else waiters.push(check);
      };
      check();
    });
  }

  async function resend(seq) {
    const blob = chunks.get(seq);
    if (!blob) throw new Error(`chunk ${seq} of the recording is no longer in this tab`);
    await withRetry(() => api.putChunk(id, seq, blob), setProblem);
  }

  return {
    mimeType,
    get supported() {
      return mimeType !== null;
    },
    get state() {
      return snapshot();
    },

    start() {
      if (!mimeType) throw new Error('this browser cannot record WebM');
      recorder = new MediaRecorder(stream, { mimeType });
      stopped = new Promise((resolve) => recorder.addEventListener('stop', resolve, { once: true }));
      recorder.addEventListener('dataavailable', (e) => {
        if (!e.data || e.data.size === 0 || halted) return;
        chunks.set(produced, e.data);
        produced += 1;
        emit();
        pump();
      });
      recorder.addEventListener('error', (e) => {
        problem = { kind: 'fatal', message: `Recording stopped: ${(e.error && e.error.message) || 'the recorder failed'}` };
        emit();
      });
      saveProgress(id, 0);
      recorder.start(timeslice);
      startedAt = performance.now();
      state = 'recording';
      emit();
    },

    /** Stop recording (the media ends now); the upload goes on. */
    async stop() {
      if (!recorder) return;
      if (recorder.state !== 'inactive') {
        stoppedAt = performance.now();
        state = 'stopping';
        emit();
        recorder.stop();
      }
      await stopped;
      stoppedAt = stoppedAt || performance.now();
    },

    /** Stop and upload every chunk, without completing (progress stays in localStorage). */
    async drain() {
      await this.stop();
      pump();
      await drained();
    },

    /** Stop, upload everything, complete. Resolves with the livestream (videoUrl set). */
    async finish() {
      await this.stop();
      state = 'uploading';
      emit();
      pump();
      await drained();
      if (uploaded === 0) {
        state = 'failed';
        problem = problem || { kind: 'fatal', message: 'Nothing was recorded.' };
        emit();
        throw halted || new Error(problem.message);
      }
      state = 'completing';
      emit();
      try {
        const livestream = await completeUpload(api, id, uploaded - 1, { resend, onProblem: setProblem, startOffsetSeconds });
        state = 'done';
        problem = halted ? problem : null; // keep saying why the recording is shorter, if it is
        chunks.clear();
        emit();
        return livestream;
      } catch (err) {
        state = 'failed';
        problem = err.problem || { kind: 'fatal', message: `The recording could not be completed: ${err.message}` };
        emit();
        throw err;
      }
    },
  };
}
