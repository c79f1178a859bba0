/* Consentry dashboard: names, numbers and dates as the dashboard writes them. Pure functions;
   everything is UTC, as the API is. */

export const nf = new Intl.NumberFormat('en');
const nfCompact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });
export const nf1 = new Intl.NumberFormat('en', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
let regionNames = null;
try { regionNames = new Intl.DisplayNames(['en'], { type: 'region' }); } catch (e) { /* old browser */ }

export const METRIC = {
  visitors: 'Visitors', visits: 'Visits', pageviews: 'Pageviews', events: 'Events',
  bounce_rate: 'Bounce rate', visit_duration: 'Visit duration', conversions: 'Conversions',
  conversion_rate: 'Conversion rate', revenue: 'Revenue', decisions: 'Decisions', opt_in_rate: 'Opt-in rate', opt_out_rate: 'Opt-out rate',
};
export const SHORT = { conversions: 'Total', conversion_rate: 'Conv. rate', opt_in_rate: 'Opt-in', opt_out_rate: 'Opt-out', visit_duration: 'Duration' };
export const RATE = { bounce_rate: 1, conversion_rate: 1, opt_in_rate: 1, opt_out_rate: 1 };
export const LOWER_IS_BETTER = { bounce_rate: 1 };

/** Every dimension a filter can use, in the order the filter editor offers them. */
export const FILTER_DIMENSIONS = [
  ['Pages', [['event:page', 'Page'], ['visit:entry_page', 'Entry page'], ['visit:exit_page', 'Exit page']]],
  ['Acquisition', [['visit:source', 'Source'], ['visit:referrer', 'Referrer'], ['visit:utm_source', 'UTM source'],
    ['visit:utm_medium', 'UTM medium'], ['visit:utm_campaign', 'Campaign']]],
  ['Location', [['visit:country', 'Country'], ['visit:region', 'Region']]],
  ['Technology', [['visit:browser', 'Browser'], ['visit:os', 'Operating system'], ['visit:device', 'Device']]],
  ['Events', [['event:goal', 'Goal'], ['event:name', 'Event name']]],
];
export const DIM = { 'consent:jurisdiction': 'Jurisdiction', 'consent:variant': 'Banner variant' };
FILTER_DIMENSIONS.forEach(function (g) { g[1].forEach(function (d) { DIM[d[0]] = d[1]; }); });

/** A dimension's name for people: `event:props:plan` is "Property plan". */
export function dimLabel(dim) {
  if (DIM[dim]) return DIM[dim];
  if (dim.indexOf('event:props:') === 0) return 'Property ' + dim.slice(12);
  return dim;
}

export const OPS = {
  is: 'is', is_not: 'is not', contains: 'contains', matches: 'matches',
};

const JURISDICTION = {
  EEA: 'EU / EEA', UK: 'United Kingdom', CH: 'Switzerland', US: 'United States',
  OTHER: 'Rest of the world', UNKNOWN: 'Unknown location',
};

export function countryName(code) {
  if (regionNames && /^[A-Z]{2}$/.test(code)) {
    try { return regionNames.of(code) || code; } catch (e) { return code; }
  }
  return code;
}

function duration(s) {
  s = Math.round(s || 0);
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + String(s % 60).padStart(2, '0') + 's';
  return Math.floor(s / 3600) + 'h ' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + 'm';
}

/* The site's revenue currency (ISO 4217), when a goal has revenue. */
const CURRENCY = document.body.getAttribute('data-currency');
const money = CURRENCY ? new Intl.NumberFormat('en', { style: 'currency', currency: CURRENCY }) : nf;

export function fmt(metric, v, big) {
  if (v == null) return '–';
  if (RATE[metric]) return nf1.format(v) + '%';
  if (metric === 'revenue') return money.format(v);
  if (metric === 'visit_duration') return duration(v);
  return big && v >= 100000 ? nfCompact.format(v) : nf.format(v);
}

/** A dimension value for people (`DE` is "Germany", `(none)` of a source is "Direct / none"). */
export function valueLabel(dim, v) {
  if (v === '(none)') {
    return {
      'visit:source': 'Direct / none', 'visit:utm_campaign': '(no campaign)', 'visit:country': 'Unknown',
      'visit:region': 'Unknown region', 'consent:variant': 'No variant',
    }[dim] || '(none)';
  }
  if (dim === 'visit:country') return countryName(v);
  if (dim === 'consent:jurisdiction') {
    if (JURISDICTION[v]) return JURISDICTION[v];
    const m = /^US-([A-Z]{2})$/.exec(v);
    if (m) return 'United States – ' + m[1];
  }
  if (dim === 'visit:device' || dim === 'visit:browser' || dim === 'visit:os') return v.charAt(0).toUpperCase() + v.slice(1);
  return v;
}

/** Whether a dimension's values are paths, shown in a monospace font. */
export function isPath(dim) {
  return dim === 'event:page' || dim === 'visit:entry_page' || dim === 'visit:exit_page';
}

/* ---------- dates ---------- */
export const DAY = 86400000;
export function iso(d) { return new Date(d).toISOString().slice(0, 10); }
export function parseDate(s) { return Date.UTC(+s.slice(0, 4), +s.slice(5, 7) - 1, +(s.slice(8, 10) || 1)); }
export function today() { return iso(Date.now()); }
const dFmt = function (o) { return new Intl.DateTimeFormat('en', Object.assign({ timeZone: 'UTC' }, o)); };
const DF = {
  day: dFmt({ month: 'short', day: 'numeric' }),
  dayLong: dFmt({ weekday: 'short', month: 'short', day: 'numeric', year: 'numeric' }),
  month: dFmt({ month: 'short' }),
  monthLong: dFmt({ month: 'long', year: 'numeric' }),
  year: dFmt({ month: 'short', day: 'numeric', year: 'numeric' }),
};

export function rangeText(r) {
  if (!r) return '';
  if (r[0] === r[1]) return DF.dayLong.format(parseDate(r[0]));
  const sameYear = r[0].slice(0, 4) === r[1].slice(0, 4);
  return (sameYear ? DF.day : DF.year).format(parseDate(r[0])) + ' – ' + DF.year.format(parseDate(r[1]));
}

/** Every bucket key of `dim` in the inclusive range, as the API spells them. */
export function buckets(dim, r) {
  const out = [], end = parseDate(r[1]);
  if (dim === 'time:month') {
    let y = +r[0].slice(0, 4), m = +r[0].slice(5, 7);
    const key = r[1].slice(0, 7);
    for (let guard = 0; guard < 40; guard++) {
      const k = y + '-' + String(m).padStart(2, '0');
      out.push(k);
      if (k >= key) break;
      m++; if (m > 12) { m = 1; y++; }
    }
    return out;
  }
  for (let t = parseDate(r[0]); t <= end; t += DAY) {
    if (dim === 'time:day') out.push(iso(t));
    else for (let h = 0; h < 24; h++) out.push(iso(t) + 'T' + String(h).padStart(2, '0') + ':00Z');
  }
  return out;
}

export function bucketLabel(dim, k, long) {
  if (dim === 'time:hour') return long ? DF.dayLong.format(parseDate(k)) + ', ' + k.slice(11, 16) + ' UTC' : k.slice(11, 16);
  if (dim === 'time:month') return long ? DF.monthLong.format(parseDate(k)) : DF.month.format(parseDate(k)) + ' ’' + k.slice(2, 4);
  return (long ? DF.dayLong : DF.day).format(parseDate(k));
}

/* ---------- DOM ---------- */
export const $ = function (sel, root) { return (root || document).querySelector(sel); };
export const $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}
/** Tell screen readers what just changed (the page's polite status region). */
export function announce(text) {
  const s = $('#filter-status');
  s.textContent = '';
  // A fresh node each time, so the same sentence twice is read twice.
  s.appendChild(document.createTextNode(text));
}
