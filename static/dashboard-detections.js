/* Consentry dashboard: the "Undeclared cookies and trackers" card. What the banner saw on the
   site's pages (cookie names and third-party hosts, never values) that the site did not declare,
   or that was seen while its category was not granted; each with the catalogue's suggestion and,
   behind "Declare", the settings lines that would declare it. */

import { $, el, nf, fmt } from './dashboard-format.js';
import { detections } from './dashboard-api.js';

function categoryCell(f) {
  const td = el('td');
  const s = f.suggestion;
  if (f.declared_in) td.textContent = f.declared_in.category + ' (declared: ' + f.declared_in.service + ')';
  else if (s) td.textContent = s.category + ' – ' + s.platform;
  else td.textContent = 'unknown';
  if (s && s.description) td.title = s.description;
  return td;
}

function nameCell(f) {
  const th = el('th', 'cell-dim');
  th.scope = 'row';
  th.appendChild(el('span', 'mono', f.name));
  th.appendChild(el('span', 'kind', f.kind === 'cookie' ? ' cookie' : ' script or frame host'));
  if (f.declare) {
    const d = el('details', 'declare');
    d.appendChild(el('summary', '', 'Declare'));
    d.appendChild(el('pre', 'mono', f.declare));
    th.appendChild(d);
  }
  return th;
}

function row(f) {
  const tr = el('tr', 'row' + (f.violation ? ' is-violation' : ''));
  tr.setAttribute('data-name', f.name);
  tr.appendChild(nameCell(f));
  tr.appendChild(categoryCell(f));
  tr.appendChild(el('td', 'num', nf.format(f.reports)));
  tr.appendChild(el('td', 'mono', f.pages.slice(0, 3).join(' ') + (f.pages.length > 3 ? ' …' : '')));
  tr.appendChild(el('td', f.violation ? 'flag' : '', f.violation
    ? 'Flagged: seen on ' + nf.format(f.unconsented_reports) + ' page ' + (f.unconsented_reports === 1 ? 'view' : 'views') + ' without consent'
    : 'No'));
  return tr;
}

/** Loads the card for a date range (as the query API writes one). */
export function loadDetections(range) {
  const card = $('#detections');
  if (!card) return Promise.resolve();
  const tbody = $('tbody', card), note = $('#detections-note');
  return detections(range).then(function (res) {
    tbody.textContent = '';
    res.findings.forEach(function (f) { tbody.appendChild(row(f)); });
    const flagged = res.findings.filter(function (f) { return f.violation; }).length;
    if (!res.detection) note.textContent = 'Detection is off for this site (detect = false in its settings).';
    else if (!res.findings.length) note.textContent = 'Nothing undeclared was seen in this period.';
    else note.textContent = fmt('visitors', res.findings.length) + ' found, ' + fmt('visitors', flagged) + ' flagged.';
  }, function (e) {
    tbody.textContent = '';
    note.textContent = 'The report could not be loaded: ' + e.message;
  });
}
