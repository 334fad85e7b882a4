// REST client for /api. Answers JSON; errors become ApiError with the server's detail.

export class ApiError extends Error {
  constructor(status, detail, retryAfter = null) {
    super(typeof detail === 'string' ? detail : ApiError.describe(detail) || `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }

  static describe(detail) {
    if (Array.isArray(detail)) return detail.map((d) => `${d.field || (d.loc || []).slice(-1)[0]}: ${d.msg}`).join('; ');
    return detail ? String(detail) : '';
  }
}

export function createApi(getToken = () => null) {
  async function request(method, path, body, { auth = true, headers = {} } = {}) {
    const init = { method, headers: { Accept: 'application/json', ...headers } };
    const token = auth ? getToken() : null;
    if (token) init.headers.Authorization = `Bearer ${token}`;
    if (body instanceof Blob) {
      // raw uploads (recording chunks, thumbnails): the caller names the type in `headers`
      init.body = body;
    } else if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, 'network error: the service cannot be reached');
    }
    if (res.status === 204) return null;
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    if (!res.ok) {
      const retry = res.headers.get('Retry-After');
      const err = new ApiError(res.status, data && data.detail !== undefined ? data.detail : res.statusText, retry ? Number(retry) : null);
      err.data = data; // the whole answer (e.g. 409 {detail, missing})
      throw err;
    }
    return data;
  }

  return {
    request,
    get: (path, opts) => request('GET', path, undefined, opts),
    post: (path, body, opts) => request('POST', path, body, opts),
    put: (path, body, opts) => request('PUT', path, body, opts),
    patch: (path, body, opts) => request('PATCH', path, body, opts),
    del: (path, opts) => request('DELETE', path, undefined, opts),
    config: () => request('GET', '/api/config'), // with the token: TURN credentials in the caller's name
    login: (email, password) => request('POST', '/api/auth/login', { email, password }, { auth: false }),
    me: () => request('GET', '/api/auth/me'),
    guest: (name) => request('POST', '/api/auth/guest', name ? { name } : {}),
    activeShow: () => request('GET', '/api/livestreams/active', undefined, { auth: false }),
    show: (id) => request('GET', `/api/livestreams/${id}`, undefined, { auth: false }),
    replays: (limit = 6, before = null) => request('GET', `/api/livestreams?status=ended&recorded=true&limit=${limit}${before ? `&before=${before}` : ''}`, undefined, { auth: false }),
    recordings: (id) => request('GET', `/api/livestreams/${id}/recordings`, undefined, { auth: false }),
    timeline: (id) => request('GET', `/api/livestreams/${id}/timeline`, undefined, { auth: false }),
    report: (id) => request('GET', `/api/livestreams/${id}/report`),
    putChunk: (id, seq, blob) => request('PUT', `/api/livestreams/${id}/recording/chunks/${seq}`, blob, { headers: { 'Content-Type': 'video/webm' } }),
    completeRecording: (id, lastSeq, startOffsetSeconds) => request('POST', `/api/livestreams/${id}/recording/complete`, { lastSeq, startOffsetSeconds }),
    putThumbnail: (id, blob) => request('PUT', `/api/livestreams/${id}/thumbnail`, blob, { headers: { 'Content-Type': blob.type || 'image/jpeg' } }),
    chatAfter: (id, after, limit = 500) => request('GET', `/api/livestreams/${id}/chat?after=${after}&limit=${limit}`, undefined, { auth: false }),
    products: (q = '', limit = 50) => request('GET', `/api/products?limit=${limit}${q ? `&q=${encodeURIComponent(q)}` : ''}`, undefined, { auth: false }),
    createShow: (fields) => request('POST', '/api/livestreams', fields),
    stopShow: (id) => request('POST', `/api/livestreams/${id}/stop`),
    pin: (id, productId) => request('POST', `/api/livestreams/${id}/pin-product`, { productId }),
    unpin: (id, productId) => request('DELETE', `/api/livestreams/${id}/pin-product/${productId}`),
  };
}

/** Fire-and-forget POST that never surfaces an error (used for analytics such as product clicks). */
export function reportQuietly(path, body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  fetch(path, { method: 'POST', headers, body: JSON.stringify(body), keepalive: true }).catch(() => {});
}
