// Keys: every key the caller may see (GET /v1/keys) with today's and lifetime usage against
// its limits; admins create (secret shown once), change limits and revoke.

import { api, query } from './api.js';
import { confirmDialog, field, fmt, h, message, replace, secretBox, table } from './dom.js';

export const title = 'Keys';

const isoDay = (d) => d.toISOString().slice(0, 10);

function status(k) {
  if (k.erased_at) return 'erased';
  if (k.revoked_at || !k.active) return 'revoked';
  if (k.expires_at && Date.parse(k.expires_at) <= Date.now()) return 'expired';
  return 'active';
}

function usage(used, limit, what) {
  const text = limit === null ? `${fmt(used)} (no limit)` : `${fmt(used)} / ${fmt(limit)}`;
  return h('div', {},
    limit === null ? null : h('meter', { min: 0, max: Math.max(limit, 1), value: Math.min(used, Math.max(limit, 1)),
      high: Math.max(limit, 1) * 0.8, optimum: 0, 'aria-label': `${what}: ${text}` }),
    h('span', { class: 'usage' }, text));
}

/** A limit field's value: blank = unlimited (null), else a non-negative integer. */
function limitValue(input) {
  const v = input.value.trim();
  return v === '' ? null : Number(v);
}

function limitInput(name, id, value) {
  return h('input', { type: 'number', min: 0, step: 1, name, id, inputmode: 'numeric',
    placeholder: 'unlimited', value: value ?? '' });
}

export async function render(root, me) {
  const notice = h('div', { id: 'keys-notice' });
  const list = h('div', { id: 'keys-list' }, message('loading', 'Loading keys…'));
  const editor = h('div', { id: 'keys-editor' });
  const refresh = h('button', { type: 'button', class: 'secondary', id: 'keys-refresh',
    onclick: () => load(list, editor, notice, me) }, 'Refresh');
  const parts = [h('h2', {}, 'Keys'), h('p', { class: 'actions' }, refresh), notice];
  if (me.admin) parts.push(await createForm(notice, () => load(list, editor, notice, me)));
  replace(root, ...parts, editor, list);
  await load(list, editor, notice, me);
}

async function createForm(notice, reload) {
  let users = [];
  try {
    ({ users } = await api('GET', '/v1/users'));
  } catch {
    users = [];
  }
  const userSelect = h('select', { name: 'user_id', id: 'new-key-user' },
    h('option', { value: '' }, '(no user)'),
    users.filter((u) => !u.erased_at).map((u) => h('option', { value: u.id }, u.username)));
  const status = h('p', { class: 'message', role: 'status' });
  const form = h('form', { class: 'filters', id: 'new-key-form' },
    field('Name', h('input', { name: 'name', id: 'new-key-name', maxlength: 200 })),
    field('Owner', h('input', { name: 'owner', id: 'new-key-owner', maxlength: 200 })),
    field('User', userSelect),
    field('Daily limit', limitInput('daily_limit', 'new-key-daily')),
    field('Lifetime limit', limitInput('lifetime_limit', 'new-key-lifetime')),
    field('Expires (UTC day)', h('input', { type: 'date', name: 'expires_at', id: 'new-key-expires' })),
    h('button', { type: 'submit' }, 'Create key'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const el = form.elements;
    const body = { daily_limit: limitValue(el.daily_limit), lifetime_limit: limitValue(el.lifetime_limit) };
    for (const f of ['name', 'owner', 'user_id', 'expires_at']) if (el[f].value.trim()) body[f] = el[f].value.trim();
    status.className = 'message loading';
    status.textContent = 'Creating…';
    try {
      const key = await api('POST', '/v1/keys', body);
      status.className = 'message';
      status.textContent = '';
      form.reset();
      replace(notice, message('ok', `Key #${key.id} created.`), secretBox(`Secret of key #${key.id}`, key.key, 'new-key-secret'));
      await reload();
    } catch (err) {
      status.className = 'message error';
      status.textContent = err.message;
    }
  });
  return h('details', { class: 'create', open: true }, h('summary', {}, 'Create a key'), form);
}

async function load(list, editor, notice, me) {
  try {
    const today = isoDay(new Date());
    const tomorrow = isoDay(new Date(Date.now() + 86400000));
    const [{ keys }, daily] = await Promise.all([
      api('GET', '/v1/keys'),
      api('GET', `/v1/analytics${query({ from: today, to: tomorrow, group_by: 'key', metrics: 'units' })}`),
    ]);
    const usedToday = new Map(daily.rows.map((r) => [r.key, r.units]));
    if (keys.length === 0) {
      replace(list, message('empty', me.admin ? 'No keys yet: create one above.' : 'No keys are bound to you.'));
      return;
    }
    const headers = ['ID', 'Name', 'Owner', 'Alias', 'Status', 'Today', 'Lifetime'];
    if (me.admin) headers.push('Actions');
    const rows = keys.map((k) => {
      const s = status(k);
      const cells = [`#${k.id}`, k.name || '—', k.owner, h('code', {}, k.alias), h('span', { class: `badge ${s}` }, s),
        usage(usedToday.get(k.id) || 0, k.daily_limit, 'used today'),
        usage(k.lifetime_used, k.lifetime_limit, 'used in total')];
      if (me.admin) {
        cells.push(s === 'erased' ? '—' : h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'secondary', 'data-action': 'limits', 'aria-label': `Change limits of key #${k.id}`,
            onclick: () => editLimits(k, editor, notice, () => load(list, editor, notice, me)) }, 'Limits…'),
          s === 'revoked' ? null : h('button', { type: 'button', class: 'danger', 'data-action': 'revoke',
            'aria-label': `Revoke key #${k.id}`, onclick: () => revoke(k, notice, () => load(list, editor, notice, me)) }, 'Revoke')));
      }
      return { attrs: { 'data-key-id': k.id }, cells };
    });
    replace(list, table('API keys', headers, rows, { id: 'keys-table' }));
  } catch (e) {
    replace(list, message('error', e.message));
  }
}

function editLimits(k, editor, notice, reload) {
  const status = h('p', { class: 'message', role: 'status' });
  const daily = limitInput('daily_limit', 'edit-daily', k.daily_limit);
  const form = h('form', { class: 'filters', id: 'edit-limits-form' },
    field('Daily limit', daily),
    field('Lifetime limit', limitInput('lifetime_limit', 'edit-lifetime', k.lifetime_limit)),
    h('button', { type: 'submit' }, 'Save limits'),
    h('button', { type: 'button', class: 'secondary', onclick: () => replace(editor) }, 'Cancel'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { daily_limit: limitValue(form.elements.daily_limit), lifetime_limit: limitValue(form.elements.lifetime_limit) };
    try {
      await api('PATCH', `/v1/keys/${k.id}`, body);
      replace(editor);
      replace(notice, message('ok', `Limits of key #${k.id} saved (counters are not reset).`));
      await reload();
    } catch (err) {
      status.className = 'message error';
      status.textContent = err.message;
    }
  });
  replace(editor, h('section', { 'aria-labelledby': 'edit-limits-title' },
    h('h3', { id: 'edit-limits-title' }, `Change limits of key #${k.id} (${k.name || k.owner})`),
    h('p', {}, 'Leave a field empty for no limit; 0 blocks everything.'), form));
  daily.focus();
}

async function revoke(k, notice, reload) {
  const ok = await confirmDialog(`Revoke key #${k.id}?`,
    h('p', {}, `Key #${k.id} (${k.name || k.owner}, ${k.alias}) stops working at once: its open sessions end and its tokens die. Its history stays.`),
    'Revoke');
  if (!ok) return;
  try {
    await api('DELETE', `/v1/keys/${k.id}`);
    replace(notice, message('ok', `Key #${k.id} revoked.`));
    await reload();
  } catch (e) {
    replace(notice, message('error', e.message));
  }
}
