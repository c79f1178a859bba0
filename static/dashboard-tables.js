/* Consentry dashboard: the breakdown tables (pages, entry and exit pages, sources, campaigns,
   countries and regions, technology, conversions, consent).

   A panel (`.panel`) says what it shows in data attributes, and a tab inside it can override
   them for its own view:
     data-dimension         the query's dimensions, comma-separated (regions: country,region)
     data-metrics           the query's metrics, comma-separated
     data-filter-dimension  what a click on a row filters by, when not the first dimension
     data-api="consent-stats"  the consent table: banner decisions, not filtered; with
                            opt_in_rate_low and opt_in_rate_high among the metrics, one
                            column shows the opt-in rate's 95 % interval
     data-empty             what an empty table says instead of "Nothing recorded in this period"
   Every table shows ten rows and a "Show more" button that asks for a hundred. */

import { $, $$, el, announce, fmt, valueLabel, countryName, dimLabel, isPath, METRIC, SHORT } from './dashboard-format.js';
import { query, consentStats, csvHref, SITE } from './dashboard-api.js';
import { dateRange, scope } from './dashboard-state.js';

const FEW = 10;
const MANY = 100;
const CSV_ROWS = 1000;

/** The view a panel shows now: its selected tab's attributes, else its own. */
function view(panel) {
  const tab = $('[role="tab"][aria-selected="true"]', panel);
  const attr = function (name) { return (tab && tab.getAttribute(name)) || panel.getAttribute(name); };
  return {
    dims: attr('data-dimension').split(','),
    metrics: attr('data-metrics').split(','),
    filterDim: attr('data-filter-dimension'),
    empty: attr('data-empty'),
    label: (tab ? tab.textContent : $('h2', panel).textContent).trim(),
  };
}

function isConsent(panel) { return panel.getAttribute('data-api') === 'consent-stats'; }

function payload(panel, limit) {
  const v = view(panel);
  const body = { metrics: v.metrics, date_range: dateRange(), dimensions: v.dims, limit: limit };
  return isConsent(panel) ? Object.assign(body, { filters: [] }) : scope(body);
}

/** A row's label: one dimension's value, or a region with its country. */
function rowLabel(dims, values) {
  if (dims.length === 2 && dims[0] === 'visit:country' && dims[1] === 'visit:region') {
    const region = values[1] === '(none)' ? 'Unknown region' : values[1];
    return region + ', ' + (values[0] === '(none)' ? 'unknown country' : countryName(values[0]));
  }
  return dims.map(function (d, i) { return valueLabel(d, values[i]); }).join(' · ');
}

function header(dims) {
  if (dims.length === 2 && dims[1] === 'visit:region') return 'Region';
  return dims.map(dimLabel).join(' · ');
}

export function createTables(opts) {
  const panels = $$('.panel');

  function render(panel, res, limit) {
    const dims = res.meta.dimensions, metrics = res.meta.metrics, consent = isConsent(panel), v = view(panel);
    const clickable = !consent;
    const lowI = metrics.indexOf('opt_in_rate_low'), highI = metrics.indexOf('opt_in_rate_high');
    const interval = lowI >= 0 && highI >= 0;
    const shown = metrics.filter(function (m, i) { return i !== lowI && i !== highI; });
    const thead = $('thead', panel), tbody = $('tbody', panel);
    thead.textContent = ''; tbody.textContent = '';
    const hr = el('tr');
    const th0 = el('th', 'col-dim', header(dims)); th0.scope = 'col'; hr.appendChild(th0);
    shown.forEach(function (m) {
      const th = el('th', 'num', SHORT[m] || METRIC[m] || m);
      th.scope = 'col';
      if (SHORT[m]) th.title = METRIC[m];
      hr.appendChild(th);
    });
    if (interval) {
      const thi = el('th', 'num', '95% interval');
      thi.scope = 'col';
      thi.title = 'Where the opt-in rate lies with 95% confidence (Wilson score interval): variants whose intervals do not overlap differ';
      hr.appendChild(thi);
    }
    if (consent) { const ths = el('th', 'col-split', 'Split'); ths.scope = 'col'; hr.appendChild(ths); }
    thead.appendChild(hr);

    let max = 0;
    res.results.forEach(function (r) { if (r.metrics[0] > max) max = r.metrics[0]; });
    res.results.forEach(function (r) {
      const values = r.dimensions, label = rowLabel(dims, values);
      const tr = el('tr', clickable ? 'row is-clickable' : 'row');
      tr.setAttribute('data-value', dims.length === 2 && dims[1] === 'visit:region' ? values.join('-') : values.join(' · '));
      const th = el('th', 'cell-dim');
      th.scope = 'row';
      const bar = el('span', 'share');
      bar.setAttribute('aria-hidden', 'true');
      bar.style.width = (max ? Math.max(1, (r.metrics[0] / max) * 100) : 0) + '%';
      th.appendChild(bar);
      let inner;
      if (clickable) {
        const filters = dims.map(function (d, i) { return { op: 'is', dim: i === 0 && v.filterDim ? v.filterDim : d, values: [values[i]] }; });
        inner = el('button', 'row-filter');
        inner.type = 'button';
        inner.appendChild(el('span', 'visually-hidden', 'Filter by '));
        inner.appendChild(document.createTextNode(label));
        inner.addEventListener('click', function (e) { e.stopPropagation(); opts.onFilter(filters, true); });
        tr.addEventListener('click', function () { opts.onFilter(filters, false); });
      } else inner = el('span', 'row-label', label);
      if (isPath(dims[0])) inner.classList.add('mono');
      if (values[values.length - 1] === '(none)') inner.classList.add('is-none');
      inner.title = values.join(' · ');
      th.appendChild(inner);
      tr.appendChild(th);
      metrics.forEach(function (m, i) { if (i !== lowI && i !== highI) tr.appendChild(el('td', 'num', fmt(m, r.metrics[i]))); });
      if (interval) tr.appendChild(el('td', 'num interval', fmt('opt_in_rate', r.metrics[lowI]) + ' – ' + fmt('opt_in_rate', r.metrics[highI])));
      if (consent) {
        const td = el('td', 'col-split');
        const split = el('span', 'split');
        split.setAttribute('aria-hidden', 'true');
        const inI = metrics.indexOf('opt_in_rate'), outI = metrics.indexOf('opt_out_rate');
        const a = el('span', 'split-in'), b = el('span', 'split-out');
        a.style.width = (inI >= 0 ? r.metrics[inI] : 0) + '%';
        b.style.width = (outI >= 0 ? r.metrics[outI] : inI >= 0 ? 100 - r.metrics[inI] : 0) + '%';
        split.appendChild(a); split.appendChild(b);
        td.appendChild(split);
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    });
    const sup = res.meta.suppressed || 0;
    if (!res.results.length) {
      const tr0 = el('tr', 'row-empty');
      const td0 = el('td', 'panel-empty', sup ? 'Every group here has fewer than ' + (res.meta.min_group_size || 5) +
        ' visitors, so none is shown.' : v.empty || 'Nothing recorded in this period.');
      td0.colSpan = shown.length + (interval ? 1 : 0) + (consent ? 2 : 1);
      tr0.appendChild(td0);
      tbody.appendChild(tr0);
    }
    const note = $('.panel-note', panel);
    note.textContent = sup > 0 ? sup + (sup === 1 ? ' small group' : ' small groups') + ' hidden (fewer than ' +
      (res.meta.min_group_size || 5) + ' visitors each)' : '';
    note.hidden = !sup;

    const more = $('.show-more', panel);
    if (more) {
      const expanded = limit > FEW;
      more.hidden = !expanded && res.results.length < limit;
      more.textContent = expanded ? 'Show fewer' : 'Show more';
      more.setAttribute('aria-expanded', String(expanded));
      panel.classList.toggle('is-expanded', expanded);
    }
    panel._last = { dims: dims, results: res.results };
  }

  function load(panel) {
    const limit = panel._expanded ? MANY : FEW;
    const p = payload(panel, limit);
    const csv = $('.csv', panel);
    if (csv) {
      csv.href = csvHref(payload(panel, CSV_ROWS));
      csv.setAttribute('download', SITE + '-' + p.dimensions.join('-').replace(/[^a-z0-9]+/gi, '-') + '.csv');
    }
    const req = panel._req = (panel._req || 0) + 1;
    panel.classList.add('is-loading');
    panel.setAttribute('aria-busy', 'true');
    return (isConsent(panel) ? consentStats(p) : query(p)).then(function (res) {
      if (req === panel._req) render(panel, res, limit);
    }, function (e) {
      if (req !== panel._req) return;
      $('thead', panel).textContent = '';
      const tbody = $('tbody', panel);
      tbody.textContent = '';
      const tr = el('tr'), td = el('td', 'panel-empty', e.message);
      tr.appendChild(td); tbody.appendChild(tr);
      const more = $('.show-more', panel);
      if (more) more.hidden = true;
      panel._last = null;
      opts.onError(e);
    }).then(function () {
      if (req !== panel._req) return;
      panel.classList.remove('is-loading');
      panel.removeAttribute('aria-busy');
    });
  }

  panels.forEach(function (panel) {
    const more = $('.show-more', panel);
    if (more) {
      more.addEventListener('click', function () {
        panel._expanded = !panel._expanded;
        load(panel).then(function () {
          announce(view(panel).label + ': ' + (panel._expanded ? 'showing up to ' + MANY + ' rows' : 'showing the top ' + FEW));
        });
      });
    }
  });

  /* Tabs: pages / entry / exit, countries / regions, browsers / OS / devices. */
  $$('[role="tablist"]').forEach(function (list) {
    const tabs = $$('[role="tab"]', list), panel = list.closest('.panel');
    function select(tab, focus) {
      tabs.forEach(function (t) {
        const on = t === tab;
        t.setAttribute('aria-selected', String(on));
        t.tabIndex = on ? 0 : -1;
      });
      if (focus) tab.focus();
      $('[role="tabpanel"]', panel).setAttribute('aria-labelledby', tab.id);
      load(panel);
    }
    tabs.forEach(function (t, i) {
      t.addEventListener('click', function () { select(t, false); });
      t.addEventListener('keydown', function (e) {
        const k = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
        if (k == null) return;
        e.preventDefault();
        select(tabs[(k + tabs.length) % tabs.length], true);
      });
    });
  });

  return {
    loadAll: function () { return panels.map(load); },
    /** The values a panel showed last for a dimension (suggestions for the editors). */
    valuesOf: function (dim) {
      const out = [];
      panels.forEach(function (p) {
        if (!p._last) return;
        const i = p._last.dims.indexOf(dim);
        if (i >= 0) p._last.results.forEach(function (r) { if (out.indexOf(r.dimensions[i]) < 0) out.push(r.dimensions[i]); });
      });
      return out;
    },
  };
}
