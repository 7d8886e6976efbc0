// A run's page (#/runs/ID): progress while it runs, then its results, drilled into by
// re-querying GET /runs/{id}/results with group_by, period and filter.
'use strict';

const SUMMARY_METRICS = ['fte', 'required_fte', 'vacancies', 'vacancy_rate', 'leavers', 'leaver_rate', 'joiners',
  'agency_share', 'pay_cost', 'bank_cost', 'agency_cost', 'intervention_cost'];
const FAN_METRICS = ['vacancies', 'fte', 'vacancy_rate', 'leavers', 'joiners', 'leaver_rate', 'agency_cost', 'bank_cost', 'pay_cost', 'unmet_hours'];

function resultsUrl(id, q, format) {
  const p = new URLSearchParams();
  if (q.group_by) p.set('group_by', q.group_by);
  p.set('period', q.period);
  p.set('metrics', q.metrics.join(','));
  for (const [c, v] of Object.entries(q.filters || {})) if (v) p.append('filter', `${c}=${v}`);
  if (q.stats) p.set('stats', q.stats);
  if (format) p.set('format', format);
  return `/runs/${id}/results?${p}`;
}

// A Monte Carlo run's main charts ask for `stats=central`, which names columns `fte_central`.
const figure = (row, m) => row.figures[m] ?? row.figures[`${m}_central`];
const byPeriod = (a, b) => (a.period < b.period ? -1 : a.period > b.period ? 1 : 0);
const slug = (s) => s.replace(/[^A-Za-z0-9._-]+/g, '-');

/** Long rows {period, series, value} for a line or bar chart: metrics in the order given, groups A to Z. */
function longRows(rows, metrics, seriesOf) {
  const bySeries = (a, b) => (a.series < b.series ? -1 : a.series > b.series ? 1 : 0) || byPeriod(a, b);
  return metrics.flatMap((m) => rows.map((r) => ({ period: r.period, series: seriesOf(r, m), value: figure(r, m) })).sort(bySeries));
}

function lineFigure({ id, caption, data, metric, dashed, seriesLabel, q, runId, file }) {
  const summary = describeLines(caption, data, metric);
  const { plot, legendItems } = linePlot({ data, metric, dashed, ariaLabel: summary, ariaDescription: 'The table view lists every point.' });
  return chartFigure({
    id, caption, plot, legendItems, rows: data,
    columns: [{ key: 'period', label: 'Period' }, { key: 'series', label: seriesLabel }, { key: 'value', label: label(metric), metric }],
    csv: resultsUrl(runId, q, 'csv'), parquet: resultsUrl(runId, q, 'parquet'), filename: file,
  });
}

async function pageRunResults(ctx, id) {
  title(`Run ${id}`);
  const v = ctx.view;
  const statusText = h('p', { id: 'run-status', class: 'status', 'aria-live': 'polite' });
  const statusBox = h('section', { class: 'card', 'aria-label': 'Run status' }, statusText);
  v.append(h('h1', {}, `Run ${id}`), statusBox);
  let run = await api(`/runs/${id}`);
  if (run.status === 'running') {
    const progress = h('progress', { id: 'run-progress', max: Math.max(run.total, 1), value: run.done });
    const cancel = h('button', { type: 'button', id: 'cancel-run', class: 'danger' }, 'Cancel run');
    cancel.addEventListener('click', async () => {
      cancel.disabled = true;
      try { await api(`/runs/${id}`, { method: 'DELETE' }); } catch (err) { showError(err); }
    });
    statusBox.prepend(h('label', { for: 'run-progress' }, 'Progress'), progress);
    statusBox.append(cancel);
    while (run.status === 'running') {
      // A Monte Carlo run is one scenario run however many draws it makes: count draws.
      const [done, total, unit] = run.draws_total
        ? [run.draws_done, run.draws_total, 'random draws made']
        : [run.done, run.total, 'scenario runs done'];
      progress.max = Math.max(total, 1);
      progress.value = done;
      statusText.textContent = `Running: ${done.toLocaleString('en-GB')} of ${total.toLocaleString('en-GB')} ${unit}.`;
      await sleep(500);
      if (!ctx.alive()) return;
      run = await api(`/runs/${id}`);
    }
    progress.max = Math.max(run.total, 1);
    progress.value = run.done;
    cancel.remove();
  }
  statusText.textContent = `Status: ${statusTextOf(run.status)}. ${run.done} of ${run.total} scenario runs done; detail kept: ${run.detail}; dataset ${run.dataset}.`;
  statusText.className = `status status-${run.status}`;
  statusBox.append(table([
    { label: 'Scenario', value: (s) => s.scenario },
    { label: 'Status', value: (s) => statusTextOf(s.status) },
    { label: 'Time', num: true, value: (s) => (s.duration_ms != null ? `${(s.duration_ms / 1000).toFixed(2)} s` : '–') },
    { label: 'Problem', value: (s) => s.error || '' },
  ], run.scenarios, { class: 'scenario-runs', caption: 'Scenario runs' }));
  if (!run.scenarios.some((s) => s.status === 'succeeded')) return; // nothing to draw: the status says why
  await renderResults(ctx, run, v);
}

const statusTextOf = (s) => ({ partly_failed: 'partly failed' }[s] || s);

async function renderResults(ctx, run, v) {
  const [ds, scenarioList] = await Promise.all([getDataset(run.dataset).catch(() => null), getScenarios().catch(() => [])]);
  const keyCols = run.detail === 'total' ? []
    : run.detail === 'segment' ? (ds ? ds.summary.key_columns : [])
      : run.detail.split(',').map((s) => s.trim()).filter(Boolean);
  // One look at the run's totals: its scenarios, its years, whether it has draws. The
  // filters' values are asked for one key column at a time (below), never as every
  // combination of the keys, which a national run kept by segment would make huge.
  const probe = await api(resultsUrl(run.id, { period: 'financial_year', metrics: ['fte'] }));
  const scenarios = [...new Set(probe.rows.map((r) => r.scenario))];
  const years = [...new Set(probe.rows.map((r) => r.period))].sort();
  const mc = probe.rows.some((r) => 'fte_p10' in r.figures);

  const p = ctx.params;
  const st = {
    groupBy: keyCols.includes(p.get('group_by')) ? p.get('group_by') : 'none',
    period: p.get('period') === 'financial_year' ? 'financial_year' : 'month',
    filters: {},
    fan: FAN_METRICS.includes(p.get('fan')) ? p.get('fan') : 'vacancies',
    dist: FAN_METRICS.includes(p.get('dist')) ? p.get('dist') : 'vacancies',
    year: years.includes(p.get('year')) ? p.get('year') : years[years.length - 1],
  };
  for (const f of p.getAll('filter')) {
    const i = f.indexOf('=');
    if (i > 0 && keyCols.includes(f.slice(0, i))) st.filters[f.slice(0, i)] = f.slice(i + 1);
  }
  // The drill-down lives in the URL, so a reload or a shared link shows the same view.
  const saveUrl = () => {
    const q = new URLSearchParams();
    if (st.groupBy !== 'none') q.set('group_by', st.groupBy);
    if (st.period !== 'month') q.set('period', st.period);
    for (const [c, val] of Object.entries(st.filters)) if (val) q.append('filter', `${c}=${val}`);
    if (mc) { q.set('fan', st.fan); q.set('dist', st.dist); q.set('year', st.year); }
    replaceHash(`#/runs/${run.id}${q.toString() ? `?${q}` : ''}`);
  };

  const ctl = (id, text, sel) => { sel.id = id; return h('div', { class: 'field' }, h('label', { for: id }, text), sel); };
  const groupSel = h('select', {}, options([['none', 'none (totals)'], ...keyCols], st.groupBy));
  const periodSel = h('select', {}, options([['month', 'month'], ['financial_year', 'financial year']], st.period));
  const filterSels = keyCols.map((c) => h('select', { dataset: { filter: c } }));
  // Only values that exist under the other filters, so every choice shows something.
  const updateFilterOptions = () => Promise.all(filterSels.map(async (sel) => {
    const c = sel.dataset.filter;
    const others = Object.fromEntries(Object.entries(st.filters).filter(([fc]) => fc !== c));
    const q = { group_by: c, period: 'financial_year', metrics: ['fte'], filters: others, stats: mc ? 'central' : null };
    const vals = [...new Set((await api(resultsUrl(run.id, q))).rows.map((r) => r.keys[c]))].sort();
    const cur = st.filters[c] || 'all';
    sel.replaceChildren(...options([['all', 'all'], ...vals], cur));
    sel.value = cur;
  }));
  await updateFilterOptions();
  v.append(h('section', { class: 'controls', 'aria-labelledby': 'controls-title' },
    h('h2', { id: 'controls-title' }, 'Break down and filter'),
    keyCols.length ? null : h('p', { class: 'help' }, 'This run kept totals only, so it cannot be broken down.'),
    h('div', { class: 'inline' },
      ctl('group-by', 'Group by', groupSel), ctl('period', 'Period', periodSel),
      filterSels.map((s) => ctl(`filter-${s.dataset.filter}`, s.dataset.filter, s)))));

  const sections = scenarios.map((name) => {
    const hid = uid('sc');
    const sec = {
      name,
      charts: h('div', { class: 'charts' }),
      summary: h('div', { class: 'summary' }),
      uncertainty: h('div', { class: 'charts' }),
      uncertaintyTitle: h('h3', {}, 'Uncertainty'),
    };
    v.append(h('section', { class: 'scenario-results', dataset: { scenario: name }, 'aria-labelledby': hid },
      h('h2', { id: hid }, scenarios.length > 1 ? name : `Results: ${name}`),
      // A scenario that extends none is a baseline itself: nothing to compare it with.
      (scenarioList.find((x) => x.name === baseName(name)) || {}).extends
        ? h('p', {}, h('a', { class: 'compare-link', href: compareHref(baseName(name), scenarioList) },
          `Compare ${baseName(name)} with its baseline`))
        : null,
      sec.charts,
      h('h3', {}, 'Totals by financial year'), sec.summary,
      mc ? [sec.uncertaintyTitle, sec.uncertainty] : null));
    return sec;
  });

  let fanSel;
  let distSel;
  let yearSel;
  if (mc) {
    fanSel = h('select', {}, options(FAN_METRICS.map((m) => [m, label(m)]), st.fan));
    distSel = h('select', {}, options(FAN_METRICS.map((m) => [m, label(m)]), st.dist));
    yearSel = h('select', {}, options(years, st.year));
    // One set of controls (ids are unique) drives the uncertainty charts of every scenario.
    sections[0].uncertaintyTitle.after(h('div', { class: 'controls', role: 'group', 'aria-label': 'Uncertainty charts' },
      h('p', { class: 'help' }, 'This is a Monte Carlo run: each figure was worked out once per random draw.'),
      h('div', { class: 'inline' }, ctl('fan-metric', 'Fan chart figure', fanSel),
        ctl('dist-metric', 'Distribution figure', distSel), ctl('dist-year', 'Distribution year', yearSel))));
  }

  const tag = (name) => `run-${run.id}${scenarios.length > 1 ? `-${slug(name)}` : ''}`;

  async function drawMain() {
    const f = st.filters;
    const g = st.groupBy === 'none' ? '' : st.groupBy;
    const vg = g || (keyCols.includes('staff_group') ? 'staff_group' : '');
    const stats = mc ? 'central' : null;
    const qs = {
      svr: { group_by: g, period: st.period, metrics: g ? ['fte'] : ['fte', 'required_fte'], filters: f, stats },
      vac: { group_by: vg, period: st.period, metrics: ['vacancy_rate'], filters: f, stats },
      cost: { period: 'financial_year', metrics: ['bank_cost', 'agency_cost'], filters: f, stats },
      lj: { period: st.period, metrics: ['leavers', 'joiners'], filters: f, stats },
      sum: { period: 'financial_year', metrics: SUMMARY_METRICS, filters: f, stats },
    };
    const got = {};
    await Promise.all(Object.entries(qs).map(async ([k, q]) => { got[k] = (await api(resultsUrl(run.id, q))).rows; }));
    const per = st.period === 'month' ? 'month' : 'financial year';
    for (const sec of sections) {
      const mine = (k) => got[k].filter((r) => r.scenario === sec.name);
      const svr = g
        ? longRows(mine('svr'), ['fte'], (r) => r.keys[g])
        : longRows(mine('svr'), ['fte', 'required_fte'], (r, m) => label(m));
      const vac = longRows(mine('vac'), ['vacancy_rate'], (r) => (vg ? r.keys[vg] : 'All staff'));
      const cost = longRows(mine('cost'), ['bank_cost', 'agency_cost'], (r, m) => label(m));
      const lj = longRows(mine('lj'), ['leavers', 'joiners'], (r, m) => (m === 'leavers' ? 'Leavers' : 'Joiners'));
      const costSummary = `Bank and agency cost by financial year: ${[...new Set(cost.map((d) => d.period))].map((yr) =>
        `${yr} bank ${fmtMoney(cost.find((d) => d.period === yr && d.series === 'Bank cost')?.value)}, agency ${fmtMoney(cost.find((d) => d.period === yr && d.series === 'Agency cost')?.value)}`).join('; ')}.`;
      const bars = groupedBarPlot({ data: cost, metric: 'bank_cost', yLabel: 'Cost (£)', ariaLabel: costSummary, ariaDescription: 'The table view lists every bar.' });
      sec.charts.replaceChildren(
        lineFigure({
          id: 'staff-vs-required', runId: run.id, q: qs.svr, data: svr, metric: 'fte',
          caption: g ? `Staff in post (FTE) by ${g}, by ${per}` : `Staff in post against required FTE, by ${per}`,
          dashed: new Set([label('required_fte')]), seriesLabel: g || 'Series', file: `${tag(sec.name)}-staff-vs-required`,
        }),
        lineFigure({
          id: 'vacancy-rate', runId: run.id, q: qs.vac, data: vac, metric: 'vacancy_rate',
          caption: `Vacancy rate${vg ? ` by ${vg}` : ''}, by ${per}`, seriesLabel: vg || 'Series', file: `${tag(sec.name)}-vacancy-rate`,
        }),
        chartFigure({
          id: 'bank-agency-cost', caption: 'Bank and agency cost by financial year', ...bars, rows: cost,
          columns: [{ key: 'period', label: 'Financial year' }, { key: 'series', label: 'Cost' }, { key: 'value', label: 'GBP', metric: 'bank_cost' }],
          csv: resultsUrl(run.id, qs.cost, 'csv'), parquet: resultsUrl(run.id, qs.cost, 'parquet'), filename: `${tag(sec.name)}-bank-agency-cost`,
        }),
        lineFigure({
          id: 'leavers-joiners', runId: run.id, q: qs.lj, data: lj, metric: 'leavers', dashed: new Set(['Joiners']),
          caption: `Leavers and joiners (FTE), by ${per}`, seriesLabel: 'Series', file: `${tag(sec.name)}-leavers-joiners`,
        }));
      const sum = mine('sum').sort(byPeriod);
      sec.summary.replaceChildren(table(
        [{ label: 'Figure', rowHeader: true, value: (m) => label(m) },
          ...sum.map((r) => ({ label: r.period, num: true, value: (m) => fmt(m, figure(r, m)) }))],
        SUMMARY_METRICS, { class: 'summary-table', caption: `Totals by financial year${Object.values(f).some(Boolean) ? ' (filtered)' : ''}; stocks are yearly means, flows yearly sums` }));
    }
  }

  async function drawFan() {
    const q = { period: 'month', metrics: [st.fan], filters: st.filters, stats: 'p10,central,p90' };
    const rows = (await api(resultsUrl(run.id, q))).rows;
    for (const sec of sections) {
      const data = rows.filter((r) => r.scenario === sec.name).sort(byPeriod).map((r) => ({
        period: r.period, p10: r.figures[`${st.fan}_p10`], central: r.figures[`${st.fan}_central`], p90: r.figures[`${st.fan}_p90`],
      }));
      const last = data[data.length - 1];
      const summary = last ? `${label(st.fan)} by month: in ${last.period} the central run gives ${fmt(st.fan, last.central)}, with 80% of draws between ${fmt(st.fan, last.p10)} and ${fmt(st.fan, last.p90)}.` : 'No data.';
      const fan = fanPlot({ data, metric: st.fan, ariaLabel: summary, ariaDescription: 'The table view lists every month.' });
      const fig = chartFigure({
        id: 'fan', caption: `${label(st.fan)}: central run and P10 to P90 band, by month`, ...fan, rows: data,
        columns: [{ key: 'period', label: 'Month' }, { key: 'p10', label: 'P10', metric: st.fan }, { key: 'central', label: 'Central', metric: st.fan }, { key: 'p90', label: 'P90', metric: st.fan }],
        csv: resultsUrl(run.id, q, 'csv'), parquet: resultsUrl(run.id, q, 'parquet'), filename: `${tag(sec.name)}-fan-${st.fan}`,
      });
      const old = sec.uncertainty.querySelector('[data-chart="fan"]');
      if (old) old.replaceWith(fig); else sec.uncertainty.prepend(fig);
    }
  }

  async function drawDist() {
    const q = { group_by: 'draw', period: 'financial_year', metrics: [st.dist], filters: st.filters };
    const rows = (await api(resultsUrl(run.id, q))).rows;
    for (const sec of sections) {
      const mine = rows.filter((r) => r.scenario === sec.name && r.period === st.year);
      const central = mine.find((r) => r.keys.draw === '0');
      const values = mine.filter((r) => r.keys.draw !== '0')
        .map((r) => ({ draw: Number(r.keys.draw), value: r.figures[st.dist] })).sort((a, b) => a.draw - b.draw);
      const [lo, hi] = d3.extent(values, (d) => d.value);
      const summary = `Histogram of ${label(st.dist)} in ${st.year} across ${values.length} draws: from ${fmt(st.dist, lo)} to ${fmt(st.dist, hi)}; the central run gives ${fmt(st.dist, central && central.figures[st.dist])}.`;
      const hist = histogramPlot({ values, central: central && central.figures[st.dist], metric: st.dist, ariaLabel: summary, ariaDescription: 'The table view lists every draw.' });
      const fig = chartFigure({
        id: 'distribution', caption: `${label(st.dist)} in ${st.year} across the draws`, ...hist, rows: values,
        columns: [{ key: 'draw', label: 'Draw', num: true }, { key: 'value', label: label(st.dist), metric: st.dist }],
        csv: resultsUrl(run.id, q, 'csv'), parquet: resultsUrl(run.id, q, 'parquet'), filename: `${tag(sec.name)}-distribution-${st.dist}`,
        note: 'The downloads hold every year; the chart shows the year chosen.',
      });
      const old = sec.uncertainty.querySelector('[data-chart="distribution"]');
      if (old) old.replaceWith(fig); else sec.uncertainty.append(fig);
    }
  }

  const drawAll = () => Promise.all([drawMain(), mc ? drawFan() : null, mc ? drawDist() : null]);
  const onChange = (fn, draw) => (ev) => { fn(ev.target.value); saveUrl(); action(draw); };
  groupSel.addEventListener('change', onChange((x) => { st.groupBy = x; }, drawMain));
  periodSel.addEventListener('change', onChange((x) => { st.period = x; }, drawMain));
  for (const sel of filterSels) {
    sel.addEventListener('change', onChange((x) => { st.filters[sel.dataset.filter] = x === 'all' ? '' : x; },
      () => Promise.all([updateFilterOptions(), drawAll()])));
  }
  if (mc) {
    fanSel.addEventListener('change', onChange((x) => { st.fan = x; }, drawFan));
    distSel.addEventListener('change', onChange((x) => { st.dist = x; }, drawDist));
    yearSel.addEventListener('change', onChange((x) => { st.year = x; }, drawDist));
  }
  await drawAll();
}
