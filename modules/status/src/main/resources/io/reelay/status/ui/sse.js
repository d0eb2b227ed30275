// Server-Sent Events over fetch(): EventSource cannot send the Authorization header the API needs.
// SseParser follows the WHATWG event-stream rules (fields id/data/event/retry, comments, CR/LF/CRLF);
// EventStream reads one request's events, resumes with Last-Event-ID after a drop and stops after
// the terminal event.

export const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'REJECTED']);

/** Turns the text of an event stream, fed in any pieces, into {id, event, data} messages. */
export class SseParser {
  constructor(onMessage) {
    this.onMessage = onMessage;
    this.buffer = '';
    this.data = [];
    this.event = '';
    this.lastEventId = '';
    this.retry = null;
  }

  feed(text) {
    const b = this.buffer + text;
    let start = 0;
    for (let i = 0; i < b.length; i++) {
      const c = b[i];
      if (c !== '\n' && c !== '\r') continue;
      if (c === '\r' && i + 1 === b.length) break; // maybe the first half of CRLF: wait for more
      this.line(b.slice(start, i));
      if (c === '\r' && b[i + 1] === '\n') i++;
      start = i + 1;
    }
    this.buffer = b.slice(start);
  }

  line(line) {
    if (line === '') {
      if (this.data.length > 0) {
        this.onMessage({ id: this.lastEventId, event: this.event || 'message', data: this.data.join('\n') });
      }
      this.data = [];
      this.event = '';
      return;
    }
    if (line[0] === ':') return; // a comment (some servers' heartbeat)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
    else if (field === 'event') this.event = value;
    else if (field === 'retry' && /^[0-9]+$/.test(value)) this.retry = Number(value);
  }
}

const sleep = (ms, signal) => new Promise(resolve => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

/**
 * Follows GET {url} (an event stream of JSON events with a `state`) until the terminal event,
 * reconnecting with Last-Event-ID after a drop (backoff 1 s doubling to 15 s, or the server's
 * retry:). handlers: onEvent(event), onOpen(), onEnd(end) with end 'done' (terminal event seen),
 * 'closed' (close() was called) or {status, retryAfter} for an answer not worth retrying (400, 401,
 * 404, 406, 429; retryAfter in seconds).
 */
export class EventStream {
  constructor(url, key, handlers, { idleMs = 35000, maxBackoffMs = 15000 } = {}) {
    this.url = url;
    this.key = key;
    this.handlers = handlers;
    this.idleMs = idleMs;
    this.maxBackoffMs = maxBackoffMs;
    this.lastEventId = null;
    this.stopper = new AbortController();
    this.attempt = 0;
    this.run();
  }

  close() {
    if (this.stopper.signal.aborted) return;
    this.stopper.abort();
    this.current?.abort();
  }

  get closed() {
    return this.stopper.signal.aborted;
  }

  async run() {
    let end = 'closed';
    while (!this.closed) {
      let outcome;
      try {
        outcome = await this.once();
      } catch (e) {
        outcome = { retry: true }; // network error, cut stream, idle watchdog
      }
      if (this.closed) break;
      if (!outcome.retry) { end = outcome; break; }
      const backoff = this.retryMs ?? Math.min(this.maxBackoffMs, 1000 * 2 ** Math.min(this.attempt, 4));
      this.attempt++;
      await sleep(backoff, this.stopper.signal);
    }
    this.handlers.onEnd?.(end);
  }

  async once() {
    const current = new AbortController();
    this.current = current;
    const headers = { Authorization: 'Bearer ' + this.key, Accept: 'text/event-stream' };
    if (this.lastEventId !== null) headers['Last-Event-ID'] = this.lastEventId;
    const r = await fetch(this.url, { headers, signal: current.signal, cache: 'no-store' });
    if (r.status === 401 || r.status === 404 || r.status === 429 || r.status === 400 || r.status === 406) {
      r.body?.cancel().catch(() => {});
      return { status: r.status, retryAfter: Number(r.headers.get('Retry-After')) || 5 };
    }
    if (!r.ok || !r.body) {
      r.body?.cancel().catch(() => {});
      return { retry: true };
    }
    this.handlers.onOpen?.();
    let terminal = false;
    const parser = new SseParser(m => {
      if (m.id !== '') this.lastEventId = m.id;
      if (m.data === '') return; // a heartbeat
      let event;
      try { event = JSON.parse(m.data); } catch { return; }
      this.attempt = 0;
      if (event && TERMINAL.has(event.state)) terminal = true;
      this.handlers.onEvent(event);
    });
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let heard = Date.now();
    // heartbeats come every sse-keep-alive (10 s): a silent stream is a dead one
    const watchdog = setInterval(() => { if (Date.now() - heard > this.idleMs) current.abort(); }, 5000);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        heard = Date.now();
        parser.feed(decoder.decode(value, { stream: true }));
        this.retryMs = parser.retry ?? undefined;
        if (terminal) break;
      }
    } finally {
      clearInterval(watchdog);
      reader.cancel().catch(() => {});
    }
    return terminal ? 'done' : { retry: true };
  }
}
