/* Consentry marketer dashboard. Talks to the same-origin query API with the session cookie.
   No inline script or style: the page's CSP forbids both; positions and widths go through CSSOM. */
(function () {
  'use strict';
  var body = document.body;
  var SITE = body.getAttribute('data-site');
  var API = '/api/v1/sites/' + encodeURIComponent(SITE) + '/';
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };

  /* ---------- formatting ---------- */
  var nf = new Intl.NumberFormat('en');
  var nfCompact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });
  var nf1 = new Intl.NumberFormat('en', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  var regionNames = null;
  try { regionNames = new Intl.DisplayNames(['en'], { type: 'region' }); } catch (e) { /* old browser */ }
  var METRIC = {
    visitors: 'Visitors', visits: 'Visits', pageviews: 'Pageviews', events: 'Events',
    bounce_rate: 'Bounce rate', visit_duration: 'Visit duration', conversions: 'Conversions',
    conversion_rate: 'Conversion rate', decisions: 'Decisions', opt_in_rate: 'Opt-in rate', opt_out_rate: 'Opt-out rate',
  };
  var SHORT = { conversions: 'Total', conversion_rate: 'Conv. rate', opt_in_rate: 'Opt-in', opt_out_rate: 'Opt-out', visit_duration: 'Duration' };
  var RATE = { bounce_rate: 1, conversion_rate: 1, opt_in_rate: 1, opt_out_rate: 1 };
  var LOWER_IS_BETTER = { bounce_rate: 1 };
  var DIM = {
    'event:page': 'Page', 'event:name': 'Goal', 'visit:source': 'Source', 'visit:referrer': 'Referrer',
    'visit:utm_source': 'UTM source', 'visit:utm_medium': 'UTM medium', 'visit:utm_campaign': 'Campaign',
    'visit:country': 'Country', 'visit:region': 'Region', 'visit:browser': 'Browser', 'visit:os': 'Operating system',
    'visit:device': 'Device', 'consent:jurisdiction': 'Jurisdiction',
  };
  var JURISDICTION = {
    EEA: 'EU / EEA', UK: 'United Kingdom', CH: 'Switzerland', US: 'United States',
    OTHER: 'Rest of the world', UNKNOWN: 'Unknown location',
  };
  var EVENT_METRICS = ['visitors', 'pageviews', 'events', 'conversions', 'conversion_rate'];

  function duration(s) {
    s = Math.round(s || 0);
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + String(s % 60).padStart(2, '0') + 's';
    return Math.floor(s / 3600) + 'h ' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + 'm';
  }
  function fmt(metric, v, big) {
    if (v == null) return '–';
    if (RATE[metric]) return nf1.format(v) + '%';
    if (metric === 'visit_duration') return duration(v);
    return big && v >= 100000 ? nfCompact.format(v) : nf.format(v);
  }
  function valueLabel(dim, v) {
    if (v === '(none)') {
      return { 'visit:source': 'Direct / none', 'visit:utm_campaign': '(no campaign)', 'visit:country': 'Unknown' }[dim] || '(none)';
    }
    if (dim === 'visit:country' && regionNames && /^[A-Z]{2}$/.test(v)) {
      try { return regionNames.of(v) || v; } catch (e) { return v; }
    }
    if (dim === 'consent:jurisdiction') {
      if (JURISDICTION[v]) return JURISDICTION[v];
      var m = /^US-([A-Z]{2})$/.exec(v);
      if (m) return 'United States – ' + m[1];
    }
    if (dim === 'visit:device' || dim === 'visit:browser' || dim === 'visit:os') return v.charAt(0).toUpperCase() + v.slice(1);
    return v;
  }

  /* ---------- dates (all UTC) ---------- */
  var DAY = 86400000;
  function iso(d) { return new Date(d).toISOString().slice(0, 10); }
  function parse(s) { return Date.UTC(+s.slice(0, 4), +s.slice(5, 7) - 1, +(s.slice(8, 10) || 1)); }
  function today() { return iso(Date.now()); }
  var dFmt = function (o) { return new Intl.DateTimeFormat('en', Object.assign({ timeZone: 'UTC' }, o)); };
  var DF = {
    day: dFmt({ month: 'short', day: 'numeric' }),
    dayLong: dFmt({ weekday: 'short', month: 'short', day: 'numeric', year: 'numeric' }),
    month: dFmt({ month: 'short' }),
    monthLong: dFmt({ month: 'long', year: 'numeric' }),
    year: dFmt({ month: 'short', day: 'numeric', year: 'numeric' }),
  };
  function rangeText(r) {
    if (!r) return '';
    if (r[0] === r[1]) return DF.dayLong.format(parse(r[0]));
    var sameYear = r[0].slice(0, 4) === r[1].slice(0, 4);
    return (sameYear ? DF.day : DF.year).format(parse(r[0])) + ' – ' + DF.year.format(parse(r[1]));
  }

  /** Every bucket key of `dim` in the inclusive range, as the API spells them. */
  function buckets(dim, r) {
    var out = [], t, end = parse(r[1]);
    if (dim === 'time:month') {
      var y = +r[0].slice(0, 4), m = +r[0].slice(5, 7), key = r[1].slice(0, 7);
      for (var guard = 0; guard < 40; guard++) {
        var k = y + '-' + String(m).padStart(2, '0');
        out.push(k);
        if (k >= key) break;
        m++; if (m > 12) { m = 1; y++; }
      }
      return out;
    }
    for (t = parse(r[0]); t <= end; t += DAY) {
      if (dim === 'time:day') out.push(iso(t));
      else for (var h = 0; h < 24; h++) out.push(iso(t) + 'T' + String(h).padStart(2, '0') + ':00Z');
    }
    return out;
  }
  function bucketLabel(dim, k, long) {
    if (dim === 'time:hour') return long ? DF.dayLong.format(parse(k)) + ', ' + k.slice(11, 16) + ' UTC' : k.slice(11, 16);
    if (dim === 'time:month') return long ? DF.monthLong.format(parse(k)) : DF.month.format(parse(k)) + ' ’' + k.slice(2, 4);
    return (long ? DF.dayLong : DF.day).format(parse(k));
  }

  /* ---------- state, kept in the URL ---------- */
  var RANGES = { today: 'Today', '7d': 'Last 7 days', '30d': 'Last 30 days', '12mo': 'Last 12 months' };
  var state = { range: '30d', from: null, to: null, filters: [] };
  (function readUrl() {
    var q = new URLSearchParams(location.search);
    var r = q.get('range');
    if (r && RANGES[r]) state.range = r;
    var f = q.get('from'), t = q.get('to'), re = /^\d{4}-\d{2}-\d{2}$/;
    if (f && t && re.test(f) && re.test(t)) { state.range = 'custom'; state.from = f; state.to = t; }
    q.getAll('filter').forEach(function (s) {
      var i = s.indexOf('|');
      if (i > 0) state.filters.push({ dim: s.slice(0, i), value: s.slice(i + 1) });
    });
  })();
  function writeUrl() {
    var q = new URLSearchParams();
    if (state.range === 'custom') { q.set('from', state.from); q.set('to', state.to); } else q.set('range', state.range);
    state.filters.forEach(function (f) { q.append('filter', f.dim + '|' + f.value); });
    history.replaceState(null, '', location.pathname + '?' + q.toString());
  }
  function dateRange() { return state.range === 'custom' ? [state.from, state.to] : state.range; }
  function apiFilters(extra) {
    return state.filters.map(function (f) { return ['is', f.dim, [f.value]]; }).concat(extra ? [extra] : []);
  }
  function timeDim() {
    if (state.range === 'today' || (state.range === 'custom' && state.from === state.to)) return 'time:hour';
    return state.range === '12mo' ? 'time:month' : 'time:day';
  }

  /* ---------- API ---------- */
  function ApiError(status, err) {
    this.status = status;
    this.code = (err && err.code) || 'http_' + status;
    this.message = (err && err.message) || 'The server answered ' + status + '.';
  }
  function api(kind, payload) {
    return fetch(API + kind, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(payload),
    }).then(function (r) {
      if (r.status === 401) {
        // The session expired or the key was revoked: the page itself now shows the sign-in form.
        location.reload();
        return new Promise(function () {});
      }
      return r.json().catch(function () { return null; }).then(function (j) {
        if (!r.ok) throw new ApiError(r.status, j && j.error);
        return j;
      });
    }, function () { throw new ApiError(0, { code: 'network', message: 'The server could not be reached. Check your connection and try again.' }); });
  }
  /** A query; if the server refuses session metrics with a page/event filter, retry without them. */
  function query(payload) {
    return api('query', payload).catch(function (e) {
      var m = payload.metrics.filter(function (x) { return EVENT_METRICS.indexOf(x) >= 0; });
      if (e.code === 'unsupported_combination' && m.length && m.length < payload.metrics.length) {
        return api('query', Object.assign({}, payload, { metrics: m }));
      }
      throw e;
    });
  }

  /* ---------- alerts ---------- */
  var alertBox = $('#alert'), alerts = [];
  function showError(e) {
    var msg = e && e.message ? e.message : String(e);
    if (alerts.indexOf(msg) >= 0) return;
    alerts.push(msg);
    alertBox.textContent = '';
    alerts.forEach(function (m) { var p = document.createElement('p'); p.textContent = m; alertBox.appendChild(p); });
    alertBox.hidden = false;
  }
  function clearErrors() { alerts = []; alertBox.hidden = true; alertBox.textContent = ''; }

  /* ---------- controls ---------- */
  var fromInput = $('#range-from'), toInput = $('#range-to');
  function renderControls() {
    $$('.ranges button').forEach(function (b) { b.setAttribute('aria-pressed', String(b.getAttribute('data-range') === state.range)); });
    $('#custom-range').classList.toggle('is-active', state.range === 'custom');
    var t = today();
    fromInput.max = t; toInput.max = t;
    if (state.range === 'custom') { fromInput.value = state.from; toInput.value = state.to; }
    else if (!fromInput.value) { fromInput.value = iso(Date.now() - 29 * DAY); toInput.value = t; }

    var chips = $('#filter-chips');
    chips.textContent = '';
    state.filters.forEach(function (f, i) {
      var li = document.createElement('li');
      li.className = 'chip';
      li.setAttribute('data-testid', 'filter-chip');
      li.setAttribute('data-dimension', f.dim);
      var text = (DIM[f.dim] || f.dim) + ' is ' + valueLabel(f.dim, f.value);
      var s = document.createElement('span');
      s.appendChild(document.createTextNode((DIM[f.dim] || f.dim) + ' is '));
      var b = document.createElement('strong');
      b.textContent = valueLabel(f.dim, f.value);
      s.appendChild(b);
      li.appendChild(s);
      var x = document.createElement('button');
      x.type = 'button';
      x.className = 'chip-remove';
      x.setAttribute('aria-label', 'Remove filter: ' + text);
      x.textContent = '×';
      x.addEventListener('click', function () {
        state.filters.splice(i, 1);
        announce('Removed filter ' + text);
        load();
        var next = $('.chip-remove') || $('.ranges button[aria-pressed="true"]');
        if (next) next.focus();
      });
      li.appendChild(x);
      chips.appendChild(li);
    });
    $('#filters').hidden = state.filters.length === 0;
  }
  function announce(text) { $('#filter-status').textContent = text; }

  $$('.ranges button').forEach(function (b) {
    b.addEventListener('click', function () { state.range = b.getAttribute('data-range'); load(); });
  });
  $('#custom-range').addEventListener('submit', function (e) {
    e.preventDefault();
    var f = fromInput.value, t = toInput.value;
    if (!f || !t) return;
    if (f > t) { var x = f; f = t; t = x; }
    state.range = 'custom'; state.from = f; state.to = t;
    load();
  });
  $('#clear-filters').addEventListener('click', function () {
    state.filters = [];
    announce('Filters cleared');
    load();
    $('.ranges button[aria-pressed="true"]').focus();
  });
  function addFilter(dim, value) {
    state.filters = state.filters.filter(function (f) { return f.dim !== dim; });
    state.filters.push({ dim: dim, value: value });
    announce('Filtered by ' + (DIM[dim] || dim) + ' ' + valueLabel(dim, value));
    var fromTable = document.activeElement && document.activeElement.classList.contains('row-filter');
    load();
    // The table is about to be redrawn: keep keyboard focus on the filter just added.
    if (fromTable) $$('.chip-remove')[state.filters.length - 1].focus();
  }

  /* ---------- KPIs ---------- */
  function changeText(metric, cur, prev, change) {
    if (prev == null) return null;
    if (RATE[metric]) {
      var pp = Math.round((cur - prev) * 10) / 10;
      return { delta: pp, text: (pp > 0 ? '+' : pp < 0 ? '−' : '±') + nf1.format(Math.abs(pp)) + ' pp' };
    }
    if (change == null) return cur > 0 ? { delta: 1, text: 'new' } : { delta: 0, text: '±0%' };
    var c = Math.round(change);
    return { delta: change, text: (c > 0 ? '+' : c < 0 ? '−' : '±') + nf.format(Math.abs(c)) + '%' };
  }
  function loadKpis(gen) {
    var tiles = $$('.kpi');
    var metrics = tiles.map(function (t) { return t.getAttribute('data-metric'); });
    $('#kpis').setAttribute('aria-busy', 'true');
    return query({ metrics: metrics, date_range: dateRange(), filters: apiFilters(), compare: 'previous_period' }).then(function (res) {
      if (gen !== loadGen) return;
      var row = res.results[0] || { metrics: [], comparison: null };
      var got = res.meta.metrics;
      tiles.forEach(function (tile) {
        var m = tile.getAttribute('data-metric'), i = got.indexOf(m);
        var value = $('.kpi-value', tile), ch = $('.kpi-change', tile);
        ch.textContent = '';
        ch.className = 'kpi-change';
        if (i < 0) {
          value.textContent = '–';
          ch.textContent = 'n/a with this filter';
          tile.classList.add('is-na');
          return;
        }
        tile.classList.remove('is-na');
        var cur = row.metrics[i] != null ? row.metrics[i] : 0;
        value.textContent = fmt(m, cur, true);
        value.setAttribute('data-value', String(cur));
        var prev = row.comparison ? row.comparison.metrics[i] : null;
        var c = changeText(m, cur, prev, row.comparison ? row.comparison.change[i] : null);
        if (c) {
          var good = LOWER_IS_BETTER[m] ? c.delta < 0 : c.delta > 0;
          ch.classList.add(c.delta === 0 ? 'is-flat' : good ? 'is-good' : 'is-bad');
          var arrow = document.createElement('span');
          arrow.setAttribute('aria-hidden', 'true');
          arrow.textContent = c.delta > 0 ? '▲ ' : c.delta < 0 ? '▼ ' : '';
          ch.appendChild(arrow);
          ch.appendChild(document.createTextNode(c.text));
          var vs = document.createElement('span');
          vs.className = 'kpi-vs';
          vs.textContent = ' vs ' + fmt(m, prev);
          ch.appendChild(vs);
        }
      });
      if (state.range !== 'custom' && res.meta.date_range) {
        fromInput.value = res.meta.date_range[0];
        toInput.value = res.meta.date_range[1];
      }
      var cap = rangeText(res.meta.date_range);
      if (res.meta.comparison_range) cap += ' · compared with ' + rangeText(res.meta.comparison_range);
      $('#range-caption').textContent = (RANGES[state.range] ? RANGES[state.range] + ': ' : '') + cap;
    }, function (e) {
      if (gen !== loadGen) return;
      tiles.forEach(function (t) { $('.kpi-value', t).textContent = '–'; $('.kpi-change', t).textContent = ''; });
      showError(e);
    }).then(function () { $('#kpis').removeAttribute('aria-busy'); });
  }

  /* ---------- chart ---------- */
  var chartEl = $('#chart');
  function series(res, keys, dim) {
    var at = {}, vi = res.meta.metrics.indexOf('visitors'), pi = res.meta.metrics.indexOf('pageviews');
    res.results.forEach(function (r) { at[r.dimensions[0]] = r.metrics; });
    var nowKey = dim === 'time:hour' ? new Date().toISOString().slice(0, 13) + ':00Z' : null;
    var pick = function (i) {
      return keys.map(function (k) { return at[k] ? at[k][i] : nowKey && k > nowKey ? null : 0; });
    };
    return { visitors: pick(vi), pageviews: pick(pi) };
  }
  function loadChart(gen) {
    var dim = timeDim();
    chartEl.setAttribute('aria-busy', 'true');
    chartEl.classList.add('is-loading');
    var base = { metrics: ['visitors', 'pageviews'], dimensions: [dim], filters: apiFilters(), limit: 10000 };
    return query(Object.assign({ date_range: dateRange(), compare: 'previous_period' }, base)).then(function (cur) {
      var prevRange = cur.meta.comparison_range;
      var prevP = prevRange ? query(Object.assign({ date_range: prevRange }, base)) : Promise.resolve(null);
      return prevP.then(function (prev) { return [cur, prev]; });
    }).then(function (pair) {
      if (gen !== loadGen) return;
      var cur = pair[0], prev = pair[1];
      var keys = buckets(dim, cur.meta.date_range);
      var c = series(cur, keys, dim);
      var s = [
        { name: 'Visitors', values: c.visitors, color: 0 },
        { name: 'Pageviews', values: c.pageviews, color: 1 },
      ];
      if (prev) {
        var pkeys = buckets(dim, prev.meta.date_range);
        var p = series(prev, pkeys, null);
        var align = function (v) { return keys.map(function (k, i) { return i < v.length ? v[i] : null; }); };
        var ptips = keys.map(function (k, i) { return pkeys[i] ? bucketLabel(dim, pkeys[i], false) : ''; });
        s.push({ name: 'Visitors, previous period', tip: 'Visitors', values: align(p.visitors), color: 0, dashed: true, tips: ptips });
        s.push({ name: 'Pageviews, previous period', tip: 'Pageviews', values: align(p.pageviews), color: 1, dashed: true, tips: ptips });
      }
      var sum = function (v) { return v.reduce(function (a, b) { return a + (b || 0); }, 0); };
      var peak = 0;
      c.visitors.forEach(function (v, i) { if ((v || 0) > (c.visitors[peak] || 0)) peak = i; });
      var unit = { 'time:hour': 'hour', 'time:day': 'day', 'time:month': 'month' }[dim];
      var label = 'Visitors and pageviews per ' + unit + ', ' + rangeText(cur.meta.date_range) + ': ' +
        nf.format(sum(c.visitors)) + ' visitors and ' + nf.format(sum(c.pageviews)) + ' pageviews' +
        (keys.length ? '; busiest ' + unit + ' ' + bucketLabel(dim, keys[peak], true) + ' with ' + nf.format(c.visitors[peak] || 0) + ' visitors' : '') +
        (prev ? '. Previous period: ' + nf.format(sum(s[2].values)) + ' visitors.' : '.') +
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
        var empty = el('p', 'chart-empty', 'No visits recorded in this period.');
        $('.cc-plot', chartEl).appendChild(empty);
      }
      var hidden = cur.meta.suppressed || 0;
      $('#chart-note').textContent = 'Per ' + unit + (prev ? '; dashed: previous period' : '') +
        (hidden ? '; ' + hidden + ' ' + unit + (hidden === 1 ? '' : 's') + ' with fewer than ' + (cur.meta.min_group_size || 5) + ' visitors hidden' : '');
    }, function (e) {
      if (gen !== loadGen) return;
      chartEl.textContent = '';
      var p = document.createElement('p');
      p.className = 'panel-empty';
      p.textContent = 'The chart could not be loaded.';
      chartEl.appendChild(p);
      showError(e);
    }).then(function () { chartEl.removeAttribute('aria-busy'); chartEl.classList.remove('is-loading'); });
  }

  /* ---------- tables ---------- */
  var panels = $$('.panel');
  function panelPayload(panel, forCsv) {
    var extra = panel.getAttribute('data-fixed-filter');
    var consent = panel.getAttribute('data-api') === 'consent-stats';
    return {
      metrics: panel.getAttribute('data-metrics').split(','),
      date_range: dateRange(),
      dimensions: [panel.getAttribute('data-dimension')],
      filters: consent ? [] : apiFilters(extra ? JSON.parse(extra) : null),
      limit: forCsv ? 1000 : 10,
    };
  }
  function csvHref(p) {
    var q = new URLSearchParams();
    q.set('metrics', p.metrics.join(','));
    q.set('date_range', Array.isArray(p.date_range) ? p.date_range.join(',') : p.date_range);
    q.set('dimensions', p.dimensions.join(','));
    if (p.filters.length) q.set('filters', JSON.stringify(p.filters));
    q.set('limit', String(p.limit));
    return API + 'export.csv?' + q.toString();
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function renderTable(panel, res) {
    var dim = res.meta.dimensions[0], metrics = res.meta.metrics;
    var consent = panel.getAttribute('data-api') === 'consent-stats';
    var clickable = !consent;
    var thead = $('thead', panel), tbody = $('tbody', panel);
    thead.textContent = ''; tbody.textContent = '';
    var hr = el('tr');
    var th0 = el('th', 'col-dim', DIM[dim] || dim); th0.scope = 'col'; hr.appendChild(th0);
    metrics.forEach(function (m) {
      var th = el('th', 'num', SHORT[m] || METRIC[m] || m);
      th.scope = 'col';
      if (SHORT[m]) th.title = METRIC[m];
      hr.appendChild(th);
    });
    if (consent) { var ths = el('th', 'col-split', 'Split'); ths.scope = 'col'; hr.appendChild(ths); }
    thead.appendChild(hr);

    var max = 0;
    res.results.forEach(function (r) { if (r.metrics[0] > max) max = r.metrics[0]; });
    res.results.forEach(function (r) {
      var v = r.dimensions[0], label = valueLabel(dim, v);
      var tr = el('tr', clickable ? 'row is-clickable' : 'row');
      tr.setAttribute('data-value', v);
      var th = el('th', 'cell-dim');
      th.scope = 'row';
      var bar = el('span', 'share');
      bar.setAttribute('aria-hidden', 'true');
      bar.style.width = (max ? Math.max(1, (r.metrics[0] / max) * 100) : 0) + '%';
      th.appendChild(bar);
      var inner;
      if (clickable) {
        inner = el('button', 'row-filter');
        inner.type = 'button';
        inner.appendChild(el('span', 'visually-hidden', 'Filter by '));
        inner.appendChild(document.createTextNode(label));
        inner.addEventListener('click', function (e) { e.stopPropagation(); addFilter(dim, v); });
        tr.addEventListener('click', function () { addFilter(dim, v); });
      } else inner = el('span', 'row-label', label);
      if (dim === 'event:page') inner.classList.add('mono');
      if (v === '(none)') inner.classList.add('is-none');
      inner.title = v;
      th.appendChild(inner);
      tr.appendChild(th);
      metrics.forEach(function (m, i) { tr.appendChild(el('td', 'num', fmt(m, r.metrics[i]))); });
      if (consent) {
        var td = el('td', 'col-split');
        var split = el('span', 'split');
        split.setAttribute('aria-hidden', 'true');
        var inI = metrics.indexOf('opt_in_rate'), outI = metrics.indexOf('opt_out_rate');
        var a = el('span', 'split-in'), b = el('span', 'split-out');
        a.style.width = (inI >= 0 ? r.metrics[inI] : 0) + '%';
        b.style.width = (outI >= 0 ? r.metrics[outI] : 0) + '%';
        split.appendChild(a); split.appendChild(b);
        td.appendChild(split);
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    });
    if (!res.results.length) {
      var tr0 = el('tr', 'row-empty');
      var td0 = el('td', 'panel-empty', 'Nothing recorded in this period.');
      td0.colSpan = metrics.length + (consent ? 2 : 1);
      tr0.appendChild(td0);
      tbody.appendChild(tr0);
    }
    var foot = $('.panel-foot', panel);
    var sup = res.meta.suppressed || 0;
    foot.textContent = sup > 0 ? sup + (sup === 1 ? ' small group' : ' small groups') + ' hidden (fewer than ' +
      (res.meta.min_group_size || 5) + ' visitors each)' : '';
    foot.hidden = !sup;
    foot.setAttribute('data-testid', 'suppressed');
  }
  function loadPanel(panel) {
    var p = panelPayload(panel, false);
    var consent = panel.getAttribute('data-api') === 'consent-stats';
    var csv = $('.csv', panel);
    if (csv) {
      csv.href = csvHref(panelPayload(panel, true));
      csv.setAttribute('download', SITE + '-' + p.dimensions[0].replace(/[^a-z0-9]+/gi, '-') + '.csv');
    }
    var req = panel._req = (panel._req || 0) + 1;
    panel.classList.add('is-loading');
    panel.setAttribute('aria-busy', 'true');
    return (consent ? api('consent-stats', p) : query(p)).then(function (res) {
      if (req === panel._req) renderTable(panel, res);
    }, function (e) {
      if (req !== panel._req) return;
      $('thead', panel).textContent = '';
      var tbody = $('tbody', panel);
      tbody.textContent = '';
      var tr = el('tr'), td = el('td', 'panel-empty', e.message);
      tr.appendChild(td); tbody.appendChild(tr);
      showError(e);
    }).then(function () {
      if (req !== panel._req) return;
      panel.classList.remove('is-loading');
      panel.removeAttribute('aria-busy');
    });
  }

  /* tabs (browsers / OS / devices) */
  $$('[role="tablist"]').forEach(function (list) {
    var tabs = $$('[role="tab"]', list), panel = list.closest('.panel');
    function select(tab, focus) {
      tabs.forEach(function (t) {
        var on = t === tab;
        t.setAttribute('aria-selected', String(on));
        t.tabIndex = on ? 0 : -1;
      });
      if (focus) tab.focus();
      $('[role="tabpanel"]', panel).setAttribute('aria-labelledby', tab.id);
      panel.setAttribute('data-dimension', tab.getAttribute('data-dimension'));
      loadPanel(panel);
    }
    tabs.forEach(function (t, i) {
      t.addEventListener('click', function () { select(t, false); });
      t.addEventListener('keydown', function (e) {
        var k = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
        if (k == null) return;
        e.preventDefault();
        select(tabs[(k + tabs.length) % tabs.length], true);
      });
    });
  });

  /* ---------- realtime ---------- */
  var rtEl = $('#realtime-count');
  function loadRealtime() {
    if (document.hidden) return;
    query({ metrics: ['visitors'], date_range: 'realtime', filters: apiFilters() }).then(function (res) {
      var v = res.results[0] ? res.results[0].metrics[0] : 0;
      rtEl.textContent = nf.format(v);
      $('#realtime').classList.toggle('is-live', v > 0);
    }, function () { rtEl.textContent = '–'; });
  }
  setInterval(loadRealtime, 30000);
  document.addEventListener('visibilitychange', function () { if (!document.hidden) loadRealtime(); });

  /* ---------- everything ---------- */
  var loadGen = 0;
  function load() {
    var gen = ++loadGen;
    writeUrl();
    renderControls();
    clearErrors();
    body.setAttribute('data-loading', 'true');
    var jobs = [loadKpis(gen), loadChart(gen)].concat(panels.map(function (p) { return loadPanel(p); }));
    loadRealtime();
    Promise.all(jobs).then(function () {
      if (gen === loadGen) { body.setAttribute('data-loading', 'false'); body.setAttribute('data-loaded', String(gen)); }
    });
  }
  load();
})();
