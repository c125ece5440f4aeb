// Sites: lcyt's per-site session and caption rollups (GET /usage with the admin key), charted
// per day or hour and stacked by site: sessions started and ended, captions, peaks. The open
// sessions themselves are on the Live page (live.js).

import { api, query } from './api.js';
import { stackedChart } from './chart.js';
import { field, fmt, h, message, replace, table } from './dom.js';

export const title = 'Sites';

const METRICS = {
  captions_sent: 'Captions sent',
  captions_failed: 'Captions failed',
  sessions_started: 'Sessions started',
  sessions_ended: 'Sessions ended',
  batches_sent: 'Batches sent',
  peak_sessions: 'Peak open sessions',
};
const DAY = 86400;
const isoDay = (d) => d.toISOString().slice(0, 10);
const today = isoDay(new Date());
const state = { from: isoDay(new Date(Date.now() - 6 * DAY * 1000)), to: today, granularity: 'day', domain: '', metric: 'captions_sent' };
let chart = null;

export async function render(root, me) {
  if (!me.adminKey) {
    replace(root, h('h2', {}, 'Sites'),
      message('empty', 'Per-site usage (GET /usage) is read with the admin key: sign in with it to see this page.'));
    return;
  }
  const box = h('div', { id: 'sites' }, message('loading', 'Loading site usage…'));
  const form = h('form', { class: 'filters', id: 'sites-form' },
    field('From (UTC day)', h('input', { type: 'date', name: 'from', id: 'sites-from', value: state.from, required: true })),
    field('To (UTC day, included)', h('input', { type: 'date', name: 'to', id: 'sites-to', value: state.to, required: true })),
    field('Granularity', h('select', { name: 'granularity', id: 'sites-granularity' },
      ['day', 'hour'].map((g) => h('option', { value: g, selected: g === state.granularity }, g)))),
    field('Site (optional)', h('input', { name: 'domain', id: 'sites-domain', value: state.domain, placeholder: 'https://example.com' })),
    field('Chart', h('select', { name: 'metric', id: 'sites-metric' },
      Object.entries(METRICS).map(([m, label]) => h('option', { value: m, selected: m === state.metric }, label)))),
    h('button', { type: 'submit' }, 'Show'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    for (const k of Object.keys(state)) state[k] = form.elements[k].value.trim();
    load(box);
  });
  replace(root, h('h2', {}, 'Sites'),
    h('p', { class: 'usage' }, 'Caption sessions per site, from the hourly site rollups (UTC).'), form, box);
  await load(box);
}

async function load(box) {
  replace(box, message('loading', 'Loading site usage…'));
  try {
    const { from, to, granularity, domain } = state;
    const data = await api('GET', `/usage${query({ from, to, granularity, domain })}`);
    draw(box, data);
  } catch (e) {
    replace(box, message('error', e.message));
  }
}

function draw(box, data) {
  if (data.data.length === 0) {
    replace(box, message('empty', 'No caption sessions in this range.'));
    return;
  }
  const step = data.granularity === 'hour' ? 3600 : DAY;
  const start = Date.parse(`${data.from}T00:00:00Z`) / 1000;
  const end = Date.parse(`${data.to}T00:00:00Z`) / 1000 + DAY;
  const xs = [];
  for (let t = start; t < end; t += step) xs.push(t);
  const index = new Map(xs.map((t, i) => [t, i]));
  const sites = new Map();
  for (const r of data.data) {
    if (!sites.has(r.domain)) sites.set(r.domain, []);
    sites.get(r.domain).push(r);
  }
  const metric = state.metric;
  const series = [...sites.entries()].map(([domain, rows]) => {
    const values = xs.map(() => 0);
    for (const r of rows) {
      const t = Date.parse(`${r.date}T00:00:00Z`) / 1000 + (r.hour ?? 0) * 3600;
      const i = index.get(t);
      if (i !== undefined) values[i] += r[metric];
    }
    return { label: domain, values };
  });
  const chartEl = h('div', { class: 'chart', role: 'img',
    'aria-label': `${METRICS[metric]} per ${data.granularity}, stacked by site; the table below has the numbers` });
  const totals = [...sites.entries()].map(([domain, rows]) => {
    const t = { domain, total_duration_ms: 0 };
    for (const m of Object.keys(METRICS)) t[m] = 0;
    for (const r of rows) {
      for (const m of Object.keys(METRICS)) t[m] = m === 'peak_sessions' ? Math.max(t[m], r[m]) : t[m] + r[m];
      t.total_duration_ms += r.total_duration_ms;
    }
    return t;
  });
  const headers = ['Site', ...Object.values(METRICS).map((v) => ({ value: v, class: 'num' })), { value: 'Session time', class: 'num' }];
  replace(box, chartEl, table('Totals per site', headers, totals.map((t) => ({
    attrs: { 'data-domain': t.domain },
    cells: [t.domain, ...Object.keys(METRICS).map((m) => ({ value: fmt(t[m]), class: 'num' })),
      { value: `${fmt(t.total_duration_ms / 60000, 1)} min`, class: 'num' }],
  })), { id: 'sites-table' }));
  if (chart) chart.destroy();
  chart = stackedChart(chartEl, xs, series, { granularity: data.granularity, valueFormat: (v) => fmt(v) });
}
