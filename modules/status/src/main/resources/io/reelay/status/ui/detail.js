// The selected request (its events as they arrive, its error, its video through the status
// service's signed /media links, an Export button) and its session (credits and timeline from the
// session's latest credits/state results, and a button that asks for fresh ones).

import { api, requestPath } from './api.js';
import { $, el, say } from './dom.js';
import { TERMINAL } from './sse.js';
import { submittedHere } from './submitted.js';

const MADE_VIDEO = new Set(['GENERATING', 'EDITING']);

export class Detail {
  /**
   * ctx: state (the page's model), submit(sessionKey, action, text) → requestId, expired() (a 401),
   * reconcile() (start or stop streams for the selection), streaming(id).
   */
  constructor(ctx) {
    this.ctx = ctx;
    this.selected = null;
    this.videoFor = null;
    this.videoRetried = false;
    this.sessionKey = null;
    $('video').addEventListener('error', () => this.videoFailed());
    $('export').addEventListener('click', () => this.exportSelected());
    $('refresh-session').addEventListener('click', () => this.refreshSession());
    $('use-session').addEventListener('click', () => {
      $('session').value = this.sessionKey || '';
      $('prompt').focus();
    });
  }

  /** Shows request {id} (null: nothing); {reveal}: scroll to it when the detail is below the list (a phone). */
  select(id, reveal = false) {
    this.selected = id;
    for (const row of document.querySelectorAll('#requests .request')) {
      const on = row.dataset.requestId === id;
      row.classList.toggle('selected', on);
      row.setAttribute('aria-pressed', String(on));
    }
    $('detail').dataset.requestId = id || '';
    $('history').replaceChildren();
    this.hideVideo();
    say($('video-error'), '');
    if (!id) {
      $('detail-none').hidden = false;
      $('detail-body').hidden = true;
      $('session-panel').hidden = true;
      this.sessionKey = null;
      return;
    }
    const events = this.ctx.state.events.get(id);
    if (events) {
      for (const seq of [...events.keys()].sort((a, b) => a - b)) this.addHistory(events.get(seq));
    }
    this.render();
    this.ctx.reconcile();
    if (reveal && window.matchMedia('(max-width: 899px)').matches) $('detail').scrollIntoView({ block: 'start' });
  }

  /** A new event (or status) of any request arrived. */
  event(e) {
    if (e.requestId === this.selected) this.addHistory(e);
  }

  /** Request {r} reached a terminal state. */
  finished(r) {
    if (r.sessionKey && r.sessionKey === this.sessionKey) this.loadSession();
  }

  render() {
    const id = this.selected;
    if (!id) return;
    const r = this.ctx.state.requests.get(id);
    $('detail-none').hidden = !!r;
    $('detail-body').hidden = !r;
    if (!r) {
      $('detail-none').textContent = 'Request ' + id + ' is no longer listed.';
      return;
    }
    $('detail-id').textContent = id;
    $('detail-state').textContent = r.state;
    $('detail-state').dataset.state = r.state;
    $('detail-phase').textContent = r.phase || '';
    let message = r.message || '';
    if (!TERMINAL.has(r.state) && !this.ctx.streaming(id) && Date.now() < this.ctx.state.throttledUntil) {
      message += ' (too many live streams are open for this tenant: updating every few seconds)';
    }
    $('detail-message').textContent = message;
    const e = r.error;
    say($('detail-error'), e ? [e.code, e.reason].filter(Boolean).join(': ') + (e.hint ? ' — ' + e.hint : '') : '');
    if (r.state === 'COMPLETED' && r.result && r.result.downloadUrl) this.showVideo(id);
    else this.hideVideo();
    $('export').hidden = !(r.state === 'COMPLETED' && !(r.result && r.result.downloadUrl) && this.madeVideo(id));
    this.showSession(r.sessionKey);
  }

  addHistory(e) {
    const list = $('history');
    const seq = Number(e.seq);
    if (list.querySelector('li[data-seq="' + seq + '"]')) return;
    const parts = [
      el('span', 'seq muted', '#' + seq),
      el('span', 'time muted', e.at ? new Date(e.at).toLocaleTimeString() : ''),
      el('span', 'state badge', e.state || ''),
      el('span', 'phase', e.phase || ''),
      el('span', 'message', e.message || '')];
    if (e.progress != null) parts.push(el('span', 'pct muted', Math.round(e.progress * 100) + ' %'));
    // spaces between the parts: the text reads as a line when copied (the layout spaces them anyway)
    const li = el('li', 'event', ...parts.flatMap((part, i) => (i ? [' ', part] : [part])));
    li.dataset.seq = String(seq);
    li.dataset.state = e.state || '';
    const after = [...list.children].find(c => Number(c.dataset.seq) > seq);
    list.insertBefore(li, after || null);
  }

  /** Whether the request generated or edited video (so an export of its session makes sense). */
  madeVideo(id) {
    const mine = submittedHere(id);
    if (mine && (mine.action === 'generate' || mine.action === 'edit')) return true;
    const events = this.ctx.state.events.get(id);
    return !!events && [...events.values()].some(e => MADE_VIDEO.has(e.phase));
  }

  // ---------------------------------------------------------------- the video

  async showVideo(id, resumeAt = 0) {
    if (this.videoFor === id) return;
    this.videoFor = id;
    try {
      const link = await api(requestPath(id, '/media-link'));
      if (this.selected !== id) return;
      const video = $('video');
      video.src = link.url;
      video.hidden = false;
      if (resumeAt > 0) video.addEventListener('loadedmetadata', () => { video.currentTime = resumeAt; }, { once: true });
      const download = $('download');
      download.href = link.url + '&download=1';
      download.setAttribute('download', id + '.mp4');
      download.hidden = false;
      say($('video-error'), '');
    } catch (e) {
      if (e.status === 401) return this.ctx.expired();
      if (this.selected === id) say($('video-error'), 'The video cannot be shown: ' + e.message);
    }
  }

  hideVideo() {
    const video = $('video');
    if (video.hasAttribute('src')) {
      video.removeAttribute('src');
      video.load();
    }
    video.hidden = true;
    $('download').hidden = true;
    $('download').removeAttribute('href');
    this.videoFor = null;
    this.videoRetried = false;
  }

  /** A link expires (ttl) or was made by another instance: ask for a new one, once, and carry on where it stopped. */
  videoFailed() {
    const video = $('video');
    const id = this.selected;
    if (!id || !video.hasAttribute('src')) return;
    if (!this.videoRetried) {
      this.videoRetried = true;
      const at = video.currentTime;
      this.videoFor = null;
      this.showVideo(id, at);
      return;
    }
    say($('video-error'), 'The video could not be played: the status service could not fetch it from the backend. Try again later.');
  }

  async exportSelected() {
    const r = this.ctx.state.requests.get(this.selected);
    if (!r) return;
    const button = $('export');
    button.disabled = true;
    try {
      this.select(await this.ctx.submit(r.sessionKey, 'export', ''));
    } catch (e) {
      say($('video-error'), 'Export refused: ' + e.message);
    } finally {
      button.disabled = false;
    }
  }

  // ---------------------------------------------------------------- the session

  showSession(key) {
    const panel = $('session-panel');
    if (!key) {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    if (this.sessionKey === key) return;
    this.sessionKey = key;
    panel.dataset.sessionKey = key;
    $('session-name').textContent = key;
    $('credits').textContent = 'unknown';
    $('timeline').textContent = 'unknown';
    say($('session-status'), '');
    this.loadSession();
  }

  async loadSession() {
    const key = this.sessionKey;
    if (!key) return;
    try {
      const s = await api('/v1/sessions/' + encodeURIComponent(key) + '?limit=100');
      if (key !== this.sessionKey) return;
      const requests = s.requests || [];
      const credits = requests.find(r => r.result && r.result.credits);
      const timeline = requests.find(r => r.result && r.result.timeline);
      const c = credits && credits.result.credits;
      $('credits').textContent = c ? 'available ' + c.available + ' · frozen ' + c.frozen + ' · total ' + c.total : 'unknown';
      $('timeline').textContent = timeline ? timeline.result.timeline : 'unknown';
    } catch (e) {
      if (e.status === 401) return this.ctx.expired();
      if (e.status !== 404 && key === this.sessionKey) say($('session-status'), 'Could not read the session: ' + e.message);
    }
  }

  /** Submits a credits and a state request for the session; their results fill the panel when they finish. */
  async refreshSession() {
    const key = this.sessionKey;
    if (!key) return;
    const button = $('refresh-session');
    button.disabled = true;
    say($('session-status'), 'Asking the backend for the credits and the timeline…');
    try {
      await this.ctx.submit(key, 'credits', '');
      await this.ctx.submit(key, 'state', '');
      if (key === this.sessionKey) say($('session-status'), 'Asked: the panel updates when both requests finish.');
    } catch (e) {
      if (key === this.sessionKey) say($('session-status'), 'Refused: ' + e.message);
    } finally {
      button.disabled = false;
    }
  }
}
