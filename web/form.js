// The scenario form (#/scenarios/new, #/scenarios/NAME/edit), generated from GET /rules.
// Every input's data-field is the path the server names in its error details, so each
// message lands beside its input. Nothing is checked here: the server's word is final.
'use strict';

const INPUT_COLUMNS = ['leaver_rate', 'sickness_rate', 'annual_leave_rate', 'study_leave_rate', 'other_leave_rate',
  'hours_per_week', 'dcc_share', 'annual_pay', 'time_to_fill', 'bank_share', 'agency_share', 'bank_premium',
  'agency_premium', 'demand_growth', 'headroom_allowance', 'fte', 'establishment'];
const FORM_FIELDS = ['name', 'description', 'extends', 'start', 'months', 'overrides', 'interventions'];

function errorSlot(path) {
  return h('p', { class: 'field-error', dataset: { errorFor: path }, 'aria-live': 'polite' });
}

/** A labelled input with its help, followed at once by the slot for the server's message. */
function formField({ path, text, input, help, type = 'text' }) {
  const id = uid('in');
  input.id = id;
  input.dataset.field = path;
  input.dataset.type = type;
  const slot = errorSlot(path);
  slot.id = `${id}-err`;
  const helpEl = help ? h('p', { class: 'help', id: `${id}-help` }, help) : null;
  input.setAttribute('aria-describedby', [helpEl && helpEl.id, slot.id].filter(Boolean).join(' '));
  return h('div', { class: 'field' }, h('label', { for: id }, text), helpEl, input, slot);
}

const textInput = (value, attrs = {}) => h('input', { type: 'text', value: value ?? '', ...attrs });
function numberInput(value, { min, max, integer, placeholder } = {}) {
  return h('input', { type: 'number', step: integer ? 1 : 'any', min, max, placeholder, value: value ?? '' });
}
const valuesText = (v) => (v == null ? '' : Array.isArray(v) ? v.join(', ') : String(v));

function rangeHelp(f) {
  const parts = [f.doc.charAt(0).toUpperCase() + f.doc.slice(1)];
  if (f.min != null && f.max != null) parts.push(`Between ${f.min} and ${f.max}`);
  else if (f.min != null) parts.push(`At least ${f.min}`);
  else if (f.max != null) parts.push(`At most ${f.max}`);
  if (f.type === 'integer') parts.push('A whole number');
  if (f.default != null) parts.push(`${f.default} when empty`);
  if (f.default_columns) parts.push(`${f.default_columns.join(', ')} when empty`);
  if (f.required) parts.push('Required');
  return `${parts.join('. ')}.`;
}

/** A where-style filter: one input per key column, so each has the path the server uses. */
function whereGrid(path, where, env, title, help) {
  const cols = [...env.keyCols, ...Object.keys(where || {}).filter((k) => !env.keyCols.includes(k))];
  return h('fieldset', { class: 'where' }, h('legend', {}, title),
    h('p', { class: 'help' }, help || 'Leave a column empty to match every value; separate several values with commas.'),
    h('div', { class: 'grid' }, cols.map((c) => formField({
      path: `${path}.${c}`, text: c, type: 'values',
      input: textInput(valuesText(where && where[c]), { list: env.lists[c] ? `dl-${c}` : null }),
    }))),
    errorSlot(path));
}

function setRow(prefix, col, value) {
  const colInput = textInput(col, { class: 'set-column', list: 'dl-input-columns' });
  const valInput = numberInput(value);
  const valField = formField({ path: `${prefix}.set.${col || ''}`, text: 'New value', input: valInput, type: 'number' });
  // The value's path names the column, so it follows what is typed there.
  colInput.addEventListener('input', () => {
    const path = valInput.dataset.field.replace(/\.set\..*$/, `.set.${colInput.value.trim()}`);
    valInput.dataset.field = path;
    valField.querySelector('.field-error').dataset.errorFor = path;
  });
  const row = h('div', { class: 'set-row' },
    formField({ path: `${prefix}.set#column`, text: 'Input column', input: colInput, type: 'skip', help: 'For example leaver_rate' }),
    valField);
  const remove = h('button', { type: 'button', class: 'secondary remove-set' }, 'Remove');
  remove.addEventListener('click', () => row.remove());
  row.append(h('div', { class: 'field' }, h('span', { class: 'help' }, '\u00a0'), remove));
  return row;
}

function overrideBlock(i, o, env) {
  const prefix = `overrides[${i}]`;
  const rows = h('div', { class: 'set-rows' }, Object.entries(o.set || {}).map(([k, v]) => setRow(prefix, k, v)));
  if (!rows.children.length) rows.append(setRow(prefix, '', ''));
  const addSet = h('button', { type: 'button', class: 'secondary add-set' }, 'Set another column');
  const block = h('fieldset', { class: 'override' }, h('legend', {}, `Override ${i + 1}`),
    whereGrid(`${prefix}.where`, o.where, env, 'Where', 'The segments it applies to; all empty means every segment. Separate several values with commas.'),
    h('fieldset', {}, h('legend', {}, 'Set'), rows, errorSlot(`${prefix}.set`), addSet),
    h('button', { type: 'button', class: 'secondary remove-block' }, `Remove override ${i + 1}`));
  addSet.addEventListener('click', () => {
    const p = block.querySelector('[data-field]').dataset.field.replace(/\.where.*$/, '');
    rows.append(setRow(p, '', ''));
    rows.lastChild.querySelector('input').focus();
  });
  return block;
}

const COMMON_HELP = {
  name: 'A name for planners; attribution reports use it.',
  start: 'First month it acts, YYYY-MM; the scenario start when empty (it may be earlier).',
  end: 'Last month it acts, YYYY-MM; the end of the run when empty.',
  ramp_months: 'Months to reach full effect; 1 when empty.',
  cost_per_month: 'GBP charged every month from start to end.',
};

function kindFields(prefix, kind, values, env) {
  if (!kind) return [];
  return kind.fields.map((f) => {
    const path = `${prefix}.${f.name}`;
    const text = `${f.name.replace(/_/g, ' ')}${f.required ? ' (required)' : ''}`;
    if (f.type === 'filter') return whereGrid(path, values[f.name], env, text, rangeHelp(f));
    if (f.type === 'key_columns') {
      return formField({ path, text, type: 'columns', help: `${rangeHelp(f)} Separate columns with commas.`,
        input: textInput(valuesText(values[f.name]), { placeholder: (f.default_columns || []).join(', ') }) });
    }
    const input = numberInput(values[f.name], { min: f.min, max: f.max, integer: f.type === 'integer', placeholder: f.default });
    if (f.required) input.setAttribute('aria-required', 'true');
    return formField({ path, text, type: 'number', help: rangeHelp(f), input });
  });
}

function interventionBlock(i, iv, env) {
  const prefix = `interventions[${i}]`;
  const kinds = env.rules.kinds;
  const known = kinds.find((k) => k.name === iv.kind);
  const kindSelect = h('select', { value: iv.kind || '' },
    options([['', 'Choose a kind…'], ...kinds.map((k) => [k.name, k.name]),
      ...(iv.kind && !known ? [[iv.kind, iv.kind]] : [])], iv.kind || ''));
  const summary = h('p', { class: 'help kind-summary', 'aria-live': 'polite' }, known ? known.summary : '');
  const fieldsBox = h('div', { class: 'kind-fields grid' }, kindFields(prefix, known, iv, env));
  const block = h('fieldset', { class: 'intervention' }, h('legend', {}, `Intervention ${i + 1}`),
    formField({ path: `${prefix}.kind`, text: 'Kind', input: kindSelect, type: 'text' }), summary,
    h('div', { class: 'grid' },
      formField({ path: `${prefix}.name`, text: 'Name', input: textInput(iv.name), help: COMMON_HELP.name }),
      formField({ path: `${prefix}.start`, text: 'Start', input: textInput(iv.start, { placeholder: 'YYYY-MM' }), help: COMMON_HELP.start }),
      formField({ path: `${prefix}.end`, text: 'End', input: textInput(iv.end, { placeholder: 'YYYY-MM' }), help: COMMON_HELP.end }),
      formField({ path: `${prefix}.ramp_months`, text: 'Ramp months', type: 'number', input: numberInput(iv.ramp_months, { min: 1, integer: true, placeholder: 1 }), help: COMMON_HELP.ramp_months }),
      formField({ path: `${prefix}.cost_per_month`, text: 'Cost per month (£)', type: 'number', input: numberInput(iv.cost_per_month, { min: 0, placeholder: 0 }), help: COMMON_HELP.cost_per_month })),
    whereGrid(`${prefix}.where`, iv.where, env, 'Where', 'The segments it acts on; all empty means every segment. Separate several values with commas.'),
    h('h3', { class: 'kind-title' }, 'Kind settings'),
    fieldsBox,
    h('button', { type: 'button', class: 'secondary remove-block' }, `Remove intervention ${i + 1}`));
  // Fields the form has no input for (none in the bundled kinds) are kept as they were.
  block.__extra = Object.fromEntries(Object.entries(iv).filter(([k]) =>
    !COMMON.includes(k) && !(known && known.fields.some((f) => f.name === k))));
  kindSelect.addEventListener('change', () => {
    const p = kindSelect.dataset.field.replace(/\.kind$/, '');
    const kind = kinds.find((k) => k.name === kindSelect.value);
    const keep = {};
    for (const inp of fieldsBox.querySelectorAll('[data-field]')) {
      const name = inp.dataset.field.slice(p.length + 1);
      if (!name.includes('.') && inp.value !== '') keep[name] = inp.value;
    }
    summary.textContent = kind ? kind.summary : '';
    fieldsBox.replaceChildren(...kindFields(p, kind, keep, env));
    block.__extra = {};
  });
  return block;
}

/** After a removal, the blocks after it move up one place: so do their paths. */
function renumber(list, name, title) {
  [...list.children].forEach((block, k) => {
    for (const e of block.querySelectorAll('[data-field], [data-error-for]')) {
      for (const a of ['data-field', 'data-error-for']) {
        const v = e.getAttribute(a);
        if (v) e.setAttribute(a, v.replace(/^\w+\[\d+\]/, `${name}[${k}]`));
      }
    }
    block.querySelector('legend').textContent = `${title} ${k + 1}`;
    block.querySelector('.remove-block').textContent = `Remove ${title.toLowerCase()} ${k + 1}`;
  });
}

function blockList(name, title, items, make, env) {
  const list = h('div', { class: `${name}-list` }, items.map((it, i) => make(i, it, env)));
  const add = h('button', { type: 'button', class: 'secondary', id: `add-${name.replace(/s$/, '')}` }, `Add ${title.toLowerCase()}`);
  add.addEventListener('click', () => {
    list.append(make(list.children.length, {}, env));
    list.lastChild.querySelector('input, select').focus();
  });
  list.addEventListener('click', (ev) => {
    const btn = ev.target.closest('.remove-block');
    if (!btn) return;
    btn.closest('fieldset').remove();
    renumber(list, name, title);
    add.focus();
  });
  return { list, add };
}

function convert(raw, type) {
  const v = raw.trim();
  if (v === '' || type === 'skip') return undefined;
  if (type === 'number') return Number.isFinite(Number(v)) ? Number(v) : v; // the server names a non-number
  if (type === 'values') {
    const parts = v.split(',').map((s) => s.trim()).filter(Boolean);
    return parts.length === 1 ? parts[0] : parts;
  }
  if (type === 'columns') return v.split(',').map((s) => s.trim()).filter(Boolean);
  return type === 'multiline' ? raw : v;
}

function setPath(obj, path, value) {
  const keys = [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] != null ? Number(m[2]) : m[1]));
  let o = obj;
  keys.forEach((k, i) => {
    if (i === keys.length - 1) o[k] = value;
    else o = o[k] ?? (o[k] = typeof keys[i + 1] === 'number' ? [] : {});
  });
}

function readDocument(form, kept) {
  const doc = structuredClone(kept);
  const ovs = form.querySelectorAll('.override');
  const ivs = form.querySelectorAll('.intervention');
  if (ovs.length) doc.overrides = [...ovs].map(() => ({}));
  if (ivs.length) doc.interventions = [...ivs].map((b) => structuredClone(b.__extra || {}));
  for (const input of form.querySelectorAll('[data-field]')) {
    const path = input.dataset.field;
    if (/\.set\.$/.test(path)) continue; // a value with no column named yet
    const v = convert(input.value, input.dataset.type);
    if (v !== undefined) setPath(doc, path, v);
  }
  return doc;
}

/** How many overrides and interventions come before the scenario's own, from `extends`. */
async function inheritedCounts(parent) {
  const n = { overrides: 0, interventions: 0, uncertain: 0 };
  const seen = new Set();
  while (parent && !seen.has(parent)) {
    seen.add(parent);
    const d = await api(`/scenarios/${enc(parent)}`).catch(() => null);
    if (!d) break;
    for (const k of Object.keys(n)) n[k] += (d[k] || []).length;
    parent = d.extends;
  }
  return n;
}

const parentPath = (p) => p.replace(/(\.[^.[\]]*|\[\d+\])$/, '');

function showFieldErrors(form, details, inherited, parent) {
  const list = form.querySelector('#form-errors');
  list.replaceChildren();
  let first = null;
  for (const d of details) {
    let path = d.field || '';
    // The server checks the scenario merged with what it extends: index past the inherited items.
    const m = path.match(/^(overrides|interventions|uncertain)\[(\d+)\](.*)$/);
    let fromParent = false;
    if (m) {
      const k = Number(m[2]) - inherited[m[1]];
      if (k < 0) fromParent = true;
      else path = `${m[1]}[${k}]${m[3]}`;
    }
    let slot = null;
    for (let p = path; p && !fromParent && !slot; p = parentPath(p) === p ? '' : parentPath(p)) {
      slot = form.querySelector(`[data-error-for="${CSS.escape(p)}"]`);
      if (slot) path = p;
    }
    if (!slot) {
      const where = fromParent ? `inherited from ${parent}, ${d.field}` : d.field;
      list.append(h('li', {}, where ? `${where}: ${d.message}` : d.message));
      continue;
    }
    slot.textContent = slot.textContent ? `${slot.textContent} ${d.message}` : d.message;
    const input = form.querySelector(`[data-field="${CSS.escape(path)}"]`);
    if (input) input.setAttribute('aria-invalid', 'true');
    first = first || input;
  }
  list.hidden = !list.children.length;
  (first || (list.hidden ? null : list))?.focus();
}

function clearFieldErrors(form) {
  for (const e of form.querySelectorAll('.field-error')) e.textContent = '';
  for (const e of form.querySelectorAll('[aria-invalid]')) e.removeAttribute('aria-invalid');
  const list = form.querySelector('#form-errors');
  list.replaceChildren();
  list.hidden = true;
}

async function pageScenarioForm(ctx, name) {
  const isNew = name == null;
  title(isNew ? 'New scenario' : `Edit ${name}`);
  const [rules, list, dataset, doc] = await Promise.all([getRules(), getScenarios(),
    getDataset('default').catch(() => null), isNew ? {} : api(`/scenarios/${enc(name)}`)]);
  const keyCols = dataset ? dataset.summary.key_columns : ['org', 'system', 'staff_group', 'band'];
  const lists = {};
  if (dataset) {
    lists.org = dataset.by_org.map((g) => g.name);
    lists.staff_group = dataset.by_staff_group.map((g) => g.name);
  }
  const env = { rules, keyCols, lists };
  const kept = Object.fromEntries(Object.entries(doc).filter(([k]) => !FORM_FIELDS.includes(k)));

  const overrides = blockList('overrides', 'Override', doc.overrides || [], overrideBlock, env);
  const interventions = blockList('interventions', 'Intervention', doc.interventions || [], interventionBlock, env);
  const parents = list.filter((s) => s.name !== name).map((s) => s.name);
  const submit = h('button', { type: 'submit', id: 'save-scenario' }, 'Save scenario');
  const form = h('form', { id: 'scenario-form', novalidate: true },
    h('ul', { id: 'form-errors', class: 'form-errors', hidden: true, tabindex: '-1', 'aria-live': 'polite' }),
    Object.entries(lists).map(([c, vals]) => h('datalist', { id: `dl-${c}` }, vals.map((v) => h('option', { value: v })))),
    h('datalist', { id: 'dl-input-columns' }, INPUT_COLUMNS.map((v) => h('option', { value: v }))),
    h('fieldset', {}, h('legend', {}, 'Scenario'),
      isNew ? formField({ path: 'name', text: 'Name', input: textInput('', { autocomplete: 'off' }), help: 'Used in links and reports, for example retention-10pc.' }) : null,
      formField({ path: 'description', text: 'Description', type: 'multiline', input: h('textarea', { rows: 3 }, doc.description || ''), help: 'What the scenario tries, in words for planners.' }),
      formField({ path: 'extends', text: 'Extends', input: h('select', { value: doc.extends || '' }, options([['', '(nothing: a complete scenario)'], ...parents], doc.extends || '')),
        help: 'The scenario to start from: its settings, overrides and interventions come first.' }),
      h('div', { class: 'inline' },
        formField({ path: 'start', text: 'Start', input: textInput(doc.start, { placeholder: 'YYYY-MM' }), help: 'First month, YYYY-MM; inherited when empty.' }),
        formField({ path: 'months', text: 'Months', type: 'number', input: numberInput(doc.months, { min: 1, max: 600, integer: true }), help: 'Months to run, 1 to 600; inherited when empty.' }))),
    h('fieldset', {}, h('legend', {}, 'Overrides'),
      h('p', { class: 'help' }, 'Set input columns of the workforce table for some segments, for example a lower leaver_rate.'),
      overrides.list, overrides.add),
    h('fieldset', {}, h('legend', {}, 'Interventions'), interventions.list, interventions.add),
    Object.keys(kept).length ? h('p', { class: 'help' }, `Also kept as they are: ${Object.keys(kept).join(', ')}.`) : null,
    h('div', { class: 'actions' }, submit,
      h('a', { class: 'button secondary', href: isNew ? '#/scenarios' : `#/scenarios/${enc(name)}` }, 'Cancel')));

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    action(async () => {
      clearFieldErrors(form);
      const body = readDocument(form, kept);
      const target = isNew ? (body.name || '').trim() : name;
      submit.disabled = true;
      try {
        // A new scenario goes by POST, which refuses a name already taken (409) rather
        // than replacing that scenario; an edit replaces its own.
        const saved = isNew
          ? await api('/scenarios', { method: 'POST', body })
          : await api(`/scenarios/${enc(target)}`, { method: 'PUT', body });
        go(`#/scenarios/${enc(saved.name || target)}`);
      } catch (err) {
        if (isNew && err instanceof ApiError && err.status === 409) {
          showFieldErrors(form, [{ field: 'name', message: err.message }], {}, body.extends);
          throw new ApiError(err.status, { message: `${err.message}: choose another name.` });
        }
        if (!(err instanceof ApiError) || !err.body.details || !err.body.details.length) throw err;
        const inherited = await inheritedCounts(body.extends);
        showFieldErrors(form, err.body.details, inherited, body.extends);
        throw new ApiError(err.status, { message: `${err.message}: see the messages beside the fields.` });
      } finally {
        submit.disabled = false;
      }
    });
  });
  ctx.view.append(h('h1', {}, isNew ? 'New scenario' : `Edit ${name}`));
  if (!isNew) ctx.view.append(h('p', {}, h('a', { href: `#/scenarios/${enc(name)}` }, `Back to ${name}`)));
  ctx.view.append(form);
}
