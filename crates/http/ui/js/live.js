// Live: the open caption sessions the caller may see (GET /v1/sessions/events, SSE read with
// fetch so the credential stays in a header), with their site, key, mic holder and caption
// rate, updated as the server pushes changes. Reconnects by itself when the stream breaks.

import { ApiError, query, stream } from './api.js';
import { field, fmt, h, message, replace, table } from './dom.js';

export const title = 'Live';

const RETRY_MS = 3000;
const state = { domain: '' };
/** The page's live parts, torn down by leave(). */
let live = null;

/** Captions per minute since the session started (at least one minute, so a new session's
 * first batch is not a spike). */
export function captionRate(s, now = Date.now()) {
  const minutes = Math.max(1, (now - Date.parse(s.started_at)) / 60000);
  return s.captions_sent / minutes;
}

function time(iso) {
  return new Date(iso).toISOString().slice(11, 19);
}

export function leave() {
  if (!live) return;
  live.controller.abort();
  clearInterval(live.ticker);
  clearTimeout(live.retry);
  live = null;
}

export async function render(root, me) {
  leave();
  const status = h('p', { id: 'live-status', class: 'message loading', role: 'status', 'aria-live': 'polite' }, 'Connecting…');
  const box = h('div', { id: 'live-sessions' });
  const form = h('form', { class: 'filters', id: 'live-form' },
    field('Site (optional)', h('input', { name: 'domain', id: 'live-domain', value: state.domain, placeholder: 'https://example.com' })),
    h('button', { type: 'submit' }, 'Show'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    state.domain = form.elements.domain.value.trim();
    render(root, me);
  });
  replace(root, h('h2', {}, 'Live sessions'),
    h('p', { class: 'usage' }, me.admin
      ? 'Every open caption session, as it happens.'
      : 'The open caption sessions of your keys, as they happen.'),
    form, status, box);
  const view = { sessions: new Map(), more: false };
  live = {
    controller: new AbortController(),
    ticker: setInterval(() => draw(box, view), 10000),
    retry: null,
  };
  connect(live, status, box, view);
}

function setStatus(el, kind, text) {
  el.className = `message ${kind}`;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.textContent = text;
}

function connect(mine, status, box, view) {
  const path = `/v1/sessions/events${query({ domain: state.domain })}`;
  const onEvent = (name, data) => {
    if (live !== mine || !data) return;
    switch (name) {
      case 'snapshot':
        view.sessions = new Map(data.sessions.map((s) => [s.session_id, s]));
        view.more = data.has_more;
        break;
      case 'session':
        view.sessions.set(data.session_id, data);
        break;
      case 'mic_state': {
        const s = view.sessions.get(data.session_id);
        if (s) s.mic_holder = data.holder;
        break;
      }
      case 'session_closed':
        view.sessions.delete(data.session_id);
        break;
      case 'unauthorized':
        window.dispatchEvent(new CustomEvent('tally:unauthorized', { detail: `Signed out: ${data.error}. Sign in again.` }));
        return;
      default:
        return;
    }
    setStatus(status, 'ok', `Live · updated ${new Date().toISOString().slice(11, 19)} UTC`);
    draw(box, view);
  };
  stream(path, onEvent, mine.controller.signal)
    .then(() => {
      if (live !== mine) return;
      setStatus(status, 'loading', 'The server closed the stream; reconnecting…');
      mine.retry = setTimeout(() => connect(mine, status, box, view), RETRY_MS);
    })
    .catch((e) => {
      if (live !== mine) return;
      const text = e instanceof ApiError ? e.message : `Unexpected error: ${e}`;
      // A refusal (4xx) will not heal by retrying; a broken connection or a 503 may.
      const final = e.status >= 400 && e.status < 500;
      setStatus(status, 'error', final ? text : `${text} Retrying in ${RETRY_MS / 1000} s…`);
      if (!final) mine.retry = setTimeout(() => connect(mine, status, box, view), RETRY_MS);
    });
}

function draw(box, view) {
  if (!box.isConnected) return;
  const list = [...view.sessions.values()]
    .sort((a, b) => b.started_at.localeCompare(a.started_at) || a.session_id.localeCompare(b.session_id));
  if (list.length === 0) {
    replace(box, message('empty', 'No open sessions right now. They appear here as soon as a client opens one (POST /live).'));
    return;
  }
  const now = Date.now();
  const num = (v) => ({ value: fmt(v), class: 'num' });
  const headers = ['Site', 'Key', 'Mic holder', { value: 'Captions sent', class: 'num' },
    { value: 'Failed', class: 'num' }, { value: 'Captions / min', class: 'num' }, 'Started (UTC)', 'Last activity (UTC)'];
  const rows = list.map((s) => ({
    attrs: { 'data-session-id': s.session_id },
    cells: [
      s.domain,
      `#${s.key_id}`,
      { value: s.mic_holder ?? '— free', class: s.mic_holder ? 'mic' : 'mic free' },
      num(s.captions_sent),
      num(s.captions_failed),
      { value: fmt(captionRate(s, now), 1), class: 'num rate' },
      time(s.started_at),
      time(s.last_activity_at),
    ],
  }));
  replace(box,
    table('Open sessions', headers, rows, { id: 'live-table' }),
    h('p', { class: 'usage' }, `${list.length} open session${list.length === 1 ? '' : 's'}`,
      view.more ? ' (the newest only: filter by site to see others)' : '',
      '. Captions per minute are averaged since the session started.'));
}
