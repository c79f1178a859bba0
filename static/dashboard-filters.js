/* Consentry dashboard: the filter chips and the filter editor.

   A filter is `{op, dim, values}`: `is`, `is_not`, `contains` or `matches` (a regular
   expression, RE2 syntax) on one dimension, any of its values. Filters combine with AND, and
   every query on the page carries all of them. A click on a table row adds an `is` filter
   (replacing an `is` filter on the same dimension); the editor adds or edits any filter. */

import { $, $$, el, announce, dimLabel, valueLabel, countryName, FILTER_DIMENSIONS, OPS } from './dashboard-format.js';
import { query } from './dashboard-api.js';
import { state, dateRange, MAX_FILTERS, sameFilter } from './dashboard-state.js';

const HINTS = {
  is: 'Exactly one of these values.',
  is_not: 'Anything except these values.',
  contains: 'Values that contain this text, for example /docs.',
  matches: 'A regular expression (RE2 syntax, no backreferences or lookaround), for example ^/docs/api/.',
};
const MAX_VALUES = 10;
const MAX_VALUE_LEN = 500;

/** A filter in words: "Country is Germany or France", "Page matches ^/docs". */
export function filterText(f) {
  const values = f.values.map(function (v) { return f.op === 'is' || f.op === 'is_not' ? valueLabel(f.dim, v) : v; });
  if (f.op === 'is_not' && values.length > 1) return { head: dimLabel(f.dim) + ' is none of ', values: values.join(', ') };
  return { head: dimLabel(f.dim) + ' ' + OPS[f.op] + ' ', values: values.join(' or ') };
}

/** Why a regular expression would be refused, or null. Checked here to say so before asking. */
function regexProblem(v) {
  if (/\\[1-9]|\\k</.test(v)) return 'backreferences (\\1) are not supported';
  if (/\(\?<?[=!]/.test(v)) return 'lookahead and lookbehind are not supported';
  // What JavaScript can check: RE2's own spellings of flags and named groups made JavaScript's
  // first; anything else RE2 refuses, the server says.
  const js = v.replace(/\(\?[imsU]+\)/g, '').replace(/\(\?[imsU]*-?[imsU]*:/g, '(?:').replace(/\(\?P</g, '(?<');
  try { new RegExp(js); } catch (e) { return e.message.replace(/^Invalid regular expression: /, ''); }
  return null;
}

export function createFilters(opts) {
  const chips = $('#filter-chips');
  const bar = $('#filters');
  const addBtn = $('#add-filter');
  const form = $('#filter-editor');
  const dimSel = $('#fe-dim'), propField = $('#fe-prop-field'), propIn = $('#fe-prop');
  const opSel = $('#fe-op'), list = $('#fe-value-list'), addValue = $('#fe-add-value');
  const hint = $('#fe-hint'), error = $('#fe-error'), title = $('#fe-title'), submit = $('#fe-submit');
  const datalist = $('#fe-suggestions');
  let editing = -1;   // index of the filter being edited, or -1 for a new one
  let opener = null;  // what to give focus back to

  FILTER_DIMENSIONS.forEach(function (g) {
    const og = el('optgroup');
    og.label = g[0];
    g[1].forEach(function (d) { const o = el('option', null, d[1]); o.value = d[0]; og.appendChild(o); });
    dimSel.appendChild(og);
  });
  const prop = el('option', null, 'Custom property…');
  prop.value = 'prop';
  dimSel.lastElementChild.appendChild(prop);
  Object.keys(OPS).forEach(function (op) {
    const o = el('option', null, op === 'matches' ? 'matches (regular expression)' : OPS[op]);
    o.value = op;
    opSel.appendChild(o);
  });

  function chosenDim() {
    return dimSel.value === 'prop' ? 'event:props:' + propIn.value.trim() : dimSel.value;
  }

  function valueInputs() { return $$('input', list); }
  function addValueInput(v) {
    const n = valueInputs().length + 1;
    const row = el('div', 'fe-value');
    const id = 'fe-value-' + n;
    const label = el('label', 'visually-hidden', 'Value ' + n);
    label.htmlFor = id;
    const input = el('input');
    input.id = id;
    input.type = 'text';
    input.maxLength = MAX_VALUE_LEN;
    input.autocomplete = 'off';
    input.spellcheck = false;
    input.setAttribute('list', 'fe-suggestions');
    input.setAttribute('aria-describedby', 'fe-hint');
    input.value = v || '';
    row.appendChild(label);
    row.appendChild(input);
    if (n > 1) {
      const or = el('span', 'fe-or', 'or');
      or.setAttribute('aria-hidden', 'true');
      row.insertBefore(or, label);
      const x = el('button', 'chip-remove', '×');
      x.type = 'button';
      x.setAttribute('aria-label', 'Remove value ' + n);
      x.addEventListener('click', function () {
        const keep = valueInputs().map(function (i) { return i.value; }).filter(function (_, k) { return k !== n - 1; });
        setValues(keep);
        valueInputs()[Math.min(n - 1, keep.length) - 1].focus();
      });
      row.appendChild(x);
    }
    list.appendChild(row);
    addValue.hidden = n >= MAX_VALUES;
    return input;
  }
  function setValues(values) {
    list.textContent = '';
    (values.length ? values : ['']).forEach(addValueInput);
  }

  function showProblem(text, field) {
    error.textContent = text;
    error.hidden = !text;
    valueInputs().concat([propIn]).forEach(function (i) { i.removeAttribute('aria-invalid'); });
    if (field) { field.setAttribute('aria-invalid', 'true'); field.focus(); }
  }

  /** Suggestions for the value: the dimension's top values under the other filters. */
  let suggestReq = 0;
  function suggest() {
    const dim = chosenDim(), req = ++suggestReq;
    datalist.textContent = '';
    if (dim === 'event:props:') return;
    const body = {
      metrics: ['visitors'], date_range: dateRange(), dimensions: [dim], limit: 100,
      filters: state.filters.filter(function (f, i) { return f.dim !== dim && i !== editing; })
        .map(function (f) { return [f.op, f.dim, f.values]; }),
    };
    if (state.segment) body.segment = state.segment;
    query(body).then(function (res) {
      if (req !== suggestReq) return;
      res.results.forEach(function (r) {
        const v = r.dimensions[0];
        const o = el('option');
        o.value = v;
        if (dim === 'visit:country' && countryName(v) !== v) o.label = countryName(v);
        datalist.appendChild(o);
      });
    }, function () { /* no suggestions: the field still takes any value */ });
  }

  function syncFields() {
    propField.hidden = dimSel.value !== 'prop';
    hint.textContent = HINTS[opSel.value];
    const many = opSel.value === 'is' || opSel.value === 'is_not';
    addValue.textContent = '+ Or another value';
    $('#fe-values-legend').textContent = many ? 'Values (any of them)' : 'Text (any of them)';
  }

  function open(index, from) {
    editing = index;
    opener = from || addBtn;
    const f = index >= 0 ? state.filters[index] : null;
    title.textContent = f ? 'Edit filter' : 'Add a filter';
    submit.textContent = f ? 'Update filter' : 'Apply filter';
    const dim = f ? f.dim : 'event:page';
    if (dim.indexOf('event:props:') === 0) { dimSel.value = 'prop'; propIn.value = dim.slice(12); } else { dimSel.value = dim; propIn.value = ''; }
    opSel.value = f ? f.op : 'is';
    setValues(f ? f.values : []);
    showProblem('');
    syncFields();
    suggest();
    form.hidden = false;
    addBtn.setAttribute('aria-expanded', 'true');
    dimSel.focus();
  }
  function close() {
    form.hidden = true;
    addBtn.setAttribute('aria-expanded', 'false');
    editing = -1;
    if (opener && document.contains(opener)) opener.focus(); else addBtn.focus();
  }

  addBtn.addEventListener('click', function () {
    if (!form.hidden && editing < 0) close(); else open(-1, addBtn);
  });
  $('#fe-cancel').addEventListener('click', close);
  form.addEventListener('keydown', function (e) { if (e.key === 'Escape') { e.preventDefault(); close(); } });
  dimSel.addEventListener('change', function () { syncFields(); suggest(); if (dimSel.value === 'prop') propIn.focus(); });
  propIn.addEventListener('change', suggest);
  opSel.addEventListener('change', syncFields);
  addValue.addEventListener('click', function () { addValueInput('').focus(); });

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    if (dimSel.value === 'prop' && !/^[^\s]{1,100}$/.test(propIn.value.trim())) {
      return showProblem('Name the property (1 to 100 characters, no spaces).', propIn);
    }
    const inputs = valueInputs();
    const values = [];
    for (let i = 0; i < inputs.length; i++) {
      const v = opSel.value === 'is' || opSel.value === 'is_not' ? inputs[i].value : inputs[i].value.trim();
      if (!v.trim()) continue;
      if (opSel.value === 'matches') {
        const p = regexProblem(v);
        if (p) return showProblem('That regular expression cannot be used: ' + p + '.', inputs[i]);
      }
      if (values.indexOf(v) < 0) values.push(v);
    }
    if (!values.length) return showProblem('Enter a value.', inputs[0]);
    const f = { op: opSel.value, dim: chosenDim(), values: values };
    const next = state.filters.slice();
    if (editing >= 0) next[editing] = f;
    else if (next.some(function (g) { return sameFilter(g, f); })) return close();
    else if (next.length >= MAX_FILTERS) return showProblem('At most ' + MAX_FILTERS + ' filters can be combined; remove one first.', null);
    else next.push(f);
    const t = filterText(f);
    state.filters = next;
    const index = editing >= 0 ? editing : next.length - 1;
    announce((editing >= 0 ? 'Filter changed: ' : 'Filtered by ') + t.head + t.values);
    form.hidden = true;
    addBtn.setAttribute('aria-expanded', 'false');
    editing = -1;
    opts.onChange();
    const edit = $$('.chip-edit')[index];
    if (edit) edit.focus();
  });

  function render() {
    chips.textContent = '';
    state.filters.forEach(function (f, i) {
      const t = filterText(f), text = t.head + t.values;
      const li = el('li', 'chip');
      li.setAttribute('data-testid', 'filter-chip');
      li.setAttribute('data-dimension', f.dim);
      li.setAttribute('data-op', f.op);
      const b = el('button', 'chip-edit');
      b.type = 'button';
      b.setAttribute('aria-label', 'Edit filter: ' + text);
      b.appendChild(document.createTextNode(t.head));
      b.appendChild(el('strong', f.op === 'matches' || f.op === 'contains' ? 'mono' : null, t.values));
      b.addEventListener('click', function () { open(i, b); });
      li.appendChild(b);
      const x = el('button', 'chip-remove', '×');
      x.type = 'button';
      x.setAttribute('aria-label', 'Remove filter: ' + text);
      x.addEventListener('click', function () {
        state.filters.splice(i, 1);
        announce('Removed filter ' + text);
        opts.onChange();
        const next = $$('.chip-remove')[Math.min(i, state.filters.length - 1)] || addBtn;
        next.focus();
      });
      li.appendChild(x);
      chips.appendChild(li);
    });
    bar.hidden = state.filters.length === 0;
    addBtn.disabled = state.filters.length >= MAX_FILTERS;
  }

  $('#clear-filters').addEventListener('click', function () {
    state.filters = [];
    announce('Filters cleared');
    opts.onChange();
    addBtn.focus();
  });

  /** Adds `is` filters from a table row; `focusChip` keeps keyboard focus on the new chip. */
  function addFromRow(filters, focusChip) {
    let next = state.filters.slice();
    filters.forEach(function (f) {
      next = next.filter(function (g) { return !(g.dim === f.dim && g.op === 'is'); });
      next.push(f);
    });
    if (next.length > MAX_FILTERS) {
      opts.onError(new Error('At most ' + MAX_FILTERS + ' filters can be combined; remove one first.'));
      return;
    }
    state.filters = next;
    announce('Filtered by ' + filters.map(function (f) { const t = filterText(f); return t.head + t.values; }).join(' and '));
    opts.onChange();
    // The table is about to be redrawn: keep keyboard focus on the filter just added.
    if (focusChip) $$('.chip-remove')[state.filters.length - 1].focus();
  }

  return {
    render: render,
    addFromRow: addFromRow,
    /** Closes the editor without applying it (Back or Forward changed the filters under it). */
    close: function () { form.hidden = true; addBtn.setAttribute('aria-expanded', 'false'); editing = -1; },
  };
}
