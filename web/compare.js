// Comparing options with a baseline (#/compare?baseline=A&others=B,C), their break-even,
// and what each intervention contributes (attribution waterfalls).
'use strict';

const COMPARE_COLUMNS = ['fte', 'vacancies', 'agency_cost', 'bank_cost', 'intervention_cost', 'net_cost'];
const BAND_METRICS = ['fte', 'vacancies', 'agency_cost', 'bank_cost'];
const ATTR_METRICS = ['vacancies', 'fte', 'vacancy_rate', 'leavers', 'leaver_rate', 'joiners', 'agency_cost', 'bank_cost', 'pay_cost', 'intervention_cost', 'unmet_hours'];

const changeOf = (d, m) => (m === 'net_cost' ? d.net_cost : d.change[m]);

/** The break-even in a planner's words: does the option pay for itself? */
function verdict(c) {
  const b = c.break_even;
  const cost = b.intervention_cost_per_year;
  const removed = b.vacancies_removed;
  const costWords = cost > 0 ? `costs ${fmtMoney(cost)} a year more than ${c.baseline} in interventions`
    : cost < 0 ? `costs ${fmtMoney(-cost)} a year less than ${c.baseline} in interventions`
      : `costs no more than ${c.baseline} in interventions`;
  const removedWords = removed >= 0 ? `removes ${fmtFte(removed)} vacancies (FTE) on average over the run`
    : `adds ${fmtFte(-removed)} vacancies (FTE) on average over the run`;
  const line = (pays, text) => h('p', {}, h('strong', {}, pays ? 'Pays back' : 'Does not pay back'), ` ${text}`);
  const out = [h('p', {}, `${c.scenario} ${costWords} and ${removedWords}.`)];
  if (b.fte_if_unfilled == null) {
    out.push(h('p', {}, h('strong', {}, 'Never pays back'), ' if vacancies stay unfilled: an unfilled vacancy is given no value.'));
  } else {
    out.push(line(b.pays_back_if_unfilled, b.fte_if_unfilled <= 0
      ? 'if vacancies stay unfilled: it costs nothing extra.'
      : `if vacancies stay unfilled: a vacancy left unfilled for a year is worth ${fmtMoney(b.vacancy_value_per_fte_year)} (${b.vacancy_value_basis}), so it must remove ${fmtFte(b.fte_if_unfilled)} vacancies to pay back; it removes ${fmtFte(removed)}.`));
  }
  if (b.fte_if_agency_filled == null) {
    out.push(h('p', {}, h('strong', {}, 'Never pays back'), ' if agency staff fill vacancies: agency staff cost no more than substantive staff here.'));
  } else {
    out.push(line(b.pays_back_if_agency_filled, b.fte_if_agency_filled <= 0
      ? 'if agency staff fill vacancies: it costs nothing extra.'
      : `if agency staff fill vacancies: an agency FTE-year costs ${fmtMoney(b.agency_extra_per_fte_year)} more than a substantive one, so it must remove ${fmtFte(b.fte_if_agency_filled)} vacancies to pay back; it removes ${fmtFte(removed)}.`));
  }
  return h('div', { class: 'verdict', 'aria-label': `Break-even of ${c.scenario}` }, out);
}

function compareYearsTable(c) {
  return table([{ label: 'Financial year', rowHeader: true, value: (d) => (d.period === 'whole run' ? 'Whole run' : d.period) },
    ...COMPARE_COLUMNS.map((m) => ({ label: label(m).replace(' (FTE)', ''), num: true, value: (d) => fmt(m, changeOf(d, m), true) }))],
  [...c.years, c.whole_run], { class: 'compare-years', caption: `Change: ${c.scenario} minus ${c.baseline} (FTE and vacancies are yearly means; costs yearly sums)` });
}

function uncertaintyTable(c) {
  const u = c.uncertainty;
  const rows = u.changes.filter((x) => BAND_METRICS.includes(x.metric))
    .sort((a, b) => BAND_METRICS.indexOf(a.metric) - BAND_METRICS.indexOf(b.metric) || (a.period < b.period ? -1 : 1));
  return table([
    { label: 'Figure', rowHeader: true, value: (x) => label(x.metric) },
    { label: 'Period', value: (x) => x.period },
    { label: 'Central', num: true, value: (x) => fmt(x.metric, x.central, true) },
    { label: 'P10', num: true, value: (x) => fmt(x.metric, x.p10, true) },
    { label: 'P90', num: true, value: (x) => fmt(x.metric, x.p90, true) },
    { label: 'Chance it is better', num: true, value: (x) => (x.probability_better == null ? '–' : fmt('vacancy_rate', x.probability_better)) },
  ], rows, { class: 'uncertainty', caption: `Uncertainty over ${u.draws} draws: the change against ${c.baseline}; 80% of draws fall between P10 and P90` });
}

function compareChart(results, metric, controls) {
  const data = [];
  for (const c of results) {
    const band = (period) => c.uncertainty && c.uncertainty.changes.find((x) => x.metric === metric && x.period === period);
    for (const y of c.years) {
      const b = band(y.period);
      data.push({ period: y.period, series: c.scenario, value: changeOf(y, metric), p10: b ? b.p10 : null, p90: b ? b.p90 : null });
    }
  }
  const withBands = data.some((d) => d.p10 != null);
  const summary = `Change in ${label(metric)} against ${results[0].baseline} by financial year: ${results.map((c) =>
    `${c.scenario} ${c.years.map((y) => `${y.period} ${fmt(metric, changeOf(y, metric), true)}`).join(', ')}`).join('; ')}.`;
  const bars = groupedBarPlot({ data, metric, yLabel: `Change in ${label(metric)}`, ariaLabel: summary, ariaDescription: 'The table view lists every bar.', showSeriesAxis: false });
  return chartFigure({
    id: 'compare', caption: `Change in ${label(metric)} against ${results[0].baseline}, by financial year`, ...bars, rows: data, controls,
    columns: [{ key: 'period', label: 'Financial year' }, { key: 'series', label: 'Option' }, { key: 'value', label: 'Change', metric },
      ...(withBands ? [{ key: 'p10', label: 'P10', metric }, { key: 'p90', label: 'P90', metric }] : [])],
    filename: `compare-${slug(results[0].baseline)}-${metric}`,
    note: withBands ? 'Whiskers: 80% of draws (P10 to P90).' : null,
  });
}

function waterfallFigure(a, method, scenario, baseline) {
  const factors = a.factors.map((f) => ({ name: f.name, value: f[method] }));
  const top = [...factors].sort((x, y) => Math.abs(y.value) - Math.abs(x.value)).slice(0, 3);
  const summary = `Waterfall of ${label(a.metric)} from ${baseline} (${fmt(a.metric, a.baseline_value)}) to ${scenario} (${fmt(a.metric, a.scenario_value)}), a change of ${fmt(a.metric, a.total_change, true)}. Largest factors: ${top.map((f) => `${f.name} ${fmt(a.metric, f.value, true)}`).join(', ')}.`;
  const w = waterfallPlot({ base: a.baseline_value, scen: a.scenario_value, factors, metric: a.metric, ariaLabel: summary, ariaDescription: 'The table view lists every step.' });
  return chartFigure({
    id: `waterfall-${method}`, ...w,
    caption: method === 'shapley'
      ? `Shapley values: each factor's mean step over every order (${label(a.metric)})`
      : `Sequential steps, adding factors in file order (${label(a.metric)})`,
    columns: [{ key: 'label', label: 'Step' }, { key: 'step', label: 'Value or change', metric: a.metric },
      { key: 'x1', label: 'From', metric: a.metric }, { key: 'x2', label: 'To', metric: a.metric }],
    filename: `attribution-${slug(scenario)}-${a.metric}-${method}`,
  });
}

function attributionPanel(c) {
  const selId = uid('attr');
  const sel = h('select', { id: selId, class: 'attribution-metric', dataset: { scenario: c.scenario } },
    options(ATTR_METRICS.map((m) => [m, label(m)]), 'vacancies'));
  const btn = h('button', { type: 'button', class: 'run-attribution', dataset: { scenario: c.scenario } }, 'Show what each intervention contributes');
  const out = h('div', { class: 'attribution-output', 'aria-live': 'polite' });
  btn.addEventListener('click', () => action(async () => {
    btn.disabled = true;
    out.setAttribute('aria-busy', 'true');
    out.replaceChildren(h('p', { class: 'busy', role: 'status' }, `Running ${c.scenario} with every combination of its factors…`));
    try {
      const a = await api('/attribution', { method: 'POST', body: { scenario: c.scenario, baseline: c.baseline, metric: sel.value, method: 'both' } });
      const hasShapley = a.factors.some((f) => f.shapley != null);
      out.replaceChildren(
        h('p', {}, `${label(a.metric)}: ${c.baseline} ${fmt(a.metric, a.baseline_value)}, ${c.scenario} ${fmt(a.metric, a.scenario_value)} (${fmt(a.metric, a.total_change, true)}), from ${a.runs} scenario runs.`),
        h('div', { class: 'charts' }, waterfallFigure(a, 'sequential', c.scenario, c.baseline),
          hasShapley ? waterfallFigure(a, 'shapley', c.scenario, c.baseline) : h('p', {}, 'Shapley values need at most 12 factors.')));
    } catch (err) {
      out.replaceChildren();
      throw err;
    } finally {
      btn.disabled = false;
      out.removeAttribute('aria-busy');
    }
  }));
  return h('div', { class: 'attribution' }, h('h3', {}, 'Attribution'),
    h('div', { class: 'inline' }, h('div', { class: 'field' }, h('label', { for: selId }, 'Figure'), sel), h('div', { class: 'field' }, btn)),
    out);
}

async function pageCompare(ctx) {
  title('Compare scenarios');
  const list = await getScenarios();
  const names = list.map((s) => s.name);
  const baseline = ctx.params.get('baseline') || 'baseline';
  const others = (ctx.params.get('others') || '').split(',').map((s) => s.trim()).filter(Boolean);
  const baseSel = h('select', { id: 'compare-baseline' }, options(names, baseline));
  const vv = h('input', { type: 'number', id: 'compare-vacancy-value', min: 0, step: 'any', value: ctx.params.get('vacancy_value') || '', 'aria-describedby': 'vv-help' });
  const boxes = names.map((n, i) => h('div', { class: 'checkbox' },
    h('input', { type: 'checkbox', name: 'compare-other', value: n, id: `compare-other-${i}`, checked: others.includes(n) }),
    h('label', { for: `compare-other-${i}` }, n)));
  const busy = h('p', { id: 'compare-busy', class: 'busy', role: 'status', hidden: true });
  const out = h('div', { id: 'compare-output' });
  const form = h('form', { id: 'compare-form', class: 'card', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'compare-baseline' }, 'Baseline'), baseSel),
    h('fieldset', {}, h('legend', {}, 'Options to compare with it'), h('div', { class: 'grid' }, boxes)),
    h('div', { class: 'field' }, h('label', { for: 'compare-vacancy-value' }, 'Value of a vacancy (£ a year, optional)'),
      h('p', { class: 'help', id: 'vv-help' }, 'For the break-even; the mean annual pay when empty.'), vv),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'run-compare' }, 'Compare')));

  async function run(base, opts) {
    const body = { baseline: { scenario: base }, others: opts.map((s) => ({ scenario: s })) };
    if (vv.value.trim() !== '') body.vacancy_value = Number(vv.value);
    busy.textContent = `Running ${opts.length + 1} scenarios afresh to compare them…`;
    busy.hidden = false;
    out.setAttribute('aria-busy', 'true');
    out.replaceChildren();
    try {
      const results = await api('/compare', { method: 'POST', body });
      if (!results.length) return;
      const metrics = [...Object.keys(results[0].years[0] ? results[0].years[0].change : {}), 'net_cost'];
      const metricSel = h('select', { id: 'compare-metric' }, options(metrics.map((m) => [m, label(m)]), 'vacancies'));
      const controls = h('div', { class: 'field' }, h('label', { for: 'compare-metric' }, 'Figure'), metricSel);
      let chart = compareChart(results, 'vacancies', controls);
      metricSel.addEventListener('change', () => {
        const next = compareChart(results, metricSel.value, controls);
        chart.replaceWith(next);
        chart = next;
        metricSel.focus();
      });
      out.append(h('h2', {}, `Against ${base}`), chart,
        ...results.map((c) => h('section', { class: 'comparison', dataset: { scenario: c.scenario } },
          h('h2', {}, `${c.scenario} against ${c.baseline}`),
          verdict(c),
          h('h3', {}, 'Change by financial year'), compareYearsTable(c),
          c.uncertainty ? [h('h3', {}, 'Uncertainty'), uncertaintyTable(c)] : null,
          attributionPanel(c))));
    } finally {
      busy.hidden = true;
      out.removeAttribute('aria-busy');
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const base = baseSel.value;
    const opts = [...form.querySelectorAll('input[name=compare-other]:checked')].map((e) => e.value);
    const q = new URLSearchParams({ baseline: base, others: opts.join(',') });
    if (vv.value.trim() !== '') q.set('vacancy_value', vv.value.trim());
    replaceHash(`#/compare?${q.toString().replace(/%2C/g, ',')}`);
    action(() => run(base, opts));
  });
  ctx.view.append(h('h1', {}, 'Compare scenarios'),
    h('p', { class: 'lead' }, 'Each option is set against the baseline year by year, with the break-even of its interventions. Saved scenarios are run afresh, which can take a few seconds.'),
    form, busy, out);
  if (ctx.params.get('baseline') && others.length) await run(baseline, others);
}
