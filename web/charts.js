// Charts: Observable Plot figures, each with a table view (its text alternative) and
// downloads of exactly the data drawn.
'use strict';

// Okabe–Ito: distinguishable with the common colour-vision deficiencies. Series also get
// a marker shape (and required/central lines a dash), so colour is never the only cue.
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000'];
const SYMBOLS = ['circle', 'square', 'triangle', 'diamond', 'cross', 'star', 'wye'];
const D3_SYMBOLS = { circle: 'symbolCircle', square: 'symbolSquare', triangle: 'symbolTriangle', diamond: 'symbolDiamond', cross: 'symbolCross', star: 'symbolStar', wye: 'symbolWye' };
const WIDTH = 640;
const HEIGHT = 300;

function seriesStyles(names) {
  return names.map((name, i) => ({ name, color: PALETTE[i % PALETTE.length], symbol: SYMBOLS[i % SYMBOLS.length] }));
}

/** Month `2025-04` as a UTC date; Plot's time axis is UTC. */
function monthDate(p) {
  const [y, m] = p.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, 1));
}
const isMonth = (p) => /^\d{4}-\d{2}$/.test(p);

function tickFormat(metric) {
  const k = kindOf(metric);
  if (k === 'money') return (d) => `£${d3.format('~s')(d).replace('G', 'bn')}`;
  if (k === 'rate') return d3.format('.1~%');
  return d3.format(',~f');
}

/** A legend key as an image, so the chart's own SVG is the only one in its figure. */
function swatch({ color, symbol, dashed, band, bar }) {
  const parts = [band || bar
    ? `<rect x="1" y="2" width="26" height="10" fill="${color}" fill-opacity="${bar ? 1 : 0.3}" stroke="${bar ? '#212b32' : color}" stroke-width="0.5"/>`
    : `<line x1="1" y1="7" x2="27" y2="7" stroke="${color}" stroke-width="2"${dashed ? ' stroke-dasharray="5,3"' : ''}/>`];
  if (symbol) parts.push(`<path d="${d3.symbol(d3[D3_SYMBOLS[symbol]], 40)()}" transform="translate(14,7)" fill="white" stroke="${color}" stroke-width="1.5"/>`);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="28" height="14">${parts.join('')}</svg>`;
  return h('img', { src: `data:image/svg+xml,${encodeURIComponent(svg)}`, alt: '', width: 28, height: 14 });
}

function legend(items) {
  return h('ul', { class: 'legend', 'aria-label': 'Legend' },
    items.map((it) => h('li', {}, swatch(it), it.label || it.name)));
}

function csvText(columns, rows) {
  const q = (v) => (v == null ? '' : /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
  return [columns.map((c) => q(c.label)), ...rows.map((r) => columns.map((c) => q(r[c.key])))].map((l) => l.join(',')).join('\n');
}

/**
 * A chart figure. `columns` ({key, label, metric?}) and `rows` are the data plotted, as
 * the table shows it; `data-points` is rows.length. `csv`/`parquet` are results API URLs
 * (same query as the chart); without them the CSV is made here from the rows.
 */
function chartFigure({ id, caption, plot, legendItems, columns, rows, csv, parquet, filename, note, controls }) {
  const svg = plot.tagName.toLowerCase() === 'svg' ? plot : plot.querySelector('svg');
  svg.setAttribute('role', 'img');
  const tableId = uid('table');
  const tbl = table(columns.map((c, i) => ({
    label: c.label, num: !!c.metric || c.num, rowHeader: i === 0,
    value: (r) => (c.metric ? fmt(c.metric, r[c.key]) : r[c.key]),
  })), rows, { class: 'chart-table', id: tableId, hidden: true, caption: `${caption}: data` });
  const toggle = h('button', { type: 'button', class: 'show-table secondary', 'aria-expanded': 'false', 'aria-controls': tableId }, 'Show table');
  toggle.addEventListener('click', () => {
    const t = tbl.querySelector('table');
    t.hidden = !t.hidden;
    toggle.setAttribute('aria-expanded', String(!t.hidden));
    toggle.textContent = t.hidden ? 'Show table' : 'Hide table';
  });
  let csvHref = csv;
  if (!csvHref) csvHref = URL.createObjectURL(new Blob([csvText(columns, rows)], { type: 'text/csv' }));
  return h('figure', { class: 'chart', dataset: { chart: id, points: String(rows.length) } },
    h('figcaption', {}, caption),
    controls || null,
    legendItems ? legend(legendItems) : null,
    h('div', { class: 'chart-body' }, plot),
    note ? h('p', { class: 'chart-note' }, note) : null,
    h('div', { class: 'chart-actions' }, toggle,
      h('a', { class: 'download-csv', href: csvHref, download: `${filename}.csv` }, 'Download CSV'),
      parquet ? h('a', { class: 'download-parquet', href: parquet, download: `${filename}.parquet` }, 'Download Parquet') : null),
    tbl);
}

/** Words for a line chart's aria-label: each series' first and last value. */
function describeLines(what, data, metric) {
  const names = [...new Set(data.map((d) => d.series))];
  if (!data.length) return `${what}: no data.`;
  const parts = names.slice(0, 4).map((n) => {
    const s = data.filter((d) => d.series === n);
    return `${n} ${fmt(metric, s[0].value)} in ${s[0].period} to ${fmt(metric, s[s.length - 1].value)} in ${s[s.length - 1].period}`;
  });
  const more = names.length > 4 ? `; and ${names.length - 4} more series (see the table)` : '';
  return `${what}. ${parts.join('; ')}${more}.`;
}

/** Lines over time, one per series; `data` items are {period, series, value}. */
function linePlot({ data, metric, dashed = new Set(), ariaLabel, ariaDescription }) {
  const names = [...new Set(data.map((d) => d.series))];
  const styles = seriesStyles(names);
  const monthly = data.length > 0 && isMonth(data[0].period);
  const pts = data.map((d) => ({ ...d, x: monthly ? monthDate(d.period) : d.period }));
  // A marker every six months keeps 60-month lines legible; yearly lines get one per point.
  const markers = pts.filter((d) => !monthly || (d.x.getUTCMonth() % 6 === 3));
  const common = { x: 'x', y: 'value', z: 'series', stroke: 'series', strokeWidth: 2 };
  const plot = Plot.plot({
    width: WIDTH, height: HEIGHT, marginLeft: 64, marginRight: 16,
    ariaLabel, ariaDescription,
    x: { type: monthly ? 'utc' : 'point', label: null },
    y: { label: label(metric), grid: true, tickFormat: tickFormat(metric), zero: kindOf(metric) === 'rate' },
    color: { domain: names, range: styles.map((s) => s.color) },
    symbol: { domain: names, range: styles.map((s) => s.symbol) },
    marks: [
      Plot.lineY(pts.filter((d) => !dashed.has(d.series)), common),
      Plot.lineY(pts.filter((d) => dashed.has(d.series)), { ...common, strokeDasharray: '6,4' }),
      Plot.dot(markers, { x: 'x', y: 'value', stroke: 'series', symbol: 'series', fill: 'white', r: 3.5, strokeWidth: 1.5 }),
      Plot.tip(pts, Plot.pointer({ x: 'x', y: 'value', stroke: 'series', title: (d) => `${d.series}\n${d.period}: ${fmt(metric, d.value)}` })),
    ],
  });
  return { plot, legendItems: styles.map((s) => ({ ...s, dashed: dashed.has(s.name) })) };
}

/** Bars grouped by period; `data` items are {period, series, value, p10?, p90?}. */
function groupedBarPlot({ data, metric, yLabel, ariaLabel, ariaDescription, showSeriesAxis = true }) {
  const names = [...new Set(data.map((d) => d.series))];
  const styles = seriesStyles(names);
  const bands = data.filter((d) => d.p10 != null);
  const plot = Plot.plot({
    width: WIDTH, height: HEIGHT, marginLeft: 64, marginBottom: showSeriesAxis ? 36 : 24,
    ariaLabel, ariaDescription,
    fx: { label: null, padding: 0.15 },
    x: { label: null, axis: showSeriesAxis ? 'bottom' : null, domain: names, tickFormat: (n) => n.replace(/ cost$/i, '') },
    y: { label: yLabel || label(metric), grid: true, tickFormat: tickFormat(metric) },
    color: { domain: names, range: styles.map((s) => s.color) },
    marks: [
      Plot.barY(data, { fx: 'period', x: 'series', y: 'value', fill: 'series', stroke: '#212b32', strokeWidth: 0.5 }),
      Plot.ruleY([0]),
      bands.length ? Plot.ruleX(bands, { fx: 'period', x: 'series', y1: 'p10', y2: 'p90', stroke: '#212b32', strokeWidth: 1.5 }) : null,
      bands.length ? Plot.tickY(bands, { fx: 'period', x: 'series', y: 'p10', stroke: '#212b32' }) : null,
      bands.length ? Plot.tickY(bands, { fx: 'period', x: 'series', y: 'p90', stroke: '#212b32' }) : null,
      Plot.tip(data, Plot.pointer({ fx: 'period', x: 'series', y: 'value', title: (d) => `${d.series}, ${d.period}: ${fmt(metric, d.value)}` })),
    ],
  });
  return { plot, legendItems: styles.map((s) => ({ color: s.color, name: s.name, bar: true })) };
}

/** P10–P90 band around the central run; `data` items are {period, p10, central, p90}. */
function fanPlot({ data, metric, ariaLabel, ariaDescription }) {
  const pts = data.map((d) => ({ ...d, x: isMonth(d.period) ? monthDate(d.period) : d.period }));
  const monthly = pts.length > 0 && isMonth(pts[0].period);
  const plot = Plot.plot({
    width: WIDTH, height: HEIGHT, marginLeft: 64,
    ariaLabel, ariaDescription,
    x: { type: monthly ? 'utc' : 'point', label: null },
    y: { label: label(metric), grid: true, tickFormat: tickFormat(metric) },
    marks: [
      Plot.areaY(pts, { x: 'x', y1: 'p10', y2: 'p90', fill: PALETTE[0], fillOpacity: 0.25 }),
      Plot.lineY(pts, { x: 'x', y: 'p10', stroke: PALETTE[0], strokeDasharray: '3,3' }),
      Plot.lineY(pts, { x: 'x', y: 'p90', stroke: PALETTE[0], strokeDasharray: '3,3' }),
      Plot.lineY(pts, { x: 'x', y: 'central', stroke: PALETTE[3], strokeWidth: 2.5 }),
      Plot.tip(pts, Plot.pointerX({ x: 'x', y: 'central', title: (d) => `${d.period}\nP90 ${fmt(metric, d.p90)}\ncentral ${fmt(metric, d.central)}\nP10 ${fmt(metric, d.p10)}` })),
    ],
  });
  return {
    plot,
    legendItems: [{ color: PALETTE[0], band: true, name: 'P10 to P90: 80% of draws fall in the band' },
      { color: PALETTE[3], name: 'Central run (draw 0)' }],
  };
}

/** Histogram of one figure across draws, with the central run marked. */
function histogramPlot({ values, central, metric, ariaLabel, ariaDescription }) {
  const xs = values.map((d) => d.value);
  let [lo, hi] = d3.extent(xs);
  let thresholds = 20;
  if (lo === hi) { // all draws equal: one visible bar around the value
    const pad = Math.abs(lo) * 0.01 || 1;
    thresholds = [lo - pad / 4, lo + pad / 4];
    lo -= pad;
    hi += pad;
  }
  const plot = Plot.plot({
    width: WIDTH, height: HEIGHT, marginLeft: 48,
    ariaLabel, ariaDescription,
    x: { label: label(metric), tickFormat: tickFormat(metric), domain: [Math.min(lo, central ?? lo), Math.max(hi, central ?? hi)], nice: true },
    y: { label: 'Draws', grid: true },
    marks: [
      Plot.rectY(values, Plot.binX({ y: 'count' }, { x: 'value', fill: PALETTE[0], inset: 1, thresholds })),
      Plot.ruleY([0]),
      central != null ? Plot.ruleX([central], { stroke: PALETTE[3], strokeWidth: 2, strokeDasharray: '6,3' }) : null,
      central != null ? Plot.text([central], { x: (d) => d, frameAnchor: 'top', dy: 4, dx: 4, textAnchor: 'start', text: () => 'central run' }) : null,
    ],
  });
  return {
    plot,
    legendItems: [{ color: PALETTE[0], bar: true, name: 'Draws in each range' }, { color: PALETTE[3], dashed: true, name: 'Central run (draw 0)' }],
  };
}

/**
 * Waterfall: baseline value, each factor's step as a floating bar, scenario value.
 * Bars are horizontal so long intervention names stay readable.
 */
function waterfallPlot({ base, scen, factors, metric, ariaLabel, ariaDescription }) {
  let cum = base;
  const rows = [{ label: 'Baseline', x1: 0, x2: base, step: base, type: 'total' }];
  for (const f of factors) {
    rows.push({ label: f.name, x1: cum, x2: cum + f.value, step: f.value, type: f.value < 0 ? 'decrease' : 'increase' });
    cum += f.value;
  }
  rows.push({ label: 'Scenario', x1: 0, x2: scen, step: scen, type: 'total' });
  const ends = rows.flatMap((r) => (r.type === 'total' ? [r.x2] : [r.x1, r.x2]));
  let [lo, hi] = d3.extent(ends);
  // Steps are small beside the totals: zoom in unless zero is close by.
  const span = hi - lo || Math.abs(hi) || 1;
  const zoomed = lo > 0 && lo > 2 * span;
  const domain = zoomed ? [lo - span * 0.25, hi + span * 0.25] : [Math.min(0, lo), Math.max(0, hi) + span * 0.05];
  const colors = { total: '#4c6272', decrease: PALETTE[0], increase: PALETTE[1] };
  const labels = rows.map((r) => r.label);
  const plot = Plot.plot({
    width: WIDTH, height: 40 + rows.length * 26, marginLeft: 250, marginRight: 70,
    ariaLabel, ariaDescription,
    x: { label: label(metric), domain, grid: true, tickFormat: tickFormat(metric) },
    y: { label: null, domain: labels, tickFormat: (t) => (t.length > 38 ? `${t.slice(0, 37)}…` : t) },
    color: { domain: ['total', 'decrease', 'increase'], range: [colors.total, colors.decrease, colors.increase] },
    marks: [
      Plot.barX(rows, { y: 'label', x1: (r) => (r.type === 'total' && zoomed ? domain[0] : r.x1), x2: 'x2', fill: 'type', clip: true }),
      Plot.text(rows, {
        y: 'label', x: (r) => Math.max(r.x1, r.x2), dx: 4, textAnchor: 'start',
        text: (r) => (r.type === 'total' ? fmt(metric, r.step) : fmt(metric, r.step, true)),
      }),
    ],
  });
  return {
    plot, rows,
    legendItems: [{ color: colors.total, bar: true, name: 'Baseline and scenario values' },
      { color: colors.decrease, bar: true, name: 'A factor lowering it' }, { color: colors.increase, bar: true, name: 'A factor raising it' }],
    note: zoomed ? 'The axis does not start at zero, so the steps can be seen.' : null,
  };
}
