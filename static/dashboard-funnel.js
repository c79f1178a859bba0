/* Consentry dashboard: the funnel. Two to eight steps, each a page (`*` matches any run of
   characters) or a custom event, reached in order within one visit or N days; under the page's
   filters, segment and date range. Each step shows its visitors, its conversion rate (share of
   step 1) and how many dropped off since the step before, as bars. */

import { $, $$, el, announce, nf, nf1 } from './dashboard-format.js';
import { funnel as askFunnel } from './dashboard-api.js';
import { state, dateRange, scope, MIN_STEPS, MAX_STEPS, WINDOW } from './dashboard-state.js';

const KIND = { page: 'Page', event: 'Event' };
const PLACEHOLDER = { page: '/pricing or /docs/*', event: 'signup' };

function stepText(s) {
  return s.kind === 'page' ? 'Visited ' + s.value : 'Sent event ' + s.value;
}

export function createFunnel(opts) {
  const section = $('#funnel');
  const form = $('#funnel-form');
  const list = $('#funnel-steps');
  const addBtn = $('#funnel-add-step');
  const windowSel = $('#funnel-window');
  const error = $('#funnel-error');
  const result = $('#funnel-result');
  const clearBtn = $('#funnel-clear');

  function rows() { return $$('li', list); }
  function read() {
    return rows().map(function (li) {
      return { kind: $('select', li).value, value: $('input', li).value.trim() };
    });
  }

  function renumber() {
    const all = rows();
    all.forEach(function (li, i) {
      const n = i + 1;
      $('.funnel-n', li).textContent = String(n);
      $('select', li).setAttribute('aria-label', 'Step ' + n + ': page or event');
      $('label', li).textContent = 'Step ' + n + ' ' + ($('select', li).value === 'page' ? 'page path' : 'event name');
      $('.funnel-remove', li).setAttribute('aria-label', 'Remove step ' + n);
      $('.funnel-remove', li).disabled = all.length <= MIN_STEPS;
    });
    addBtn.disabled = all.length >= MAX_STEPS;
  }

  function addRow(step) {
    const i = rows().length;
    const li = el('li', 'funnel-edit-step');
    li.appendChild(el('span', 'funnel-n'));
    const kind = el('select');
    Object.keys(KIND).forEach(function (k) { const o = el('option', null, KIND[k]); o.value = k; kind.appendChild(o); });
    kind.value = step.kind;
    const id = 'funnel-step-' + (addRow.n = (addRow.n || 0) + 1);
    const label = el('label', 'visually-hidden');
    label.htmlFor = id;
    const input = el('input');
    input.id = id;
    input.type = 'text';
    input.maxLength = 500;
    input.autocomplete = 'off';
    input.spellcheck = false;
    input.value = step.value;
    const sync = function () {
      input.placeholder = PLACEHOLDER[kind.value];
      input.setAttribute('list', kind.value === 'page' ? 'funnel-pages' : 'funnel-events');
      renumber();
    };
    kind.addEventListener('change', sync);
    const x = el('button', 'funnel-remove chip-remove', '×');
    x.type = 'button';
    x.addEventListener('click', function () {
      const at = rows().indexOf(li);
      li.remove();
      renumber();
      const rest = rows();
      $('select', rest[Math.min(at, rest.length - 1)]).focus();
      announce('Removed step ' + (at + 1) + '; ' + rest.length + ' steps');
    });
    li.appendChild(kind);
    li.appendChild(label);
    li.appendChild(input);
    li.appendChild(x);
    list.insertBefore(li, list.children[i] || null);
    sync();
    return li;
  }

  function fill(f) {
    list.textContent = '';
    const steps = f ? f.steps : [{ kind: 'page', value: '' }, { kind: 'event', value: '' }];
    steps.forEach(addRow);
    const w = f ? f.window : 'visit';
    if (!$$('option', windowSel).some(function (o) { return o.value === w; })) {
      const o = el('option', null, w.slice(0, -1) + ' days');
      o.value = w;
      windowSel.appendChild(o);
    }
    windowSel.value = w;
    clearBtn.hidden = !f;
  }

  addBtn.addEventListener('click', function () {
    if (rows().length >= MAX_STEPS) return;
    const li = addRow({ kind: 'page', value: '' });
    $('select', li).focus();
    announce('Added step ' + rows().length);
  });

  function problem(text, field) {
    error.textContent = text;
    error.hidden = !text;
    $$('input', list).forEach(function (i) { i.removeAttribute('aria-invalid'); });
    if (field) { field.setAttribute('aria-invalid', 'true'); field.focus(); }
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    const steps = read();
    const empty = steps.findIndex(function (s) { return !s.value; });
    if (empty >= 0) return problem('Step ' + (empty + 1) + ' needs a ' + (steps[empty].kind === 'page' ? 'page path.' : 'event name.'), $$('input', list)[empty]);
    const bad = steps.findIndex(function (s) { return s.kind === 'page' && s.value.charAt(0) !== '/' && s.value.charAt(0) !== '*'; });
    if (bad >= 0) return problem('Step ' + (bad + 1) + ': a page path starts with / (or *).', $$('input', list)[bad]);
    problem('');
    state.funnel = { steps: steps, window: WINDOW.test(windowSel.value) ? windowSel.value : 'visit' };
    clearBtn.hidden = false;
    opts.onChange();
  });
  clearBtn.addEventListener('click', function () {
    state.funnel = null;
    result.textContent = '';
    section.removeAttribute('data-state');
    fill(null);
    opts.onChange();
    $('select', list).focus();
  });

  /* ---------- the answer ---------- */
  function render(res, asked) {
    result.textContent = '';
    const steps = res.steps || [];
    const first = steps.length && steps[0].visitors ? steps[0].visitors : 0;
    const table = el('table', 'funnel-table');
    table.setAttribute('data-testid', 'funnel-table');
    table.appendChild(el('caption', 'visually-hidden', 'Funnel: visitors reaching each step, ' +
      (asked.window === 'visit' ? 'within one visit' : 'within ' + asked.window.slice(0, -1) + ' days')));
    const hr = el('tr');
    [['Step', 'col-dim'], ['Visitors', 'num'], ['Conversion', 'num'], ['Dropped off', 'num']].forEach(function (h) {
      const th = el('th', h[1], h[0]); th.scope = 'col'; hr.appendChild(th);
    });
    const thead = el('thead'); thead.appendChild(hr); table.appendChild(thead);
    const tbody = el('tbody');
    steps.forEach(function (s, i) {
      const ask = asked.steps[i] || (s.step && s.step.page != null ? { kind: 'page', value: s.step.page } : { kind: 'event', value: (s.step || {}).event });
      const prev = i ? steps[i - 1].visitors : null;
      const tr = el('tr', 'funnel-row');
      tr.setAttribute('data-step', String(i + 1));
      const th = el('th', 'funnel-cell');
      th.scope = 'row';
      const head = el('span', 'funnel-label');
      head.appendChild(el('span', 'funnel-n', String(i + 1)));
      head.appendChild(document.createTextNode(ask.kind === 'page' ? 'Visited ' : 'Event '));
      head.appendChild(el('span', 'mono', ask.value));
      th.appendChild(head);
      const track = el('span', 'funnel-track');
      track.setAttribute('aria-hidden', 'true');
      const fill = el('span', 'funnel-fill');
      const rate = s.conversion_rate != null ? s.conversion_rate : first ? (100 * (s.visitors || 0)) / first : 0;
      fill.style.width = Math.max(0, Math.min(100, rate)) + '%';
      track.appendChild(fill);
      if (i && s.drop_off && first) {
        const lost = el('span', 'funnel-lost');
        lost.style.width = Math.max(0, Math.min(100 - rate, (100 * s.drop_off) / first)) + '%';
        track.appendChild(lost);
      }
      th.appendChild(track);
      tr.appendChild(th);
      const tdV = el('td', 'num', s.visitors == null ? '–' : nf.format(s.visitors));
      tdV.setAttribute('data-value', String(s.visitors));
      tr.appendChild(tdV);
      tr.appendChild(el('td', 'num', s.conversion_rate == null ? '–' : nf1.format(s.conversion_rate) + '%'));
      const drop = el('td', 'num funnel-drop');
      if (!i || s.drop_off == null) drop.textContent = '–';
      else {
        drop.textContent = nf.format(s.drop_off);
        if (prev) drop.appendChild(el('span', 'funnel-drop-rate', ' (' + nf1.format((100 * s.drop_off) / prev) + '%)'));
      }
      tr.appendChild(drop);
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    result.appendChild(table);
    const last = steps[steps.length - 1];
    const summary = el('p', 'funnel-summary');
    summary.setAttribute('data-testid', 'funnel-summary');
    summary.textContent = !first ? 'No visitor reached step 1 in this period.'
      : nf.format(last.visitors || 0) + ' of ' + nf.format(first) + ' visitors (' +
        nf1.format(last.conversion_rate != null ? last.conversion_rate : (100 * (last.visitors || 0)) / first) +
        '%) went from “' + stepText(asked.steps[0]) + '” to “' + stepText(asked.steps[asked.steps.length - 1]) + '”.';
    result.appendChild(summary);
  }

  function load() {
    if (!state.funnel) return Promise.resolve();
    const asked = state.funnel;
    const body = scope({
      date_range: dateRange(),
      steps: asked.steps.map(function (s) { return s.kind === 'page' ? { page: s.value } : { event: s.value }; }),
      window: asked.window,
    });
    const req = section._req = (section._req || 0) + 1;
    section.setAttribute('data-state', 'loading');
    section.setAttribute('aria-busy', 'true');
    result.classList.add('is-loading');
    return askFunnel(body).then(function (res) {
      if (req !== section._req) return;
      render(res, asked);
      section.setAttribute('data-state', 'done');
    }, function (e) {
      if (req !== section._req) return;
      result.textContent = '';
      result.appendChild(el('p', 'panel-empty', 'The funnel could not be loaded: ' + e.message));
      section.setAttribute('data-state', 'error');
      opts.onError(e);
    }).then(function () {
      if (req !== section._req) return;
      section.removeAttribute('aria-busy');
      result.classList.remove('is-loading');
    });
  }

  /** Page and event suggestions for the step fields, from what the tables show. */
  function suggest(pages, events) {
    [['#funnel-pages', pages], ['#funnel-events', events]].forEach(function (p) {
      const dl = $(p[0]);
      dl.textContent = '';
      p[1].slice(0, 100).forEach(function (v) { const o = el('option'); o.value = v; dl.appendChild(o); });
    });
  }

  return {
    /** Shows the funnel of `state` in the form (after a reload or Back). */
    sync: function () { fill(state.funnel); if (!state.funnel) { result.textContent = ''; section.removeAttribute('data-state'); } },
    load: load,
    suggest: suggest,
  };
}
