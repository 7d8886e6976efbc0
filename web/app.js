// wfplan planners' app: core (API helper, router, formatting) and the simple pages.
// Loaded last; charts.js, form.js, results.js and compare.js define the other pages.
'use strict';

// ---------- DOM helpers ----------

let uidCounter = 0;
const uid = (p = 'f') => `${p}-${++uidCounter}`;
const enc = encodeURIComponent;

/** h('a', {href, class, onclick: fn, dataset: {...}}, children...) */
function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'text') e.textContent = v;
    else if (k === 'value' && (tag === 'select' || tag === 'textarea')) e.__value = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of kids.flat(Infinity)) {
    if (c != null && c !== false) e.append(c instanceof Node ? c : String(c));
  }
  // A select's value can only be set once its options exist.
  if (e.__value != null) e.value = e.__value;
  return e;
}

function options(values, selected) {
  return values.map((v) => {
    const [value, label] = Array.isArray(v) ? v : [v, v];
    return h('option', { value, selected: String(value) === String(selected) }, label);
  });
}

function table(columns, rows, { caption, ...attrs } = {}) {
  return h('div', { class: 'table-scroll' },
    h('table', attrs,
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c, i) => {
        const v = c.value ? c.value(r) : r[c.key];
        return h(i === 0 && c.rowHeader ? 'th' : 'td', { class: c.num ? 'num' : null, scope: i === 0 && c.rowHeader ? 'row' : null }, v);
      }))))));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Scenario files wrap descriptions at 90 columns: rejoin the lines, keep blank-line paragraphs. */
const unwrap = (t) => (t || '').replace(/([^\n])\n(?!\n)/g, '$1 ');

// ---------- Formatting ----------

const RATES = new Set(['vacancy_rate', 'leaver_rate', 'turnover', 'agency_share']);
const METRICS = ['fte', 'required_fte', 'vacancies', 'leavers', 'recruits', 'newly_qualified',
  'apprentices_qualified', 'returners', 'international', 'joiners', 'sickness_fte', 'available_hours',
  'clinical_hours', 'demand_hours', 'bank_hours', 'agency_hours', 'unmet_hours', 'pay_cost', 'bank_cost',
  'agency_cost', 'intervention_cost', 'trainees', 'apprentices', 'time_released_hours', 'transfers_in',
  'transfers_out', 'vacancy_rate', 'leaver_rate', 'turnover', 'agency_share'];
const LABELS = {
  fte: 'Staff in post (FTE)', required_fte: 'Required FTE', vacancies: 'Vacancies (FTE)',
  leavers: 'Leavers (FTE)', recruits: 'Recruits (FTE)', joiners: 'Joiners (FTE)',
  newly_qualified: 'Newly qualified', apprentices_qualified: 'Apprentices qualified',
  international: 'International recruits', sickness_fte: 'Sickness (FTE)',
  time_released_hours: 'Time released (hours)', pay_cost: 'Pay cost', bank_cost: 'Bank cost',
  agency_cost: 'Agency cost', intervention_cost: 'Intervention cost', net_cost: 'Net cost',
  vacancy_rate: 'Vacancy rate', leaver_rate: 'Leaver rate', agency_share: 'Agency share',
};
const label = (m) => LABELS[m] || (m.charAt(0).toUpperCase() + m.slice(1)).replace(/_/g, ' ');
const kindOf = (m) => (/cost$/.test(m) ? 'money' : RATES.has(m) ? 'rate' : /hours$/.test(m) ? 'hours' : 'fte');

const fmts = {};
function numberFormat(kind, signed) {
  const key = kind + signed;
  if (!fmts[key]) {
    const o = { signDisplay: signed ? 'exceptZero' : 'auto' };
    if (kind === 'money') Object.assign(o, { style: 'currency', currency: 'GBP', maximumFractionDigits: 0 });
    else if (kind === 'rate') Object.assign(o, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });
    else if (kind === 'hours') Object.assign(o, { maximumFractionDigits: 0 });
    else Object.assign(o, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
    fmts[key] = new Intl.NumberFormat('en-GB', o);
  }
  return fmts[key];
}
/** A metric's value as planners read it: FTE to 1 decimal, £ with separators, rates as %. */
function fmt(metric, v, signed = false) {
  if (v == null || Number.isNaN(v)) return '–';
  // Rate changes read better as percentage points than as a signed percent.
  if (signed && kindOf(metric) === 'rate') return `${numberFormat('fte', true).format(v * 100)} pts`;
  return numberFormat(kindOf(metric), signed).format(v);
}
const fmtMoney = (v, signed) => fmt('net_cost', v, signed);
const fmtFte = (v, signed) => fmt('fte', v, signed);

// ---------- API ----------

const KEY_STORE = 'wfplan-api-key';
class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `The server answered ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

function authHeaders() {
  const key = localStorage.getItem(KEY_STORE);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** Fetches an API path as JSON; asks for an API key and retries on 401. */
async function api(path, { method = 'GET', body } = {}) {
  for (;;) {
    const headers = authHeaders();
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status === 401) {
      await askForKey(localStorage.getItem(KEY_STORE) ? 'That key was not accepted: try another.' : null);
      continue;
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  }
}

// Concurrent 401s share one prompt.
let keyPrompt = null;
function askForKey(message) {
  if (keyPrompt) return keyPrompt.promise;
  const box = document.getElementById('api-key-box');
  const help = document.getElementById('api-key-help');
  if (message) help.textContent = message;
  box.hidden = false;
  document.getElementById('api-key').focus();
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  keyPrompt = { promise, resolve };
  return promise;
}

function setupKeyForm() {
  const form = document.getElementById('api-key-form');
  const forget = document.getElementById('forget-key');
  forget.hidden = !localStorage.getItem(KEY_STORE);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = document.getElementById('api-key');
    if (!input.value.trim()) return;
    localStorage.setItem(KEY_STORE, input.value.trim());
    input.value = '';
    document.getElementById('api-key-box').hidden = true;
    forget.hidden = false;
    const p = keyPrompt;
    keyPrompt = null;
    if (p) p.resolve();
  });
  forget.addEventListener('click', () => {
    localStorage.removeItem(KEY_STORE);
    forget.hidden = true;
  });
  // A plain link cannot carry the Authorization header: with a key, download through fetch.
  document.addEventListener('click', async (ev) => {
    const a = ev.target.closest && ev.target.closest('a.download-csv, a.download-parquet');
    if (!a || !localStorage.getItem(KEY_STORE) || a.href.startsWith('blob:')) return;
    ev.preventDefault();
    try {
      let res = await fetch(a.href, { headers: authHeaders() });
      if (res.status === 401) {
        await askForKey('That key was not accepted: try another.');
        res = await fetch(a.href, { headers: authHeaders() });
      }
      if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
      const url = URL.createObjectURL(await res.blob());
      const tmp = h('a', { href: url, download: a.getAttribute('download') || '' });
      document.body.append(tmp);
      tmp.click();
      tmp.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      showError(err);
    }
  });
}

// ---------- Page state and errors ----------

function setState(state) { document.body.dataset.state = state; }

function showError(err) {
  const box = document.getElementById('page-error');
  const details = (err && err.body && err.body.details) || [];
  box.replaceChildren(h('div', {}, h('p', {}, err && err.message ? err.message : String(err)),
    details.length ? h('ul', {}, details.map((d) => h('li', {}, d.field ? `${d.field}: ${d.message}` : d.message))) : null));
  box.hidden = false;
  setState('error');
  if (!(err instanceof ApiError)) console.warn(err); // a bug of ours, not the server's answer
}

function clearError() {
  const box = document.getElementById('page-error');
  box.hidden = true;
  box.replaceChildren();
}

/** Runs an in-page action (a redraw, a comparison): loading while it runs, then ready or error. */
async function action(fn) {
  setState('loading');
  clearError();
  try {
    await fn();
    setState('ready');
  } catch (err) {
    showError(err);
  }
}

// ---------- Router ----------

const routes = [
  [/^\/?$/, (ctx) => pageScenarios(ctx)],
  [/^\/scenarios$/, (ctx) => pageScenarios(ctx)],
  [/^\/scenarios\/new$/, (ctx) => pageScenarioForm(ctx, null)],
  [/^\/scenarios\/([^/]+)\/edit$/, (ctx, m) => pageScenarioForm(ctx, decodeURIComponent(m[1]))],
  [/^\/scenarios\/([^/]+)$/, (ctx, m) => pageScenario(ctx, decodeURIComponent(m[1]))],
  [/^\/run$/, (ctx) => pageRun(ctx)],
  [/^\/runs$/, (ctx) => pageRuns(ctx)],
  [/^\/runs\/(\d+)$/, (ctx, m) => pageRunResults(ctx, Number(m[1]))],
  [/^\/compare$/, (ctx) => pageCompare(ctx)],
];
const NAV = { scenarios: /^\/?$|^\/scenarios(\/(?!new$).*)?$/, new: /^\/scenarios\/new$/, run: /^\/run$/, runs: /^\/runs/, compare: /^\/compare/ };

let routeToken = 0;
let firstRoute = true;

function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  const q = raw.indexOf('?');
  return { path: q < 0 ? raw : raw.slice(0, q), params: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

async function route() {
  const token = ++routeToken;
  const { path, params } = parseHash();
  setState('loading');
  clearError();
  for (const a of document.querySelectorAll('nav a[data-nav]')) {
    if (NAV[a.dataset.nav].test(path)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  // Each route draws into its own container, so a slow page left behind writes nowhere visible.
  const view = h('div', { class: 'page' });
  document.getElementById('view').replaceChildren(view);
  const ctx = { view, params, alive: () => token === routeToken };
  try {
    const found = routes.find(([re]) => re.test(path));
    if (!found) throw new ApiError(404, { message: `There is no page ${path}. Try the scenarios list.` });
    await found[1](ctx, path.match(found[0]));
    if (!ctx.alive()) return;
    setState('ready');
    performance.mark('wfplan-rendered');
  } catch (err) {
    if (ctx.alive()) showError(err);
  }
  // Move focus to the new page's heading (for screen readers), unless the reader is already working in it.
  if (!firstRoute && ctx.alive() && !view.contains(document.activeElement)) {
    const h1 = view.querySelector('h1');
    if (h1) { h1.tabIndex = -1; h1.focus({ preventScroll: false }); }
  }
  firstRoute = false;
}

function go(hash) { location.hash = hash; }

/** Updates the URL of the page shown without reloading it, so it can be shared. */
function replaceHash(hash) { history.replaceState(null, '', hash); }

function title(text) { document.title = `${text} — wfplan`; }

// ---------- Cached look-ups ----------

const cache = {};
function cached(key, fn) {
  if (!cache[key]) cache[key] = fn().catch((e) => { delete cache[key]; throw e; });
  return cache[key];
}
const getRules = () => cached('rules', () => api('/rules'));
const getDataset = (id) => cached(`ds:${id}`, () => api(`/datasets/${enc(id)}`));
const getScenarios = () => api('/scenarios'); // never cached: scenarios change as planners save them

/** The name a sweep member's results carry is `name[field=value]`. */
const baseName = (s) => s.replace(/\[.*$/, '');

/** Compare URL for a scenario against what it extends (or `baseline`). */
function compareHref(name, list) {
  const s = list && list.find((x) => x.name === name);
  const base = (s && s.extends) || 'baseline';
  return `#/compare?baseline=${enc(base)}&others=${enc(name)}`;
}

// ---------- Page: scenarios list ----------

async function pageScenarios(ctx) {
  title('Scenarios');
  const list = await getScenarios();
  ctx.view.append(
    h('h1', {}, 'Scenarios'),
    h('p', { class: 'lead' }, 'Each scenario is a plan to test: a starting point (what it extends) and the changes it makes.'),
    h('div', { class: 'actions' },
      h('a', { class: 'button', href: '#/scenarios/new', id: 'new-scenario-link' }, 'New scenario'),
      h('a', { class: 'button secondary', href: '#/compare' }, 'Compare scenarios')),
    table([
      { label: 'Scenario', value: (s) => h('a', { href: `#/scenarios/${enc(s.name)}`, dataset: { scenario: s.name } }, s.name) },
      { label: 'Description', value: (s) => unwrap(s.description) },
      { label: 'Extends', value: (s) => (s.extends ? h('a', { href: `#/scenarios/${enc(s.extends)}` }, s.extends) : '—') },
      { label: 'Origin', value: (s) => (s.origin === 'api' ? 'saved here' : 'scenario file') },
    ], list, { class: 'scenario-list', id: 'scenario-list', caption: `${list.length} scenarios` }),
  );
}

// ---------- Page: one scenario ----------

function whereText(where) {
  if (!where || !Object.keys(where).length) return 'every segment';
  return Object.entries(where)
    .map(([k, v]) => `${k} = ${Array.isArray(v) ? v.join(' or ') : v}`).join('; ');
}

const COMMON = ['kind', 'name', 'where', 'start', 'end', 'ramp_months', 'cost_per_month'];

function interventionItem(iv, kinds) {
  const kind = kinds.find((k) => k.name === iv.kind);
  const facts = [['Kind', kind ? `${iv.kind} — ${kind.summary}` : iv.kind], ['Applies to', whereText(iv.where)]];
  if (iv.start || iv.end) facts.push(['Months', `${iv.start || 'scenario start'} to ${iv.end || 'the end of the run'}`]);
  if (iv.ramp_months != null) facts.push(['Ramp-up', `${iv.ramp_months} months to full effect`]);
  if (iv.cost_per_month != null) facts.push(['Cost', `${fmtMoney(iv.cost_per_month)} a month`]);
  for (const [k, v] of Object.entries(iv)) {
    if (COMMON.includes(k)) continue;
    const f = kind && kind.fields.find((x) => x.name === k);
    const shown = v && typeof v === 'object' && !Array.isArray(v) ? whereText(v) : Array.isArray(v) ? v.join(', ') : v;
    facts.push([k, shown, f && f.doc]);
  }
  return h('li', {}, h('strong', {}, iv.name || iv.kind || 'intervention'),
    h('dl', { class: 'facts' }, facts.map(([k, v, doc]) => [h('dt', {}, k),
      h('dd', {}, String(v), doc ? h('span', { class: 'muted' }, ` — ${doc}`) : null)])));
}

async function pageScenario(ctx, name) {
  title(name);
  const [doc, list, rules] = await Promise.all([api(`/scenarios/${enc(name)}`), getScenarios(), getRules()]);
  const summary = list.find((s) => s.name === name) || {};
  const v = ctx.view;
  const runBtn = h('button', { type: 'button', id: 'run-scenario' }, 'Run');
  runBtn.addEventListener('click', () => action(async () => {
    runBtn.disabled = true;
    try {
      // Segment detail keeps every key column, so results can be drilled into.
      const run = await api('/runs', { method: 'POST', body: { scenario: name, detail: 'segment' } });
      go(`#/runs/${run.id}`);
    } finally { runBtn.disabled = false; }
  }));
  const actions = h('div', { class: 'actions' }, runBtn,
    h('a', { class: 'button secondary', href: `#/scenarios/${enc(name)}/edit`, id: 'edit-scenario' }, 'Edit'),
    h('a', { class: 'button secondary', href: `#/run?scenario=${enc(name)}`, id: 'run-options' }, 'Run with options'),
    name !== (doc.extends || 'baseline')
      ? h('a', { class: 'button secondary', href: compareHref(name, list), id: 'compare-scenario' }, `Compare with ${doc.extends || 'baseline'}`)
      : null);
  if (summary.origin === 'api') {
    const del = h('button', { type: 'button', class: 'danger', id: 'delete-scenario' }, 'Delete');
    const confirm = h('button', { type: 'button', class: 'danger', id: 'confirm-delete', hidden: true }, `Yes, delete ${name}`);
    del.addEventListener('click', () => { confirm.hidden = false; confirm.focus(); });
    confirm.addEventListener('click', () => action(async () => {
      await api(`/scenarios/${enc(name)}`, { method: 'DELETE' });
      go('#/scenarios');
    }));
    actions.append(del, confirm);
  }
  v.append(h('h1', {}, name), h('p', { class: 'lead desc' }, unwrap(doc.description) || 'No description.'), actions);

  const facts = [
    ['Extends', doc.extends ? h('a', { href: `#/scenarios/${enc(doc.extends)}` }, doc.extends) : 'nothing: a complete scenario'],
    ['Start', doc.start || (doc.extends ? `as ${doc.extends}` : '—')],
    ['Months', doc.months != null ? String(doc.months) : (doc.extends ? `as ${doc.extends}` : '—')],
    ['Origin', summary.origin === 'api' ? 'saved through the API' : 'scenario file'],
  ];
  if (doc.monte_carlo) facts.push(['Monte Carlo', `${doc.monte_carlo.draws ?? '?'} draws, seed ${doc.monte_carlo.seed ?? 1}`]);
  if (doc.sweep) facts.push(['Sweep', Object.entries(doc.sweep).map(([k, vals]) => `${k}: ${vals.join(', ')}`).join('; ')]);
  if (doc.seasonality) facts.push(['Seasonality', Object.keys(doc.seasonality).join(', ')]);
  v.append(h('dl', { class: 'facts card' }, facts.map(([k, x]) => [h('dt', {}, k), h('dd', {}, x)])));

  v.append(h('h2', {}, 'Overrides'));
  const ov = doc.overrides || [];
  v.append(ov.length
    ? h('ul', { class: 'override-list' }, ov.map((o) => h('li', {},
      `For ${whereText(o.where)}: `,
      Object.entries(o.set || {}).map(([k, x]) => `${k} = ${x}`).join(', '))))
    : h('p', { class: 'muted' }, doc.extends ? `None beyond ${doc.extends}'s.` : 'None.'));

  v.append(h('h2', {}, 'Interventions'));
  const ivs = doc.interventions || [];
  v.append(ivs.length
    ? h('ol', { class: 'intervention-list' }, ivs.map((iv) => interventionItem(iv, rules.kinds)))
    : h('p', { class: 'muted' }, doc.extends ? `None beyond ${doc.extends}'s.` : 'None.'));
  if (doc.uncertain && doc.uncertain.length) {
    v.append(h('h2', {}, 'Uncertain inputs'), h('ul', {}, doc.uncertain.map((u) => h('li', {},
      `${u.what}: 80% between ${u.p10} and ${u.p90}${u.per ? `, drawn per ${u.per}` : ''} (${whereText(u.where)})`))));
  }
}

// ---------- Page: start a run ----------

async function pageRun(ctx) {
  title('Run a scenario');
  const [list, datasets] = await Promise.all([getScenarios(), api('/datasets')]);
  const wanted = ctx.params.get('scenario') || 'baseline';
  const keys = (datasets.find((d) => d.id === 'default') || datasets[0] || { key_columns: [] }).key_columns;
  const details = [['segment', 'segment (every key column: full drill-down)'], ['total', 'total (no breakdown)'],
    ...keys.map((k) => [k, `by ${k}`])];
  if (keys.includes('org') && keys.includes('staff_group')) details.push(['org,staff_group', 'by org and staff_group']);
  if (keys.includes('staff_group') && keys.includes('band')) details.push(['staff_group,band', 'by staff_group and band']);

  const field = (id, text, input, help) => h('div', { class: 'field' }, h('label', { for: id }, text),
    help ? h('p', { class: 'help', id: `${id}-help` }, help) : null, input);
  const form = h('form', { id: 'run-form', novalidate: true, class: 'card' },
    field('run-scenario-select', 'Scenario', h('select', { id: 'run-scenario-select', value: wanted }, options(list.map((s) => s.name), wanted))),
    field('run-dataset', 'Dataset', h('select', { id: 'run-dataset' }, options(datasets.map((d) => [d.id, `${d.name} (${d.id})`]), 'default'))),
    field('run-detail', 'Detail kept', h('select', { id: 'run-detail', 'aria-describedby': 'run-detail-help' }, options(details, 'segment')),
      'What the results keep. Segment keeps every key column, so you can break results down by any of them.'),
    h('div', { class: 'checkbox' }, h('input', { type: 'checkbox', id: 'run-background' }),
      h('label', { for: 'run-background' }, 'Run in the background (show progress)')),
    h('div', { class: 'inline' },
      field('run-draws', 'Monte Carlo draws', h('input', { type: 'number', id: 'run-draws', min: 1, max: 100000, step: 1, 'aria-describedby': 'run-draws-help' }),
        'Optional. With draws the run always goes on in the background.'),
      field('run-seed', 'Seed', h('input', { type: 'number', id: 'run-seed', step: 1, 'aria-describedby': 'run-seed-help' }),
        'Optional. The same seed gives the same draws.')),
    h('fieldset', {}, h('legend', {}, 'Sweep (optional)'),
      h('p', { class: 'help' }, 'Run the scenario once for each value of one of its own numbers, side by side.'),
      h('div', { class: 'inline' },
        field('run-sweep-field', 'Field to vary', h('select', { id: 'run-sweep-field' })),
        field('run-sweep-values', 'Values', h('input', { type: 'text', id: 'run-sweep-values', 'aria-describedby': 'run-sweep-values-help' }),
          'Separated by commas, for example 10, 20, 30.'))),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'start-run' }, 'Start run')));
  const scenarioSelect = form.querySelector('#run-scenario-select');
  const sweepField = form.querySelector('#run-sweep-field');
  // The fields a sweep may vary: the chosen scenario's own interventions' numbers and its
  // overrides. `[sweep]` counts in the list after `extends` (from 0), so the scenario's
  // own items come after those it inherits.
  const fillSweepFields = async () => {
    const [doc, rules] = await Promise.all([api(`/scenarios/${enc(scenarioSelect.value)}`), getRules()]);
    const inherited = await inheritedCounts(doc.extends);
    const choices = [['', 'none: one run']];
    (doc.interventions || []).forEach((iv, i) => {
      const kind = rules.kinds.find((k) => k.name === iv.kind);
      const numbers = (kind ? kind.fields : []).filter((f) => f.type === 'number' || f.type === 'integer').map((f) => f.name);
      for (const f of [...numbers, 'ramp_months', 'cost_per_month']) {
        choices.push([`interventions.${inherited.interventions + i}.${f}`, `${iv.name || iv.kind}: ${f}`]);
      }
    });
    (doc.overrides || []).forEach((o, i) => {
      for (const column of Object.keys(o.set || {})) {
        choices.push([`overrides.${inherited.overrides + i}.set.${column}`, `override ${i + 1}: ${column}`]);
      }
    });
    sweepField.replaceChildren(...options(choices, ''));
    return doc;
  };
  scenarioSelect.addEventListener('change', () => action(fillSweepFields));
  await fillSweepFields();
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    action(async () => {
      const body = {
        scenario: scenarioSelect.value,
        dataset: form.querySelector('#run-dataset').value,
        detail: form.querySelector('#run-detail').value,
      };
      if (form.querySelector('#run-background').checked) body.background = true;
      for (const k of ['draws', 'seed']) {
        const raw = form.querySelector(`#run-${k}`).value.trim();
        if (raw !== '') body[k] = Number.isFinite(Number(raw)) ? Number(raw) : raw;
      }
      const values = form.querySelector('#run-sweep-values').value.split(',').map((v) => v.trim()).filter((v) => v !== '');
      if (sweepField.value && values.length) {
        // The saved scenario with a sweep added, sent whole; the server checks the values.
        const doc = await api(`/scenarios/${enc(body.scenario)}`);
        doc.sweep = { [sweepField.value]: values.map((v) => (Number.isFinite(Number(v)) ? Number(v) : v)) };
        delete body.scenario;
        body.scenario_document = doc;
      }
      const run = await api('/runs', { method: 'POST', body });
      go(`#/runs/${run.id}`);
    });
  });
  ctx.view.append(h('h1', {}, 'Run a scenario'), form);
}

// ---------- Page: recent runs ----------

const statusText = (s) => ({ running: 'running', succeeded: 'succeeded', failed: 'failed', partly_failed: 'partly failed', cancelled: 'cancelled' }[s] || s);

async function pageRuns(ctx) {
  title('Runs');
  const runs = await api('/runs?limit=50');
  ctx.view.append(h('h1', {}, 'Recent runs'),
    h('div', { class: 'actions' }, h('a', { class: 'button', href: '#/run' }, 'Start a run')),
    runs.length ? table([
      { label: 'Run', value: (r) => h('a', { href: `#/runs/${r.id}`, dataset: { run: r.id } }, `Run ${r.id}`) },
      { label: 'Scenarios', value: (r) => r.scenarios.map((s) => s.scenario).join(', ') },
      { label: 'Status', value: (r) => h('span', { class: `status status-${r.status}` }, statusText(r.status)) },
      { label: 'Done', num: true, value: (r) => `${r.done} of ${r.total}` },
      { label: 'Detail', value: (r) => r.detail },
      { label: 'Dataset', value: (r) => r.dataset },
    ], runs, { id: 'runs-list', caption: 'Newest first' }) : h('p', {}, 'No runs yet.'));
}

// ---------- Start ----------

document.addEventListener('DOMContentLoaded', () => {
  setupKeyForm();
  document.getElementById('skip-link').addEventListener('click', (ev) => {
    ev.preventDefault(); // the hash is the router's
    document.getElementById('main').focus();
  });
  window.addEventListener('hashchange', route);
  // The version in the footer, from the one operation that needs no key.
  fetch('/health').then((r) => r.json()).then((h) => {
    document.getElementById('version').textContent = h.version;
  }).catch(() => {});
  window.addEventListener('unhandledrejection', (ev) => showError(ev.reason));
  route();
});
