/* Consentry dashboard: what the marketer is looking at, and its place in the URL.

   The view (date range, comparison, filters, segment, funnel) lives in the query string, so a
   reload, a bookmark or a shared link opens the same view, and each change is a step in the
   browser's history (Back undoes a filter). Parameters:
     range=7d | from=YYYY-MM-DD&to=YYYY-MM-DD
     compare=year_over_year | off            (absent: previous_period)
     segment=<name>
     filter=<op>|<dimension>|<value>[|<value>…]   one per filter; `%` and `|` inside a part are
                                                  written %25 and %7C. The old form
                                                  filter=<dimension>|<value> still reads as `is`.
     step=page|/pricing  step=event|signup   window=visit | <N>d      (a funnel, once run) */

import { OPS } from './dashboard-format.js';

export const RANGES = { today: 'Today', '7d': 'Last 7 days', '30d': 'Last 30 days', '12mo': 'Last 12 months' };
export const COMPARES = { previous_period: 'Previous period', year_over_year: 'Same period last year', off: 'No comparison' };
export const MAX_FILTERS = 10;
export const MIN_STEPS = 2;
export const MAX_STEPS = 8;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DIMENSION = /^(event|visit):[a-z_]+(:.{1,100})?$/;
export const SEGMENT_NAME = /^[a-z0-9_-]{1,64}$/;
export const WINDOW = /^(visit|[1-9]\d{0,2}d)$/;

export const state = {
  range: '30d', from: null, to: null,
  compare: 'previous_period',
  segment: null,
  filters: [],
  /** null until a funnel has been asked for: { steps: [{kind: 'page'|'event', value}], window } */
  funnel: null,
};

function esc(s) { return String(s).replace(/%/g, '%25').replace(/\|/g, '%7C'); }
function unesc(s) { try { return decodeURIComponent(s); } catch (e) { return s; } }

function readFilter(s) {
  const parts = s.split('|').map(unesc);
  if (parts.length >= 3 && OPS[parts[0]] && DIMENSION.test(parts[1])) {
    return { op: parts[0], dim: parts[1], values: parts.slice(2) };
  }
  // The first form: `dimension|value` (the value may hold `|`).
  const i = s.indexOf('|');
  if (i > 0 && DIMENSION.test(s.slice(0, i))) return { op: 'is', dim: s.slice(0, i), values: [s.slice(i + 1)] };
  return null;
}

/** Sets `state` from the URL (everything unknown or malformed is left at its default). */
export function readUrl() {
  const q = new URLSearchParams(location.search);
  const r = q.get('range');
  state.range = r && RANGES[r] ? r : '30d';
  state.from = state.to = null;
  const f = q.get('from'), t = q.get('to');
  if (f && t && DATE.test(f) && DATE.test(t)) { state.range = 'custom'; state.from = f; state.to = t; }
  const c = q.get('compare');
  state.compare = c && COMPARES[c] ? c : 'previous_period';
  const seg = q.get('segment');
  state.segment = seg && SEGMENT_NAME.test(seg) ? seg : null;
  state.filters = q.getAll('filter').map(readFilter).filter(Boolean).slice(0, MAX_FILTERS);
  const steps = q.getAll('step').map(function (s) {
    const i = s.indexOf('|'), kind = s.slice(0, i);
    return i > 0 && (kind === 'page' || kind === 'event') && s.length > i + 1 ? { kind: kind, value: s.slice(i + 1) } : null;
  }).filter(Boolean).slice(0, MAX_STEPS);
  const w = q.get('window');
  state.funnel = steps.length >= MIN_STEPS ? { steps: steps, window: w && WINDOW.test(w) ? w : 'visit' } : null;
}

export function urlFor() {
  const q = new URLSearchParams();
  if (state.range === 'custom') { q.set('from', state.from); q.set('to', state.to); } else q.set('range', state.range);
  if (state.compare !== 'previous_period') q.set('compare', state.compare);
  if (state.segment) q.set('segment', state.segment);
  state.filters.forEach(function (f) { q.append('filter', [f.op, f.dim].concat(f.values).map(esc).join('|')); });
  if (state.funnel) {
    state.funnel.steps.forEach(function (s) { q.append('step', s.kind + '|' + s.value); });
    if (state.funnel.window !== 'visit') q.set('window', state.funnel.window);
  }
  return location.pathname + '?' + q.toString();
}

/** Records the view in the URL: `push` makes it a new history entry, `replace` rewrites this one. */
export function writeUrl(mode) {
  const url = urlFor();
  if (mode === 'push' && url !== location.pathname + location.search) history.pushState(null, '', url);
  else if (mode !== 'none') history.replaceState(null, '', url);
}

export function dateRange() { return state.range === 'custom' ? [state.from, state.to] : state.range; }

/** The filters as the API takes them, and the segment, for any query body. */
export function scope(body) {
  body.filters = state.filters.map(function (f) { return [f.op, f.dim, f.values.slice()]; });
  if (state.segment) body.segment = state.segment;
  return body;
}

export function compareParam() { return state.compare === 'off' ? null : state.compare; }

export function timeDim() {
  if (state.range === 'today' || (state.range === 'custom' && state.from === state.to)) return 'time:hour';
  return state.range === '12mo' ? 'time:month' : 'time:day';
}

export function sameFilter(a, b) {
  return a.op === b.op && a.dim === b.dim && a.values.length === b.values.length &&
    a.values.every(function (v, i) { return v === b.values[i]; });
}
