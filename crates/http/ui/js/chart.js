// A stacked time chart on uPlot (vendored, ../vendor/uplot, version 1.6.32).

import uPlot from '../vendor/uplot/uPlot.esm.js';

const COLOURS = ['#0b5cad', '#e66100', '#1a7f37', '#8250df', '#bf3989', '#9a6700', '#0a7b83',
  '#57606a', '#cf222e', '#4d2d00'];

/**
 * Draws `series` ([{label, values}]) over `xs` (unix seconds), stacked: each band shows its own
 * value in the legend, the top edge the total. Returns the uPlot instance (destroy() it).
 */
export function stackedChart(el, xs, series, { granularity, valueFormat }) {
  const stacked = [];
  let running = xs.map(() => 0);
  for (const s of series) {
    running = running.map((v, i) => v + (s.values[i] || 0));
    stacked.push(running);
  }
  // Drawn top band first so each lower band paints over the one above it.
  const order = series.map((_, i) => i).reverse();
  const width = Math.max(280, el.clientWidth || 600);
  const step = granularity === 'hour' ? 3600 : 86400;
  const bars = uPlot.paths.bars({ size: [0.8, 48], align: 0 });
  const opts = {
    width,
    height: 300,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    cursor: { drag: { x: false, y: false } },
    scales: {
      // Half a bucket of room on each side, so the first and last bars are whole.
      x: { time: true, range: () => [xs[0] - step / 2, xs[xs.length - 1] + step / 2] },
      y: { range: (u, min, max) => [0, max > 0 ? max * 1.05 : 1] },
    },
    axes: [
      { incrs: granularity === 'hour' ? [3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400]
        : [86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400, 91 * 86400],
        values: (u, splits) => splits.map((ts) => formatBucket(ts, granularity)), space: granularity === 'hour' ? 130 : 90 },
      { values: (u, vals) => vals.map((v) => valueFormat(v)), size: 80 },
    ],
    series: [
      { label: granularity === 'hour' ? 'Hour (UTC)' : 'Day (UTC)',
        value: (u, ts) => (ts == null ? '—' : formatBucket(ts, granularity)) },
      ...order.map((i) => ({
        label: series[i].label,
        stroke: COLOURS[i % COLOURS.length],
        fill: COLOURS[i % COLOURS.length],
        width: 1,
        paths: bars,
        points: { show: false },
        value: (u, v, si, idx) => (idx == null ? '—' : valueFormat(series[i].values[idx] || 0)),
      })),
    ],
  };
  // Empty buckets draw nothing (a zero-height bar would still show its outline).
  const data = [xs, ...order.map((i) => stacked[i].map((v) => (v === 0 ? null : v)))];
  return new uPlot(opts, data, el);
}

export function formatBucket(ts, granularity) {
  const iso = new Date(ts * 1000).toISOString();
  return granularity === 'hour' ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : iso.slice(0, 10);
}
