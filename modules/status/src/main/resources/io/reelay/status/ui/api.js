// The status API as the dashboard calls it: JSON over fetch() with the API key as a Bearer token,
// every refusal turned into an ApiError carrying the API's own code and message.

export const KEY_STORAGE = 'reelay.apiKey';

/** A refused or failed call: status 0 means the service could not be reached. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

let key = '';

export function setKey(k) { key = k; }
export function currentKey() { return key; }

export function storedKey() {
  try { return localStorage.getItem(KEY_STORAGE) || ''; } catch { return ''; }
}

export function storeKey(k) {
  try { localStorage.setItem(KEY_STORAGE, k); } catch { /* private mode: the key lasts for this page only */ }
}

export function forgetKey() {
  try { localStorage.removeItem(KEY_STORAGE); } catch { /* nothing stored */ }
}

/** Calls {method} {path} with the key; resolves to the parsed JSON body, rejects with an ApiError. */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json', Authorization: 'Bearer ' + key };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'UNREACHABLE', 'The status service cannot be reached (' + (e.message || 'network error') + ').');
  }
  const text = await r.text().catch(() => '');
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (r.ok) return json;
  const error = json && json.error ? json.error : {};
  throw new ApiError(r.status, error.code || 'HTTP_' + r.status, error.message || 'The status service answered HTTP ' + r.status + '.',
    Number(r.headers.get('Retry-After')) || 0);
}

/** The path of one request's resource, its id encoded. */
export function requestPath(id, rest = '') {
  return '/v1/requests/' + encodeURIComponent(id) + rest;
}
