// The dashboard's only way to the server: Tally's public API on this origin, with the
// credential from this tab's session storage (never a cookie, never a URL).

const STORE = 'tally.credential';

/** The signed-in credential: {kind: 'admin' | 'token', secret}, or null. */
let cached = null;

export function credential() {
  const raw = sessionStorage.getItem(STORE);
  if (cached?.raw !== raw) {
    let c = null;
    try {
      c = JSON.parse(raw);
    } catch {
      c = null;
    }
    cached = { raw, value: c && typeof c.secret === 'string' ? c : null };
  }
  return cached.value;
}

export function saveCredential(kind, secret) {
  sessionStorage.setItem(STORE, JSON.stringify({ kind, secret }));
}

export function forgetCredential() {
  sessionStorage.removeItem(STORE);
}

/** An answer other than 2xx: `status` and the API's problem document (`problem`). */
export class ApiError extends Error {
  constructor(status, message, problem, retryAfter) {
    super(message);
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

function headers(cred, json) {
  const h = { Accept: 'application/json' };
  if (cred?.kind === 'admin') h['X-Admin-Key'] = cred.secret;
  else if (cred) h.Authorization = `Bearer ${cred.secret}`;
  if (json) h['Content-Type'] = 'application/json';
  return h;
}

/** Calls the API; resolves with the JSON body, rejects with an ApiError. */
export async function api(method, path, body, cred = credential()) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: headers(cred, body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
    });
  } catch (e) {
    throw new ApiError(0, `Tally did not answer (${e.message}). Is the server running?`);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (res.ok) return data;
  const retry = res.headers.get('Retry-After');
  if (res.status === 401 && cred && cred === credential()) {
    // The stored credential stopped working (expired token, erased user): back to sign-in.
    window.dispatchEvent(new CustomEvent('tally:unauthorized', { detail: describe(401, data) }));
  }
  throw new ApiError(res.status, describe(res.status, data, retry), data, retry);
}

/** A sentence for people, from the problem document (`detail`, else `error`). */
function describe(status, problem, retry) {
  const detail = String(problem?.detail || problem?.error || problem?.message || `HTTP ${status}`)
    .replace(/\.$/, '');
  const later = retry ? ` Try again in ${retry} s.` : '';
  switch (status) {
    case 401: return `Signed out: ${detail}. Sign in again.`;
    case 403: return `Not allowed: ${detail}.`;
    case 429: return `Limit reached: ${detail}.${later}`;
    case 503: return `Tally is unavailable: ${detail}.${later}`;
    default: return `${detail} (HTTP ${status}).`;
  }
}

/** Builds a query string from the defined, non-empty entries. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * Follows a Server-Sent Events route with the stored credential in its headers (EventSource
 * cannot send headers, and credentials never go in URLs): calls `onEvent(name, data)` for
 * every frame, comments skipped. Resolves when the server ends the stream; rejects with an
 * ApiError when it refuses it (the problem document) or the connection fails. Abort with
 * `signal`.
 */
export async function stream(path, onEvent, signal, cred = credential()) {
  let res;
  try {
    res = await fetch(path, {
      headers: { ...headers(cred, false), Accept: 'text/event-stream' },
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
      signal,
    });
  } catch (e) {
    if (signal?.aborted) return;
    throw new ApiError(0, `Tally did not answer (${e.message}). Is the server running?`);
  }
  if (!res.ok) {
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    const retry = res.headers.get('Retry-After');
    if (res.status === 401 && cred && cred === credential()) {
      window.dispatchEvent(new CustomEvent('tally:unauthorized', { detail: describe(401, data) }));
    }
    throw new ApiError(res.status, describe(res.status, data, retry), data, retry);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') name = text;
          else if (field === 'data') data.push(text);
        }
        if (data.length === 0) continue;
        let parsed = null;
        try {
          parsed = JSON.parse(data.join('\n'));
        } catch {
          parsed = null;
        }
        onEvent(name, parsed);
      }
    }
  } catch (e) {
    if (signal?.aborted) return;
    throw new ApiError(0, `The live stream broke off (${e.message}).`);
  }
}
