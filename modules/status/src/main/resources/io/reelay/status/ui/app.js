// The dashboard: sign in with an API key, list the tenant's requests and keep them live (SSE
// through fetch, plus a listing every few seconds), submit and cancel. The selected request's
// events, video and session are in detail.js. Everything is written with textContent: nothing
// the API answers is ever parsed as HTML.

import { ApiError, api, currentKey, forgetKey, requestPath, setKey, storeKey, storedKey } from './api.js';
import { Detail } from './detail.js';
import { $, el, say, shorten } from './dom.js';
import { EventStream, TERMINAL } from './sse.js';
import { remember, submittedHere } from './submitted.js';

const REFRESH_MS = 5000;
const LIST_LIMIT = 50;
// live streams this page holds at once (the service allows 100 per tenant, across all its pages)
const MAX_STREAMS = 12;

const state = {
  requests: new Map(), // requestId → latest known status (event fields + updatedAt)
  events: new Map(), // requestId → Map(seq → event): what the streams and listings brought
  complete: new Set(), // requestIds whose stream ran to the terminal event (their history is whole)
  streams: new Map(), // requestId → EventStream
  rows: new Map(), // requestId → its element in #requests
  order: [], // requestIds as listed, most recently updated first
  throttledUntil: 0, // after a 429 TOO_MANY_STREAMS: poll only, until then
  timer: null,
  signedIn: false,
};

const detail = new Detail({
  state,
  submit,
  expired,
  reconcile: () => reconcile(),
  streaming: id => state.streams.has(id),
});

// ------------------------------------------------------------------ signing in and out

function showKeyForm(message) {
  state.signedIn = false;
  $('app').hidden = true;
  $('signed-in').hidden = true;
  $('key-panel').hidden = false;
  say($('key-error'), message);
  $('api-key').value = storedKey();
  $('api-key').focus();
}

async function signIn(key) {
  setKey(key);
  const save = $('api-key-save');
  save.disabled = true;
  storeKey(key);
  try {
    const list = await api('/v1/requests?limit=' + LIST_LIMIT);
    state.signedIn = true;
    $('key-panel').hidden = true;
    say($('key-error'), '');
    $('app').hidden = false;
    $('signed-in').hidden = false;
    merge(list);
    setLive(true);
    clearInterval(state.timer);
    state.timer = setInterval(tick, REFRESH_MS);
  } catch (e) {
    if (e.status === 401) {
      forgetKey();
      showKeyForm('This API key was refused (401 ' + e.code + '): ' + sentence(e.message) + ' Check the key and try again.');
    } else if (e.status === 0) {
      showKeyForm(sentence(e.message) + ' Check that the status service is running, then try again.');
    } else {
      showKeyForm('The status service answered ' + e.status + ' ' + e.code + ': ' + e.message);
    }
  } finally {
    save.disabled = false;
  }
}

function stopEverything() {
  clearInterval(state.timer);
  state.timer = null;
  for (const s of state.streams.values()) s.close();
  state.streams.clear();
  state.requests.clear();
  state.events.clear();
  state.complete.clear();
  state.rows.clear();
  $('requests').replaceChildren();
  detail.select(null);
  setTenant(null);
}

function signOut() {
  stopEverything();
  forgetKey();
  setKey('');
  showKeyForm('');
}

/** A call was refused with 401 while signed in (the key was revoked or the service restarted with other keys). */
function expired() {
  if (!state.signedIn) return;
  stopEverything();
  forgetKey();
  showKeyForm('The API key is no longer accepted (401). Paste a valid key to go on.');
}

function setTenant(tenant) {
  $('tenant').textContent = tenant ? 'tenant ' + tenant : 'Signed in';
}

function setLive(ok) {
  const live = $('live');
  live.dataset.live = ok ? 'live' : 'offline';
  live.textContent = ok ? 'live' : 'offline, retrying…';
}

// ------------------------------------------------------------------ the model

/** Records one event (or a status) of a request: its history, and its row when it is newer. */
function record(e) {
  if (!e || !e.requestId) return;
  let events = state.events.get(e.requestId);
  if (!events) state.events.set(e.requestId, events = new Map());
  const known = events.has(e.seq);
  if (!known) {
    const { updatedAt, ...event } = e;
    events.set(e.seq, event);
  }
  const cur = state.requests.get(e.requestId);
  if (!cur || e.seq > cur.seq) {
    const wasTerminal = cur && TERMINAL.has(cur.state);
    const next = {
      ...e,
      updatedAt: e.updatedAt || e.at || (cur && cur.updatedAt),
      progress: e.progress ?? (cur ? cur.progress : undefined),
    };
    state.requests.set(e.requestId, next);
    render(next);
    if (!cur || next.updatedAt !== cur.updatedAt) orderSoon();
    if (!wasTerminal && TERMINAL.has(next.state)) detail.finished(next);
  }
  if (!known) detail.event(e);
}

function merge(list) {
  const listed = new Set();
  for (const s of list.requests || []) {
    listed.add(s.requestId);
    record(s);
  }
  const first = (list.requests || [])[0];
  if (first) setTenant(first.tenant);
  const keep = id => listed.has(id) || id === detail.selected || Date.now() - (submittedHere(id)?.at || 0) < 60000;
  for (const id of [...state.requests.keys()]) {
    if (!keep(id)) forget(id);
  }
  order();
  reconcile();
}

function forget(id) {
  state.streams.get(id)?.close();
  state.streams.delete(id);
  state.requests.delete(id);
  state.events.delete(id);
  state.complete.delete(id);
  state.rows.get(id)?.remove();
  state.rows.delete(id);
}

// ------------------------------------------------------------------ the list

function render(r) {
  let row = state.rows.get(r.requestId);
  if (!row) {
    row = document.createElement('div');
    row.className = 'request';
    row.dataset.requestId = r.requestId;
    row.tabIndex = 0;
    row.setAttribute('role', 'button');
    const head = el('div', 'head', el('span', 'state badge'), el('span', 'phase'), el('span', 'when muted'));
    const progress = document.createElement('progress');
    progress.className = 'progress';
    progress.max = 100;
    progress.value = 0;
    row.append(head, el('div', 'text'), el('div', 'meta muted'), progress, el('div', 'row-error error'));
    row.addEventListener('click', () => detail.select(r.requestId, true));
    row.addEventListener('keydown', ev => {
      if (ev.target === row && (ev.key === 'Enter' || ev.key === ' ')) {
        ev.preventDefault();
        detail.select(r.requestId, true);
      }
    });
    state.rows.set(r.requestId, row);
    $('requests').append(row);
  }
  const terminal = TERMINAL.has(r.state);
  row.dataset.state = r.state;
  row.querySelector('.state').textContent = r.state;
  row.querySelector('.phase').textContent = r.phase || '';
  row.querySelector('.when').textContent = r.updatedAt ? new Date(r.updatedAt).toLocaleTimeString() : '';
  const mine = submittedHere(r.requestId);
  row.querySelector('.text').textContent = shorten(mine && mine.text ? mine.text : r.message || '', 120);
  row.querySelector('.meta').textContent = (mine && mine.action ? mine.action + ' · ' : '') + 'session ' + (r.sessionKey || '?');
  const bar = row.querySelector('progress.progress');
  bar.value = r.state === 'COMPLETED' ? 100 : r.progress != null ? Math.round(r.progress * 100) : bar.value;
  bar.textContent = bar.value + ' %';
  let cancel = row.querySelector('button.cancel');
  if (terminal && cancel) {
    cancel.remove();
  } else if (!terminal && !cancel) {
    cancel = el('button', 'cancel');
    cancel.type = 'button';
    cancel.textContent = 'Cancel';
    cancel.addEventListener('click', ev => { ev.stopPropagation(); cancelRequest(r.requestId, cancel); });
    row.append(cancel);
  }
  row.classList.toggle('selected', detail.selected === r.requestId);
  row.setAttribute('aria-pressed', String(detail.selected === r.requestId));
  if (detail.selected === r.requestId) detail.render();
}

let ordering = false;

/** Re-sorts the list once the events arriving now are recorded. */
function orderSoon() {
  if (ordering) return;
  ordering = true;
  setTimeout(() => { ordering = false; order(); }, 0);
}

/** Most recently updated first. */
function order() {
  const ids = [...state.requests.values()]
    .sort((a, b) => (Date.parse(b.updatedAt) || 0) - (Date.parse(a.updatedAt) || 0) || (a.requestId < b.requestId ? -1 : 1))
    .map(r => r.requestId);
  const box = $('requests');
  ids.forEach((id, i) => {
    const row = state.rows.get(id);
    if (row && box.children[i] !== row) box.insertBefore(row, box.children[i] || null);
  });
  $('requests-empty').hidden = ids.length > 0;
  state.order = ids;
}

async function cancelRequest(id, button) {
  button.disabled = true;
  button.textContent = 'Cancelling…';
  const error = state.rows.get(id)?.querySelector('.row-error');
  if (error) error.textContent = '';
  try {
    const answer = await api(requestPath(id, '/cancel'), { method: 'POST' });
    track({ requestId: answer.requestId, sessionKey: state.requests.get(id)?.sessionKey }, 'cancel ' + id, 'cancel');
  } catch (e) {
    if (e.status === 401) return expired();
    button.disabled = false;
    button.textContent = 'Cancel';
    if (error) error.textContent = 'Cancel refused: ' + e.message;
  }
}

// ------------------------------------------------------------------ live streams

/** One stream for the selected request and each request still running, most recent first, at most MAX_STREAMS. */
function reconcile() {
  const want = [];
  const sel = detail.selected;
  if (sel && state.requests.has(sel) && (!TERMINAL.has(state.requests.get(sel).state) || !state.complete.has(sel))) want.push(sel);
  for (const id of state.order || []) {
    if (want.length >= MAX_STREAMS) break;
    if (id !== sel && !TERMINAL.has(state.requests.get(id).state)) want.push(id);
  }
  for (const [id, stream] of state.streams) {
    if (!want.includes(id)) { stream.close(); state.streams.delete(id); }
  }
  if (Date.now() < state.throttledUntil) return;
  for (const id of want) {
    if (!state.streams.has(id)) startStream(id);
  }
}

function startStream(id) {
  const stream = new EventStream(requestPath(id, '/events'), currentKey(), {
    onEvent: record,
    onOpen: () => setLive(true),
    onEnd: end => {
      if (state.streams.get(id) === stream) state.streams.delete(id);
      if (end === 'done') {
        state.complete.add(id);
        detail.render();
      } else if (end.status === 401) {
        expired();
      } else if (end.status === 404) {
        if (id !== detail.selected) forget(id);
      } else if (end.status === 429) {
        // the tenant holds as many live streams as allowed: poll until Retry-After has passed
        state.throttledUntil = Date.now() + Math.max(5, end.retryAfter) * 1000;
        detail.render();
      }
    },
  });
  state.streams.set(id, stream);
}

async function tick() {
  if (!state.signedIn || document.hidden) return;
  try {
    merge(await api('/v1/requests?limit=' + LIST_LIMIT));
    setLive(true);
    const sel = detail.selected;
    // the selected request, when no stream follows it (429, or it just left the listing)
    if (sel && !state.streams.has(sel) && state.requests.has(sel) && !TERMINAL.has(state.requests.get(sel).state)) {
      record(await api(requestPath(sel)));
    }
  } catch (e) {
    if (e.status === 401) return expired();
    if (e.status === 0) setLive(false);
  }
}

// ------------------------------------------------------------------ submitting

/** Adds a just-accepted request to the list (SUBMITTED until its events come). */
function track(accepted, text, action) {
  remember(accepted.requestId, text, action);
  const now = new Date().toISOString();
  record({ v: 1, requestId: accepted.requestId, sessionKey: accepted.sessionKey, seq: 0, at: now, updatedAt: now,
    state: 'SUBMITTED', phase: 'QUEUED', message: 'Submitted' });
  order();
  reconcile();
}

/** POSTs a request; resolves to its requestId. Refusals reject with the ApiError (401 signs out). */
async function submit(sessionKey, action, text) {
  const body = { sessionKey, action };
  if (text) body.text = text;
  try {
    const answer = await api('/v1/requests', { method: 'POST', body });
    track({ requestId: answer.requestId, sessionKey }, text, action);
    return answer.requestId;
  } catch (e) {
    if (e.status === 401) expired();
    throw e;
  }
}

function newSessionKey() {
  const bytes = new Uint8Array(6);
  crypto.getRandomValues(bytes);
  return 'web-' + [...bytes].map(b => b.toString(16).padStart(2, '0')).join('');
}

async function onSubmit(ev) {
  ev.preventDefault();
  const error = $('submit-error');
  say(error, '');
  const button = $('submit-button');
  const text = $('prompt').value.trim();
  const action = $('action').value;
  const session = $('session').value.trim() || newSessionKey();
  button.disabled = true;
  try {
    const id = await submit(session, action, text);
    $('prompt').value = '';
    detail.select(id);
  } catch (e) {
    if (e instanceof ApiError && e.status !== 401) {
      say(error, 'Refused (' + e.status + ' ' + e.code + '): ' + e.message
        + (e.retryAfter ? ' Try again in ' + e.retryAfter + ' s.' : ''));
    }
  } finally {
    button.disabled = false;
  }
}

// ------------------------------------------------------------------ start

function start() {
  $('key-form').addEventListener('submit', ev => {
    ev.preventDefault();
    const key = $('api-key').value.trim();
    if (!key) {
      showKeyForm('Paste an API key first.');
      return;
    }
    signIn(key);
  });
  $('sign-out').addEventListener('click', signOut);
  $('submit-form').addEventListener('submit', onSubmit);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) tick(); });
  const key = storedKey();
  if (key) signIn(key);
  else showKeyForm('');
}

start();

/** A message as a sentence: ending with a full stop (or its own ! or ?). */
function sentence(text) {
  const t = String(text || '').trim();
  return /[.!?]$/.test(t) ? t : t + '.';
}
