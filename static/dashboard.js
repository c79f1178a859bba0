/* Consentry marketer dashboard. Talks to the same-origin marketer API with the session cookie.
   No inline script or style: the page's CSP forbids both; positions and widths go through CSSOM.

   Modules (all under /static/, plain ES modules, no build step):
     dashboard-format.js    names, numbers, dates, DOM helpers
     dashboard-state.js     the view (range, comparison, filters, segment, funnel) and the URL
     dashboard-api.js       the API calls
     dashboard-filters.js   filter chips and the filter editor
     dashboard-segments.js  the segment picker
     dashboard-tables.js    the breakdown tables, their tabs and "Show more"
     dashboard-funnel.js    the funnel
   This file: the date and comparison controls, the key figures, the chart, the realtime count,
   and loading everything whenever the view changes. */

import { $, $$, el, nf, nf1, fmt, RATE, LOWER_IS_BETTER, DAY, iso, today, rangeText, buckets, bucketLabel } from './dashboard-format.js';
import { query } from './dashboard-api.js';
import { state, readUrl, writeUrl, dateRange, scope, compareParam, timeDim, RANGES, COMPARES } from './dashboard-state.js';
import { createFilters } from './dashboard-filters.js';
import { createSegments } from './dashboard-segments.js';
import { createTables } from './dashboard-tables.js';
import { createFunnel } from './dashboard-funnel.js';
import { loadDetections } from './dashboard-detections.js';

const body = document.body;

/* ---------- alerts ---------- */
const alertBox = $('#alert');
let alerts = [];
function showError(e) {
  const msg = e && e.message ? e.message : String(e);
  if (alerts.indexOf(msg) >= 0) return;
  alerts.push(msg);
  alertBox.textContent = '';
  alerts.forEach(function (m) { alertBox.appendChild(el('p', null, m)); });
  alertBox.hidden = false;
}
function clearErrors() { alerts = []; alertBox.hidden = true; alertBox.textContent = ''; }

/* ---------- the parts ---------- */
const changed = function () { load('push'); };
const filters = createFilters({ onChange: changed, onError: showError });
const segments = createSegments({ onChange: changed, onError: showError });
const tables = createTables({ onFilter: filters.addFromRow, onError: showError });
const funnel = createFunnel({ onChange: changed, onError: showError });

/* ---------- date range and comparison ---------- */
const fromInput = $('#range-from'), toInput = $('#range-to'), compareSel = $('#compare');
Object.keys(COMPARES).forEach(function (c) {
  const o = el('option', null, COMPARES[c]);
  o.value = c;
  compareSel.appendChild(o);
});

function renderControls() {
  $$('.ranges button').forEach(function (b) { b.setAttribute('aria-pressed', String(b.getAttribute('data-range') === state.range)); });
  $('#custom-range').classList.toggle('is-active', state.range === 'custom');
  const t = today();
  fromInput.max = t; toInput.max = t;
  if (state.range === 'custom') { fromInput.value = state.from; toInput.value = state.to; }
  else if (!fromInput.value) { fromInput.value = iso(Date.now() - 29 * DAY); toInput.value = t; }
  compareSel.value = state.compare;
  filters.render();
  segments.render();
}

$$('.ranges button').forEach(function (b) {
  b.addEventListener('click', function () { state.range = b.getAttribute('data-range'); changed(); });
});
$('#custom-range').addEventListener('submit', function (e) {
  e.preventDefault();
  let f = fromInput.value, t = toInput.value;
  if (!f || !t) return;
  if (f > t) { const x = f; f = t; t = x; }
  state.range = 'custom'; state.from = f; state.to = t;
  changed();
});
compareSel.addEventListener('change', function () { state.compare = compareSel.value; changed(); });

/* ---------- key figures ---------- */
function changeText(metric, cur, prev, change) {
  if (prev == null) return null;
  if (RATE[metric]) {
    const pp = Math.round((cur - prev) * 10) / 10;
    return { delta: pp, text: (pp > 0 ? '+' : pp < 0 ? '−' : '±') + nf1.format(Math.abs(pp)) + ' pp' };
  }
  if (change == null) return cur > 0 ? { delta: 1, text: 'new' } : { delta: 0, text: '±0%' };
  // The arrow and the colour follow the figure shown: a change that rounds to 0 % is flat.
  const c = Math.round(change);
  return { delta: c, text: (c > 0 ? '+' : c < 0 ? '−' : '±') + nf.format(Math.abs(c)) + '%' };
}

function loadKpis(gen) {
  const tiles = $$('.kpi');
  const metrics = tiles.map(function (t) { return t.getAttribute('data-metric'); });
  const compare = compareParam();
  $('#kpis').setAttribute('aria-busy', 'true');
  const q = scope({ metrics: metrics, date_range: dateRange() });
  if (compare) q.compare = compare;
  return query(q).then(function (res) {
    if (gen !== loadGen) return;
    const row = res.results[0] || { metrics: [], comparison: null };
    const got = res.meta.metrics;
    tiles.forEach(function (tile) {
      const m = tile.getAttribute('data-metric'), i = got.indexOf(m);
      const value = $('.kpi-value', tile), ch = $('.kpi-change', tile);
      ch.textContent = '';
      ch.className = 'kpi-change';
      if (i < 0) {
        // Not in the answer (it should always be): say nothing rather than a made-up zero.
        value.textContent = '–';
        value.removeAttribute('data-value');
        return;
      }
      const cur = row.metrics[i] != null ? row.metrics[i] : 0;
      value.textContent = fmt(m, cur, true);
      value.setAttribute('data-value', String(cur));
      const prev = row.comparison ? row.comparison.metrics[i] : null;
      const c = changeText(m, cur, prev, row.comparison ? row.comparison.change[i] : null);
      if (c) {
        const good = LOWER_IS_BETTER[m] ? c.delta < 0 : c.delta > 0;
        ch.classList.add(c.delta === 0 ? 'is-flat' : good ? 'is-good' : 'is-bad');
        const arrow = el('span', null, c.delta > 0 ? '▲ ' : c.delta < 0 ? '▼ ' : '');
        arrow.setAttribute('aria-hidden', 'true');
        ch.appendChild(arrow);
        ch.appendChild(document.createTextNode(c.text));
        ch.appendChild(el('span', 'kpi-vs', ' vs ' + fmt(m, prev)));
      }
    });
    if (state.range !== 'custom' && res.meta.date_range) {
      fromInput.value = res.meta.date_range[0];
      toInput.value = res.meta.date_range[1];
    }
    let cap = rangeText(res.meta.date_range);
    if (res.meta.comparison_range) cap += ' · compared with ' + rangeText(res.meta.comparison_range);
    $('#range-caption').textContent = (RANGES[state.range] ? RANGES[state.range] + ': ' : '') + cap;
  }, function (e) {
    if (gen !== loadGen) return;
    tiles.forEach(function (t) {
      $('.kpi-value', t).textContent = '–';
      $('.kpi-value', t).removeAttribute('data-value');
      $('.kpi-change', t).textContent = '';
    });
    showError(e);
  }).then(function () { $('#kpis').removeAttribute('aria-busy'); });
}

/* ---------- chart ---------- */
const chartEl = $('#chart');
function series(res, keys, dim) {
  const at = {}, vi = res.meta.metrics.indexOf('visitors'), pi = res.meta.metrics.indexOf('pageviews');
  res.results.forEach(function (r) { at[r.dimensions[0]] = r.metrics; });
  const nowKey = dim === 'time:hour' ? new Date().toISOString().slice(0, 13) + ':00Z' : null;
  const pick = function (i) {
    return keys.map(function (k) { return at[k] ? at[k][i] : nowKey && k > nowKey ? null : 0; });
  };
  return { visitors: pick(vi), pageviews: pick(pi) };
}

function loadChart(gen) {
  const dim = timeDim(), compare = compareParam();
  chartEl.setAttribute('aria-busy', 'true');
  chartEl.classList.add('is-loading');
  const base = function (range) { return scope({ metrics: ['visitors', 'pageviews'], date_range: range, dimensions: [dim], limit: 10000 }); };
  const first = base(dateRange());
  if (compare) first.compare = compare;
  return query(first).then(function (cur) {
    const prevRange = cur.meta.comparison_range;
    const prevP = prevRange ? query(base(prevRange)) : Promise.resolve(null);
    return prevP.then(function (prev) { return [cur, prev]; });
  }).then(function (pair) {
    if (gen !== loadGen) return;
    const cur = pair[0], prev = pair[1];
    const keys = buckets(dim, cur.meta.date_range);
    const c = series(cur, keys, dim);
    const prevName = state.compare === 'year_over_year' ? 'last year' : 'previous period';
    const s = [
      { name: 'Visitors', values: c.visitors, color: 0 },
      { name: 'Pageviews', values: c.pageviews, color: 1 },
    ];
    if (prev) {
      const pkeys = buckets(dim, prev.meta.date_range);
      const p = series(prev, pkeys, null);
      const align = function (v) { return keys.map(function (k, i) { return i < v.length ? v[i] : null; }); };
      const ptips = keys.map(function (k, i) { return pkeys[i] ? bucketLabel(dim, pkeys[i], false) : ''; });
      s.push({ name: 'Visitors, ' + prevName, tip: 'Visitors', values: align(p.visitors), color: 0, dashed: true, tips: ptips });
      s.push({ name: 'Pageviews, ' + prevName, tip: 'Pageviews', values: align(p.pageviews), color: 1, dashed: true, tips: ptips });
    }
    const sum = function (v) { return v.reduce(function (a, b) { return a + (b || 0); }, 0); };
    let peak = 0;
    c.visitors.forEach(function (v, i) { if ((v || 0) > (c.visitors[peak] || 0)) peak = i; });
    const unit = { 'time:hour': 'hour', 'time:day': 'day', 'time:month': 'month' }[dim];
    const label = 'Visitors and pageviews per ' + unit + ', ' + rangeText(cur.meta.date_range) + ': ' +
      nf.format(sum(c.visitors)) + ' visitors and ' + nf.format(sum(c.pageviews)) + ' pageviews' +
      (keys.length ? '; busiest ' + unit + ' ' + bucketLabel(dim, keys[peak], true) + ' with ' + nf.format(c.visitors[peak] || 0) + ' visitors' : '') +
      (prev ? '. ' + prevName.charAt(0).toUpperCase() + prevName.slice(1) + ': ' + nf.format(sum(s[2].values)) + ' visitors.' : '.') +
      ' Use the arrow keys to read each ' + unit + '.';
    window.ConsentryChart.line(chartEl, {
      labels: keys.map(function (k) { return bucketLabel(dim, k, false); }),
      tips: keys.map(function (k) { return bucketLabel(dim, k, true); }),
      series: s,
      label: label,
      format: function (v) { return v == null ? '–' : nf.format(v); },
    });
    chartEl.setAttribute('data-dimension', dim);
    if (!sum(c.visitors) && !sum(c.pageviews)) {
      $('.cc-plot', chartEl).appendChild(el('p', 'chart-empty', 'No visits recorded in this period.'));
    }
    const hidden = cur.meta.suppressed || 0;
    $('#chart-note').textContent = 'Per ' + unit + (prev ? '; dashed: ' + prevName : '') +
      (hidden ? '; ' + hidden + ' ' + unit + (hidden === 1 ? '' : 's') + ' with fewer than ' + (cur.meta.min_group_size || 5) + ' visitors hidden' : '');
  }, function (e) {
    if (gen !== loadGen) return;
    chartEl.textContent = '';
    chartEl.appendChild(el('p', 'panel-empty', 'The chart could not be loaded.'));
    showError(e);
  }).then(function () { chartEl.removeAttribute('aria-busy'); chartEl.classList.remove('is-loading'); });
}

/* ---------- realtime ---------- */
const rtEl = $('#realtime-count');
function loadRealtime() {
  if (document.hidden) return;
  query(scope({ metrics: ['visitors'], date_range: 'realtime' })).then(function (res) {
    const v = res.results[0] ? res.results[0].metrics[0] : 0;
    rtEl.textContent = nf.format(v);
    $('#realtime').classList.toggle('is-live', v > 0);
  }, function () { rtEl.textContent = '–'; });
}
setInterval(loadRealtime, 30000);
document.addEventListener('visibilitychange', function () { if (!document.hidden) loadRealtime(); });

/* ---------- everything ---------- */
let loadGen = 0;
/** Loads every part for the view in `state`; `history` is how the URL records it. */
function load(history) {
  const gen = ++loadGen;
  writeUrl(history);
  renderControls();
  clearErrors();
  body.setAttribute('data-loading', 'true');
  const jobs = [loadKpis(gen), loadChart(gen), funnel.load(), loadDetections(dateRange())].concat(tables.loadAll());
  loadRealtime();
  Promise.all(jobs).then(function () {
    if (gen !== loadGen) return;
    funnel.suggest(tables.valuesOf('event:page'), tables.valuesOf('event:name'));
    body.setAttribute('data-loading', 'false');
    body.setAttribute('data-loaded', String(gen));
  });
}

// Back and Forward: the view of that history entry.
window.addEventListener('popstate', function () {
  readUrl();
  filters.close();
  funnel.sync();
  load('none');
});

readUrl();
funnel.sync();
segments.refresh();
load('replace');
