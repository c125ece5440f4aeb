// Overview: calls, units, tokens and cost over a date range, stacked by one dimension, and
// today's totals — every number straight from GET /v1/analytics (scoped by the API).

import { api, query } from './api.js';
import { stackedChart, formatBucket } from './chart.js';
import { field, fmt, h, message, replace, table, usd } from './dom.js';

export const title = 'Overview';

const METRICS = {
  count: { label: 'Calls (events)', format: (v) => fmt(v) },
  units: { label: 'Units', format: (v) => fmt(v) },
  tokens: { label: 'Tokens', format: (v) => fmt(v) },
  cost_usd: { label: 'Cost', format: (v) => usd(v) },
};
const GROUPS = { '': 'nothing (totals)', model: 'model', api_name: 'API name', key: 'key', domain: 'domain' };
const DAY = 86400;

const isoDay = (d) => d.toISOString().slice(0, 10);
const addDays = (day, n) => isoDay(new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY * 1000));

// The form's state survives navigation between pages (not reloads; nothing goes in the URL).
const today = isoDay(new Date());
const state = { from: addDays(today, -6), to: today, granularity: 'day', group_by: '', metric: 'count' };
let chart = null;

function sum(rows) {
  const t = { count: 0, units: 0, tokens: 0, cost_usd: 0 };
  for (const r of rows) for (const m of Object.keys(t)) t[m] += r[m] || 0;
  t.cost_usd = Math.round(t.cost_usd * 1e9) / 1e9;
  return t;
}

function tiles(prefix, heading, totals) {
  return h('section', { 'aria-labelledby': `${prefix}-title` },
    h('h3', { id: `${prefix}-title` }, heading),
    h('dl', { class: 'tiles' },
      Object.entries(METRICS).map(([m, { label, format }]) =>
        h('div', {}, h('dt', {}, label),
          h('dd', { id: `${prefix}-${m}`, 'data-value': totals[m] }, format(totals[m]))))));
}

function select(name, options, value) {
  return h('select', { name, id: `ov-${name}` },
    Object.entries(options).map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

export async function render(root) {
  const form = h('form', { class: 'filters', id: 'overview-form' },
    field('From (UTC day)', h('input', { type: 'date', name: 'from', id: 'ov-from', value: state.from, required: true })),
    field('To (UTC day, included)', h('input', { type: 'date', name: 'to', id: 'ov-to', value: state.to, required: true })),
    field('Granularity', select('granularity', { day: 'day', hour: 'hour' }, state.granularity)),
    field('Stack by', select('group_by', GROUPS, state.group_by)),
    field('Chart', select('metric', Object.fromEntries(Object.entries(METRICS).map(([k, v]) => [k, v.label])), state.metric)),
    h('button', { type: 'submit' }, 'Show'));
  const todayBox = h('div', { id: 'today' }, message('loading', 'Loading today…'));
  const rangeBox = h('div', { id: 'range' }, message('loading', 'Loading usage…'));
  replace(root, h('h2', {}, 'Overview'), todayBox, h('h3', {}, 'Usage over time'), form, rangeBox);

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    for (const k of Object.keys(state)) state[k] = form.elements[k].value;
    loadRange(rangeBox);
  });
  await Promise.all([loadToday(todayBox), loadRange(rangeBox)]);
}

async function loadToday(box) {
  const day = isoDay(new Date());
  try {
    const data = await api('GET', `/v1/analytics${query({ from: day, to: addDays(day, 1), granularity: 'day' })}`);
    replace(box, tiles('today', `Today (${day}, UTC)`, sum(data.rows)));
  } catch (e) {
    replace(box, message('error', e.message));
  }
}

async function labels(group) {
  if (group !== 'key') return (v) => (v === null ? '(none)' : String(v));
  const { keys } = await api('GET', '/v1/keys');
  const names = new Map(keys.map((k) => [k.id, `#${k.id} ${k.name || k.owner}`]));
  return (v) => (v === null ? '(erased or none)' : names.get(v) || `#${v}`);
}

async function loadRange(box) {
  replace(box, message('loading', 'Loading usage…'));
  if (state.to < state.from) {
    replace(box, message('error', '“To” must not be before “From”.'));
    return;
  }
  const params = { from: state.from, to: addDays(state.to, 1), granularity: state.granularity, group_by: state.group_by };
  try {
    const [data, label] = await Promise.all([api('GET', `/v1/analytics${query(params)}`), labels(state.group_by)]);
    drawRange(box, data, label);
  } catch (e) {
    replace(box, message('error', e.message));
  }
}

function drawRange(box, data, label) {
  const step = data.granularity === 'hour' ? 3600 : DAY;
  const start = Date.parse(data.from) / 1000;
  const end = Date.parse(data.to) / 1000;
  const xs = [];
  for (let t = Math.floor(start / step) * step; t < end; t += step) xs.push(t);
  const index = new Map(xs.map((t, i) => [t, i]));
  const group = state.group_by;
  const groups = new Map();
  for (const r of data.rows) {
    const g = group ? r[group] : null;
    const key = JSON.stringify(g);
    if (!groups.has(key)) groups.set(key, { name: group ? label(g) : 'All usage', rows: [] });
    groups.get(key).rows.push(r);
  }
  const totals = sum(data.rows);
  const summary = tiles('range', `${state.from} to ${state.to}`, totals);
  if (data.rows.length === 0) {
    replace(box, summary, message('empty', 'No usage in this range.'));
    return;
  }
  const metric = state.metric;
  const series = [...groups.values()].map((g) => {
    const values = xs.map(() => 0);
    for (const r of g.rows) {
      const i = index.get(Math.floor(Date.parse(r.bucket) / 1000 / step) * step);
      if (i !== undefined) values[i] += r[metric] || 0;
    }
    return { label: g.name, values };
  });
  const chartEl = h('div', { class: 'chart', id: 'chart', role: 'img',
    'aria-label': `${METRICS[metric].label} per ${data.granularity}${group ? `, stacked by ${GROUPS[group]}` : ''}; the table below has the numbers` });
  const breakdown = table(`Totals by ${group ? GROUPS[group] : 'range'}`,
    [group ? GROUPS[group] : 'Range', ...Object.values(METRICS).map((m) => ({ value: m.label, class: 'num' }))],
    [...groups.values()].map((g) => {
      const t = sum(g.rows);
      return { cells: [g.name, ...Object.entries(METRICS).map(([m, { format }]) => ({ value: format(t[m]), class: 'num' }))] };
    }), { id: 'breakdown' });
  const first = formatBucket(xs[0], data.granularity);
  replace(box, summary, chartEl,
    h('p', { class: 'usage' }, `${xs.length} ${data.granularity} buckets from ${first} (UTC).`), breakdown);
  if (chart) chart.destroy();
  chart = stackedChart(chartEl, xs, series, { granularity: data.granularity, valueFormat: METRICS[metric].format });
}
