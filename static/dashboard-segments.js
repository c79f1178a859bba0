/* Consentry dashboard: the segment picker. A segment is a named set of filters kept on the
   server for the site; the chosen one goes with every query as `segment` (its filters are
   ANDed with the page's own). The current view can be saved as a segment, and a segment
   deleted. */

import { $, el, announce } from './dashboard-format.js';
import { listSegments, saveSegment, deleteSegment } from './dashboard-api.js';
import { state, SEGMENT_NAME } from './dashboard-state.js';
import { filterText } from './dashboard-filters.js';

function toFilter(f) {
  return Array.isArray(f) && f.length === 3 && Array.isArray(f[2]) ? { op: f[0], dim: f[1], values: f[2].map(String) } : null;
}

function describe(filters) {
  return filters.map(toFilter).filter(Boolean).map(function (f) { const t = filterText(f); return t.head + t.values; }).join(' and ');
}

export function createSegments(opts) {
  const select = $('#segment-select');
  const info = $('#segment-info');
  const del = $('#segment-delete');
  const openBtn = $('#segment-save-open');
  const form = $('#segment-form');
  const nameIn = $('#segment-name'), descIn = $('#segment-description');
  const error = $('#segment-error'), summary = $('#segment-form-summary'), submit = $('#segment-submit');
  let segments = null;   // null: not loaded (or could not be)
  let loadError = null;

  function find(name) {
    return (segments || []).find(function (s) { return s.name === name; }) || null;
  }

  function render() {
    select.textContent = '';
    const none = el('option', null, 'All visitors (no segment)');
    none.value = '';
    select.appendChild(none);
    (segments || []).forEach(function (s) {
      const o = el('option', null, s.name);
      o.value = s.name;
      select.appendChild(o);
    });
    if (state.segment && !find(state.segment)) {
      const o = el('option', null, state.segment + (segments ? ' (not found)' : ''));
      o.value = state.segment;
      select.appendChild(o);
    }
    select.value = state.segment || '';
    const s = find(state.segment);
    del.hidden = !state.segment || !segments;
    info.textContent = '';
    if (loadError) info.textContent = 'Segments could not be loaded: ' + loadError.message;
    else if (s) {
      if (s.description) info.appendChild(el('span', 'segment-desc', s.description));
      const f = describe(s.filters || []);
      if (f) info.appendChild(el('span', 'segment-filters', (s.description ? ' — ' : '') + f));
    }
    info.hidden = !info.textContent;
    if (!form.hidden) syncForm();
  }

  function refresh() {
    return listSegments().then(function (list) {
      segments = list.sort(function (a, b) { return a.name < b.name ? -1 : 1; });
      loadError = null;
      render();
    }, function (e) {
      segments = null;
      loadError = e;
      render();
    });
  }

  select.addEventListener('change', function () {
    state.segment = select.value || null;
    announce(state.segment ? 'Segment ' + state.segment + ' applied' : 'No segment');
    opts.onChange();
  });

  /* ---------- saving ---------- */
  /** What a new segment holds: the chosen segment's filters and the page's own, so it shows this view. */
  function viewFilters() {
    const s = find(state.segment);
    const base = s && Array.isArray(s.filters) ? s.filters.map(function (f) { return [f[0], f[1], f[2].slice()]; }) : [];
    return base.concat(state.filters.map(function (f) { return [f.op, f.dim, f.values.slice()]; }));
  }

  function syncForm() {
    const filters = viewFilters();
    summary.textContent = filters.length
      ? 'It will hold ' + (filters.length === 1 ? 'this filter' : 'these ' + filters.length + ' filters') + ': ' + describe(filters) + '.'
      : 'Add at least one filter first: a segment is a saved set of filters.';
    submit.disabled = !filters.length;
    const exists = find(nameIn.value.trim());
    submit.textContent = exists ? 'Replace segment' : 'Save segment';
    $('#segment-exists').hidden = !exists;
  }

  function problem(text) {
    error.textContent = text;
    error.hidden = !text;
    if (text) { nameIn.setAttribute('aria-invalid', 'true'); nameIn.focus(); } else nameIn.removeAttribute('aria-invalid');
  }

  function closeForm(focus) {
    form.hidden = true;
    openBtn.setAttribute('aria-expanded', 'false');
    if (focus) openBtn.focus();
  }

  openBtn.addEventListener('click', function () {
    if (!form.hidden) return closeForm(true);
    form.hidden = false;
    openBtn.setAttribute('aria-expanded', 'true');
    nameIn.value = '';
    descIn.value = '';
    problem('');
    syncForm();
    nameIn.focus();
  });
  $('#segment-cancel').addEventListener('click', function () { closeForm(true); });
  form.addEventListener('keydown', function (e) { if (e.key === 'Escape') { e.preventDefault(); closeForm(true); } });
  nameIn.addEventListener('input', syncForm);

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    const name = nameIn.value.trim();
    if (!SEGMENT_NAME.test(name)) {
      return problem('A name is 1 to 64 characters: lowercase letters, digits, - and _.');
    }
    const filters = viewFilters();
    if (!filters.length) return;
    problem('');
    submit.disabled = true;
    saveSegment(name, filters, descIn.value.trim()).then(function () {
      state.segment = name;
      state.filters = [];
      closeForm(false);
      return refresh().then(function () {
        announce('Saved segment ' + name + '; it is applied now');
        opts.onChange();
        select.focus();
      });
    }, function (err) {
      submit.disabled = false;
      problem(err.message);
    });
  });

  /* ---------- deleting ---------- */
  del.addEventListener('click', function () {
    const name = state.segment;
    if (!name || !window.confirm('Delete the segment “' + name + '” for everyone using this site’s dashboard?')) return;
    deleteSegment(name).then(function () {
      if (state.segment === name) state.segment = null;
      return refresh().then(function () {
        announce('Deleted segment ' + name);
        opts.onChange();
        select.focus();
      });
    }, opts.onError);
  });

  return { refresh: refresh, render: render };
}
