// Organisations (admin): list them (GET /v1/orgs) and create one (POST /v1/orgs; the id is
// generated when left empty). Users and keys are placed in an organisation when created.

import { api } from './api.js';
import { field, h, message, replace, table } from './dom.js';

export const title = 'Organisations';

export async function render(root) {
  const notice = h('div', { id: 'orgs-notice' });
  const list = h('div', { id: 'orgs-list' }, message('loading', 'Loading organisations…'));
  const reload = () => load(list);
  replace(root, h('h2', {}, 'Organisations'), notice, createForm(notice, reload), list);
  await reload();
}

function createForm(notice, reload) {
  const status = h('p', { class: 'message', role: 'status' });
  const form = h('form', { class: 'filters', id: 'new-org-form' },
    field('Name', h('input', { name: 'name', id: 'new-org-name', required: true, maxlength: 200, autocomplete: 'off' })),
    field('Id (optional, org_…)', h('input', { name: 'id', id: 'new-org-id', placeholder: 'generated when empty', autocomplete: 'off', spellcheck: 'false' })),
    h('button', { type: 'submit' }, 'Create organisation'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const el = form.elements;
    const body = { name: el.name.value.trim() };
    if (el.id.value.trim()) body.id = el.id.value.trim();
    try {
      const org = await api('POST', '/v1/orgs', body);
      status.className = 'message';
      status.textContent = '';
      form.reset();
      replace(notice, message('ok', `Organisation ${org.name} (${org.id}) created.`));
      await reload();
    } catch (err) {
      status.className = 'message error';
      status.textContent = err.message;
    }
  });
  return h('details', { class: 'create', open: true }, h('summary', {}, 'Create an organisation'), form);
}

async function load(list) {
  try {
    const { orgs } = await api('GET', '/v1/orgs');
    if (orgs.length === 0) {
      replace(list, message('empty', 'No organisations.'));
      return;
    }
    const rows = orgs.map((o) => ({
      attrs: { 'data-org-id': o.id },
      cells: [o.id, o.name, o.created_at.slice(0, 10)],
    }));
    replace(list, table('Organisations', ['Id', 'Name', 'Created (UTC)'], rows, { id: 'orgs-table' }));
  } catch (e) {
    replace(list, message('error', e.message));
  }
}
