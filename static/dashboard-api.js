/* Consentry dashboard: the marketer API, same origin, with the dashboard's session cookie
   (HttpOnly, SameSite=Strict; the page never sees it). A 401 means the session ended: the page
   reloads and the server shows the sign-in form. */

const SITE = document.body.getAttribute('data-site');
export const API = '/api/v1/sites/' + encodeURIComponent(SITE) + '/';
export { SITE };

export class ApiError extends Error {
  constructor(status, err) {
    super((err && err.message) || 'The server answered ' + status + '.');
    this.status = status;
    this.code = (err && err.code) || 'http_' + status;
  }
}

function call(method, path, payload) {
  const init = { method: method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (payload !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(payload);
  }
  return fetch(API + path, init).then(function (r) {
    if (r.status === 401) {
      location.reload();
      return new Promise(function () {});
    }
    if (r.status === 204) return null;
    return r.json().catch(function () { return null; }).then(function (j) {
      if (!r.ok) throw new ApiError(r.status, j && j.error);
      return j;
    });
  }, function () {
    throw new ApiError(0, { code: 'network', message: 'The server could not be reached. Check your connection and try again.' });
  });
}

/** POST /query: aggregated stats. */
export function query(body) { return call('POST', 'query', body); }
/** POST /consent-stats: banner decisions. */
export function consentStats(body) { return call('POST', 'consent-stats', body); }
/** POST /funnel: visitors through a sequence of steps. */
export function funnel(body) { return call('POST', 'funnel', body); }

/** GET /detections: cookies and third-party hosts seen on the site's pages that it did not
    declare, or that were seen before their category was granted. */
export function detections(dateRange) {
  const range = Array.isArray(dateRange) ? dateRange.join(',') : dateRange;
  return call('GET', 'detections?date_range=' + encodeURIComponent(range));
}

/** GET /segments: the site's saved segments, each `{name, description, filters}`. */
export function listSegments() {
  return call('GET', 'segments').then(function (j) {
    const list = Array.isArray(j) ? j : (j && j.segments) || [];
    return list.filter(function (s) { return s && typeof s.name === 'string'; });
  });
}
/** PUT /segments/{name}: create (201) or replace (200). */
export function saveSegment(name, filters, description) {
  return call('PUT', 'segments/' + encodeURIComponent(name), { filters: filters, description: description });
}
/** DELETE /segments/{name}: 204. */
export function deleteSegment(name) { return call('DELETE', 'segments/' + encodeURIComponent(name)); }

/** The CSV export of a query body, as a same-origin link (the session cookie goes with it). */
export function csvHref(p) {
  const q = new URLSearchParams();
  q.set('metrics', p.metrics.join(','));
  q.set('date_range', Array.isArray(p.date_range) ? p.date_range.join(',') : p.date_range);
  q.set('dimensions', p.dimensions.join(','));
  if (p.filters && p.filters.length) q.set('filters', JSON.stringify(p.filters));
  if (p.segment) q.set('segment', p.segment);
  q.set('limit', String(p.limit));
  return API + 'export.csv?' + q.toString();
}
