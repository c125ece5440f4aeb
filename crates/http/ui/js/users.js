// Users (admin): list and create users, issue a user token (shown once), erase a user after a
// confirmation naming what goes, and the erasure receipts (GET /v1/erasures).

import { api, query } from './api.js';
import { confirmDialog, field, h, message, replace, secretBox, table } from './dom.js';

export const title = 'Users';

export async function render(root) {
  const notice = h('div', { id: 'users-notice' });
  const list = h('div', { id: 'users-list' }, message('loading', 'Loading users…'));
  const receipts = h('div', { id: 'erasures' }, message('loading', 'Loading receipts…'));
  const reload = () => Promise.all([load(list, notice, reload), loadReceipts(receipts)]);
  replace(root, h('h2', {}, 'Users'), notice, createForm(notice, reload), list,
    h('h3', {}, 'Erasure receipts'),
    h('p', { class: 'usage' }, 'One per erased key; receipts hold no personal data.'), receipts);
  await reload();
}

function createForm(notice, reload) {
  const status = h('p', { class: 'message', role: 'status' });
  const form = h('form', { class: 'filters', id: 'new-user-form' },
    field('Username', h('input', { name: 'username', id: 'new-user-name', required: true, maxlength: 64,
      pattern: '[A-Za-z0-9._@\\-]{1,64}', autocomplete: 'off' })),
    field('Email (optional)', h('input', { name: 'email', id: 'new-user-email', type: 'email' })),
    field('Role', h('select', { name: 'role', id: 'new-user-role' },
      h('option', { value: 'user' }, 'user'), h('option', { value: 'admin' }, 'admin'))),
    h('button', { type: 'submit' }, 'Create user'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const el = form.elements;
    const body = { username: el.username.value.trim(), role: el.role.value };
    if (el.email.value.trim()) body.email = el.email.value.trim();
    try {
      const user = await api('POST', '/v1/users', body);
      status.className = 'message';
      status.textContent = '';
      form.reset();
      replace(notice, message('ok', `User ${user.username} created.`));
      await reload();
    } catch (err) {
      status.className = 'message error';
      status.textContent = err.message;
    }
  });
  return h('details', { class: 'create', open: true }, h('summary', {}, 'Create a user'), form);
}

async function load(list, notice, reload) {
  try {
    const { users } = await api('GET', '/v1/users');
    if (users.length === 0) {
      replace(list, message('empty', 'No users yet.'));
      return;
    }
    const rows = users.map((u) => ({
      attrs: { 'data-user-id': u.id, 'data-username': u.username },
      cells: [u.username, u.email || '—', u.role, u.org_id, u.created_at.slice(0, 10),
        u.erased_at ? h('span', { class: 'badge erased' }, `erased ${u.erased_at.slice(0, 10)}`) : h('span', { class: 'badge active' }, 'active'),
        u.erased_at ? '—' : h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'secondary', 'data-action': 'token', 'aria-label': `Issue a token for ${u.username}`,
            onclick: () => issueToken(u, notice) }, 'Issue token'),
          h('button', { type: 'button', class: 'danger', 'data-action': 'erase', 'aria-label': `Erase ${u.username}`,
            onclick: () => erase(u, notice, reload) }, 'Erase…'))],
    }));
    replace(list, table('Users', ['Username', 'Email', 'Role', 'Organisation', 'Created', 'Status', 'Actions'], rows, { id: 'users-table' }));
  } catch (e) {
    replace(list, message('error', e.message));
  }
}

async function issueToken(u, notice) {
  try {
    const t = await api('POST', `/v1/users/${u.id}/tokens`, {});
    replace(notice, message('ok', `Token for ${u.username} (role ${t.role}), valid until ${t.expires_at}.`),
      secretBox(`Token for ${u.username}`, t.token, 'new-token'));
  } catch (e) {
    replace(notice, message('error', e.message));
  }
}

async function erase(u, notice, reload) {
  let keys = [];
  try {
    ({ keys } = await api('GET', `/v1/keys${query({ user_id: u.id })}`));
  } catch (e) {
    replace(notice, message('error', e.message));
    return;
  }
  const live = keys.filter((k) => !k.erased_at);
  const body = [
    h('p', {}, `This erases ${u.username}${u.email ? ` (${u.email})` : ''} for good. It cannot be undone.`),
    h('p', {}, live.length === 0 ? 'They have no keys.' : `Their ${live.length} key${live.length === 1 ? '' : 's'}:`),
    live.length === 0 ? null : h('ul', { id: 'erase-keys' }, live.map((k) => h('li', {}, `#${k.id} ${k.name || k.owner} (${k.alias})`))),
    h('p', {}, 'Deleted: the keys’ owner, email and name, their session records, caption errors, auth events and raw usage events, and the user’s username and email. Kept: usage totals, moved to an anonymous bucket, and one receipt per key.'),
  ];
  if (!(await confirmDialog(`Erase ${u.username}?`, body, `Erase ${u.username}`))) return;
  try {
    const res = await api('DELETE', `/v1/users/${u.id}/data`);
    replace(notice, message('ok', `${res.message} ${res.receipts.length} receipt(s).`));
    await reload();
  } catch (e) {
    replace(notice, message('error', e.message));
  }
}

async function loadReceipts(box) {
  try {
    const { erasures } = await api('GET', '/v1/erasures');
    replace(box, erasures.length === 0 ? message('empty', 'No erasures yet.')
      : table('Erasure receipts', ['Key', 'Organisation', 'Erased at', { value: 'Rows deleted', class: 'num' }],
        erasures.map((r) => ({ cells: [`#${r.key_id}`, r.org_id, r.erased_at, { value: r.rows_deleted, class: 'num' }] })),
        { id: 'erasures-table' }));
  } catch (e) {
    replace(box, message('error', e.message));
  }
}
