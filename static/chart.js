/* Consentry chart: a small, dependency-free SVG line chart.
   ConsentryChart.line(el, {labels, tips, series: [{name, values, dashed, color, tip, tips}], format, label})
   - labels: x-axis labels; tips: tooltip headings per point (default: labels)
   - series[i].values: numbers (null = no value); color: palette index (class cc-cN); dashed: previous period;
     tip/tips: the name in the tooltip, and a per-point suffix (e.g. the previous period's date)
   - format(v): how values read in the tooltip; label: the chart's accessible summary
   Colours come from CSS (.cc-c0 …); no inline styles beyond CSSOM positioning (strict CSP). */
(function () {
  'use strict';
  var NS = 'http://www.w3.org/2000/svg';
  var FALLBACK = ['#2563eb', '#db2777', '#059669', '#d97706'];
  var uid = 0;

  function node(name, attrs, parent, ns) {
    var e = ns === false ? document.createElement(name) : document.createElementNS(NS, name);
    for (var k in attrs) if (attrs[k] != null) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  var compactFmt = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
  function compact(v) { return compactFmt.format(v); }

  /** About `count` round ticks from 0 to at least `max`. */
  function ticks(max, count) {
    if (!(max > 0)) max = 1;
    var raw = max / count, mag = Math.pow(10, Math.floor(Math.log10(raw))), n = raw / mag;
    var step = (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * mag;
    if (max >= 1 && step < 1) step = 1;
    var out = [];
    for (var v = 0; v < max + step * 0.999; v += step) out.push(Math.round(v * 1e6) / 1e6);
    return out;
  }

  function line(el, opts) {
    var st = el._cc || (el._cc = { hidden: {}, id: ++uid });
    st.opts = opts;
    if (!st.ro && window.ResizeObserver) {
      var last = 0;
      st.ro = new ResizeObserver(function () {
        var w = el.clientWidth;
        if (w && Math.abs(w - last) > 2) { last = w; draw(el); }
      });
      st.ro.observe(el);
    }
    draw(el);
  }

  function draw(el) {
    var st = el._cc, o = st.opts, labels = o.labels || [], n = labels.length;
    var fmt = o.format || function (v) { return v == null ? '–' : String(v); };
    el.textContent = '';
    el.classList.add('cc');

    var legend = node('div', { class: 'cc-legend' }, el, false);
    o.series.forEach(function (s, i) {
      var b = node('button', { type: 'button', class: 'cc-key', 'aria-pressed': String(!st.hidden[i]) }, legend, false);
      node('span', { class: 'cc-swatch cc-c' + (s.color || 0) + (s.dashed ? ' cc-dashed' : ''), 'aria-hidden': 'true' }, b, false);
      b.appendChild(document.createTextNode(s.name));
      b.addEventListener('click', function () {
        st.hidden[i] = !st.hidden[i];
        draw(el);
        el.querySelectorAll('.cc-key')[i].focus();
      });
    });

    var plot = node('div', { class: 'cc-plot' }, el, false);
    var W = Math.max(240, Math.round(plot.clientWidth || el.clientWidth || 600));
    var H = o.height || (W < 500 ? 220 : 280);
    var shown = o.series.filter(function (s, i) { return !st.hidden[i]; });
    var max = 0;
    shown.forEach(function (s) { s.values.forEach(function (v) { if (v > max) max = v; }); });
    var ys = ticks(max, H < 250 ? 4 : 5), top = ys[ys.length - 1];
    var padL = 12 + 7 * Math.max.apply(null, ys.map(function (t) { return compact(t).length; }));
    var padR = 14, padT = 10, padB = 28, pw = W - padL - padR, ph = H - padT - padB;
    var x = function (i) { return padL + (n > 1 ? (i * pw) / (n - 1) : pw / 2); };
    var y = function (v) { return padT + ph - (v / top) * ph; };

    var svg = node('svg', {
      class: 'cc-svg', viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img', tabindex: '0',
      'aria-label': o.label || 'Line chart of ' + o.series.map(function (s) { return s.name; }).join(', '),
      'data-points': n, preserveAspectRatio: 'xMidYMid meet',
    }, plot);

    var grid = node('g', { class: 'cc-grid', 'aria-hidden': 'true' }, svg);
    ys.forEach(function (t) {
      node('line', { x1: padL, x2: W - padR, y1: y(t), y2: y(t), stroke: '#8884' }, grid);
      node('text', { x: padL - 8, y: y(t) + 4, 'text-anchor': 'end', class: 'cc-tick' }, grid).textContent = compact(t);
    });
    var maxLen = Math.max.apply(null, labels.map(function (l) { return String(l).length; }).concat([1]));
    var every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(pw / (maxLen * 7 + 18)))));
    for (var i = 0; i < n; i += every) {
      var anchor = n === 1 ? 'middle' : i === 0 ? 'start' : (i + every >= n && i === n - 1) ? 'end' : 'middle';
      node('text', { x: x(i), y: H - 8, 'text-anchor': anchor, class: 'cc-tick' }, grid).textContent = labels[i];
    }

    var first = -1;
    o.series.forEach(function (s, si) { if (first < 0 && !s.dashed && !st.hidden[si]) first = si; });
    o.series.map(function (s, si) { return si; }).sort(function (a, b) {
      return (o.series[b].dashed ? 1 : 0) - (o.series[a].dashed ? 1 : 0) || a - b;
    }).forEach(function (si) {
      var s = o.series[si];
      if (st.hidden[si]) return;
      var cls = 'cc-c' + (s.color || 0), d = '', area = '', run = [];
      var flush = function () {
        if (!run.length) return;
        d += run.map(function (p, k) { return (k ? 'L' : 'M') + p[0].toFixed(1) + ',' + p[1].toFixed(1); }).join('');
        if (si === first) {
          area += 'M' + run[0][0].toFixed(1) + ',' + y(0) + run.map(function (p) { return 'L' + p[0].toFixed(1) + ',' + p[1].toFixed(1); }).join('') + 'L' + run[run.length - 1][0].toFixed(1) + ',' + y(0) + 'Z';
        }
        run = [];
      };
      s.values.forEach(function (v, k) { if (v == null) flush(); else run.push([x(k), y(v)]); });
      flush();
      if (area) node('path', { d: area, class: 'cc-area ' + cls, fill: FALLBACK[s.color || 0], 'fill-opacity': '0.08' }, svg);
      node('path', {
        d: d, class: 'cc-line ' + cls + (s.dashed ? ' cc-dash' : ''), fill: 'none', stroke: FALLBACK[s.color || 0],
        'stroke-width': 2, 'stroke-dasharray': s.dashed ? '5 4' : null, 'stroke-linejoin': 'round', 'data-points': s.values.filter(function (v) { return v != null; }).length,
      }, svg);
      if (n <= 45 && !s.dashed) {
        s.values.forEach(function (v, k) {
          if (v == null) return;
          var c = node('circle', { cx: x(k), cy: y(v), r: n <= 14 ? 3 : 2, class: 'cc-dot ' + cls, fill: FALLBACK[s.color || 0] }, svg);
          node('title', {}, c).textContent = s.name + ', ' + ((o.tips || labels)[k]) + ': ' + fmt(v);
        });
      }
    });

    var guide = node('line', { class: 'cc-guide', y1: padT, y2: padT + ph, stroke: '#8888', visibility: 'hidden' }, svg);
    var marks = node('g', { class: 'cc-marks' }, svg);
    var tip = node('div', { class: 'cc-tip', 'aria-live': 'polite', hidden: '' }, plot, false);
    var cur = -1;

    function show(i) {
      if (!n) return;
      cur = Math.max(0, Math.min(n - 1, i));
      guide.setAttribute('x1', x(cur));
      guide.setAttribute('x2', x(cur));
      guide.setAttribute('visibility', 'visible');
      marks.textContent = '';
      tip.textContent = '';
      node('div', { class: 'cc-tip-h' }, tip, false).textContent = (o.tips || labels)[cur];
      o.series.forEach(function (s, si) {
        if (st.hidden[si]) return;
        var v = s.values[cur];
        if (v != null) node('circle', { cx: x(cur), cy: y(v), r: 4, class: 'cc-mark cc-c' + (s.color || 0), fill: FALLBACK[s.color || 0] }, marks);
        var row = node('div', { class: 'cc-tip-row' }, tip, false);
        node('span', { class: 'cc-swatch cc-c' + (s.color || 0) + (s.dashed ? ' cc-dashed' : ''), 'aria-hidden': 'true' }, row, false);
        node('span', { class: 'cc-tip-name' }, row, false).textContent = (s.tip || s.name) + (s.tips && s.tips[cur] ? ', ' + s.tips[cur] : '');
        node('strong', {}, row, false).textContent = fmt(v);
      });
      tip.hidden = false;
      var scale = svg.getBoundingClientRect().width / W || 1;
      var px = x(cur) * scale, tw = tip.offsetWidth;
      tip.style.left = Math.max(0, Math.min(plot.clientWidth - tw, px - tw / 2)) + 'px';
      var hi = Math.min.apply(null, o.series.map(function (s, si) { var v = s.values[cur]; return st.hidden[si] || v == null ? H : y(v); }));
      var th = tip.offsetHeight, tp = hi * scale - th - 14;
      tip.style.top = (tp < 0 ? Math.min(hi * scale + 14, plot.clientHeight - th) : tp) + 'px';
    }
    function hide() { cur = -1; tip.hidden = true; guide.setAttribute('visibility', 'hidden'); marks.textContent = ''; }

    svg.addEventListener('pointermove', function (e) {
      var r = svg.getBoundingClientRect();
      var vx = ((e.clientX - r.left) * W) / r.width;
      show(n > 1 ? Math.round(((vx - padL) * (n - 1)) / pw) : 0);
    });
    svg.addEventListener('pointerleave', hide);
    svg.addEventListener('blur', hide);
    svg.addEventListener('focus', function () { show(cur < 0 ? n - 1 : cur); });
    svg.addEventListener('keydown', function (e) {
      var k = { ArrowLeft: cur - 1, ArrowRight: cur + 1, Home: 0, End: n - 1 }[e.key];
      if (e.key === 'Escape') hide();
      else if (k != null) { e.preventDefault(); show(k); }
    });
    return svg;
  }

  window.ConsentryChart = { line: line, ticks: ticks, compact: compact };
})();
