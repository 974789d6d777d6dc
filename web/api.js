// The REST API as the pages use it: the token kept in this browser tab's session (or,
// after an email + password sign-in, the session cookie with its CSRF secret), JSON in and
// out, and errors in Label Studio's shape turned into ApiError.

const TOKEN_KEY = 'labelhook.token';

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

const SESSION_KEY = 'labelhook.session';

/** Signed in by cookie (email + password at /user/login) rather than by token. */
export const session = {
  get: () => sessionStorage.getItem(SESSION_KEY) === '1',
  set: () => sessionStorage.setItem(SESSION_KEY, '1'),
  clear: () => sessionStorage.removeItem(SESSION_KEY),
};

export const signedIn = () => Boolean(token.get()) || session.get();

/** The CSRF secret the server set beside the session cookie (echoed on writes). */
export function csrfToken() {
  const found = document.cookie.split(';').map((c) => c.trim()).find((c) => c.startsWith('csrftoken='));
  return found ? decodeURIComponent(found.slice('csrftoken='.length)) : '';
}

/** Whether the browser has a live session cookie; remembers it for this tab. */
export async function probeSession() {
  try {
    const response = await fetch('/api/current-user/whoami', { headers: { Accept: 'application/json' } });
    if (response.ok) session.set();
    return response.ok;
  } catch {
    return false;
  }
}

const ROLES = ['OW', 'AD', 'MA', 'RE', 'AN'];
let me = null;

/** The signed-in user (whoami), asked once per page load; `null` if it cannot be read. */
export async function currentUser() {
  if (!me) me = api('/api/current-user/whoami').catch(() => null);
  return me;
}

/** Forgets the signed-in user (signing out, or a token that stopped working). */
export function forgetUser() {
  me = null;
}

/** Whether `role` (a code: `AN`) may do what `needed` may: roles are ordered, owner first. */
export function roleAtLeast(role, needed) {
  const have = ROLES.indexOf(role);
  return have !== -1 && have <= ROLES.indexOf(needed);
}

/** Ends the cookie session (the server clears its cookies). */
export async function signOutSession() {
  const body = new URLSearchParams({ csrfmiddlewaretoken: csrfToken() });
  try {
    await fetch('/user/logout', { method: 'POST', body, redirect: 'manual' });
  } finally {
    session.clear();
    forgetUser();
  }
}

/** An answer other than 2xx: `detail` for people, `fields` maps a field to its messages. */
export class ApiError extends Error {
  constructor(status, body) {
    const detail = (body && typeof body.detail === 'string' && body.detail) ||
      (status === 0 ? 'The server cannot be reached.' : `The server answered ${status}.`);
    super(detail);
    this.status = status;
    this.fields = (body && body.validation_errors) || {};
  }
}

/** Called on a 401: the app returns to the sign-in page. */
let onUnauthorized = () => {};
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

export async function api(path, { method = 'GET', body, query } = {}) {
  const headers = { Accept: 'application/json' };
  const key = token.get();
  if (key) headers.Authorization = `Token ${key}`;
  else if (method !== 'GET') headers['X-CSRFToken'] = csrfToken();
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== '') params.set(name, value);
    }
    if ([...params].length) url += `?${params}`;
  }
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, null);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.status === 401) {
    onUnauthorized();
    throw new ApiError(401, data);
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/**
 * Downloads a file from the API with the token: `{blob, filename}` (the name from the
 * answer's Content-Disposition). An error answer is an ApiError, as with `api`.
 */
export async function download(path, { query } = {}) {
  const headers = {};
  const key = token.get();
  if (key) headers.Authorization = `Token ${key}`;
  const params = new URLSearchParams(Object.entries(query || {}).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  const url = [...params].length ? `${path}?${params}` : path;
  let response;
  try {
    response = await fetch(url, { headers });
  } catch {
    throw new ApiError(0, null);
  }
  if (!response.ok) {
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (response.status === 401) onUnauthorized();
    throw new ApiError(response.status, data);
  }
  const disposition = response.headers.get('Content-Disposition') || '';
  const filename = disposition.match(/filename="([^"]*)"/)?.[1] || 'export';
  let blob;
  try {
    blob = await response.blob();
  } catch {
    // The server aborts the body when the export fails half-way.
    throw new ApiError(500, { detail: 'The export stopped before the file was complete; the server log says why.' });
  }
  return { blob, filename };
}

/**
 * Uploads files as multipart form data (field `file`, once per file) with the token;
 * `onProgress(sent, total)` follows the upload. XMLHttpRequest, because fetch reports no
 * upload progress. Resolves to the answer's JSON; an error answer is an ApiError.
 */
export function upload(path, files, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const file of files) form.append('file', file, file.name);
    const request = new XMLHttpRequest();
    request.open('POST', path);
    request.setRequestHeader('Accept', 'application/json');
    const key = token.get();
    if (key) request.setRequestHeader('Authorization', `Token ${key}`);
    else request.setRequestHeader('X-CSRFToken', csrfToken());
    request.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    request.addEventListener('error', () => reject(new ApiError(0, null)));
    request.addEventListener('abort', () => reject(new ApiError(0, { detail: 'The upload was cancelled.' })));
    request.addEventListener('load', () => {
      let data = null;
      try {
        data = request.responseText ? JSON.parse(request.responseText) : null;
      } catch {
        data = null;
      }
      if (request.status === 401) onUnauthorized();
      if (request.status >= 200 && request.status < 300) resolve(data);
      else reject(new ApiError(request.status, data));
    });
    request.send(form);
  });
}
