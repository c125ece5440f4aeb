// Request logs: the signed-in user's API calls (GET /v1/users/me/api-logs), with its filters
// and paging. The API lists the caller's own calls only, so the admin key has none.

import { api, query } from './api.js';
import { field, h, message, replace, table } from './dom.js';

export const title = 'Request logs';

const state = { method: '', status_code: '', path: '', api_key_id: '', start_date: '', end_date: '', page: 1, page_size: 20 };

export async function render(root, me) {
  const results = h('div', { id: 'logs-results' }, message('loading', 'Loading request logs…'));
  const input = (name, attrs = {}) => h('input', { name, id: `logs-${name}`, value: state[name], ...attrs });
  const form = h('form', { class: 'filters', id: 'logs-form' },
    field('Method', h('select', { name: 'method', id: 'logs-method' },
      ['', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => h('option', { value: m, selected: m === state.method }, m || 'any')))),
    field('Status', input('status_code', { type: 'number', min: 100, max: 599, placeholder: 'any' })),
    field('Path contains', input('path', { placeholder: '/api/…' })),
    field('Key id', input('api_key_id', { type: 'number', min: 1, placeholder: 'any' })),
    field('From (UTC day)', input('start_date', { type: 'date' })),
    field('To (UTC day, included)', input('end_date', { type: 'date' })),
    field('Per page', h('select', { name: 'page_size', id: 'logs-page_size' },
      [20, 50, 100].map((n) => h('option', { value: n, selected: n === Number(state.page_size) }, n)))),
    h('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    for (const k of Object.keys(state)) if (form.elements[k]) state[k] = form.elements[k].value;
    state.page = 1;
    load(results, me);
  });
  replace(root, h('h2', {}, 'Request logs'),
    h('p', { class: 'usage' }, 'Your API calls (usage events with an HTTP method), newest first.'), form, results);
  await load(results, me);
}

async function load(box, me) {
  replace(box, message('loading', 'Loading request logs…'));
  try {
    const data = await api('GET', `/v1/users/me/api-logs${query(state)}`);
    const pages = Math.max(1, Math.ceil(data.total / data.page_size));
    const go = (page) => {
      state.page = page;
      load(box, me);
    };
    const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of request logs' },
      h('button', { type: 'button', class: 'secondary', disabled: data.page <= 1, onclick: () => go(data.page - 1) }, 'Previous'),
      h('span', { id: 'logs-page' }, `Page ${data.page} of ${pages} · ${data.total} calls`),
      h('button', { type: 'button', class: 'secondary', disabled: data.page >= pages, onclick: () => go(data.page + 1) }, 'Next'));
    if (data.logs.length === 0) {
      replace(box, message('empty', 'No request logs match.'), pager);
      return;
    }
    replace(box, table('Request logs', ['Time (UTC)', 'Method', 'Path', { value: 'Status', class: 'num' },
      { value: 'ms', class: 'num' }, 'Key', 'IP', 'User agent'],
    data.logs.map((l) => ({ cells: [l.createdAt.replace('T', ' ').slice(0, 19), l.method, h('code', {}, l.path ?? '—'),
      { value: l.statusCode ?? '—', class: 'num' }, { value: l.responseTimeMs ?? '—', class: 'num' },
      l.apiKeyId ? `#${l.apiKeyId} ${l.apiKeyName ?? ''}` : '—', l.ipAddress ?? '—', l.userAgent ?? '—'] })),
    { id: 'logs-table' }), pager);
  } catch (e) {
    const hint = !me.userId && e.status === 403
      ? message('empty', 'Request logs are per user: the admin key is nobody here. Sign in with a user token to see that user’s calls.')
      : null;
    replace(box, message('error', e.message), hint);
  }
}
