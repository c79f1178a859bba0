// Browser tests of the marketer dashboard (/dashboard/{site}): sign-in with an API key, the
// session cookie, the chart, KPIs and tables over demo data, the date range, filtering by
// clicking rows, CSV export, session expiry, accessibility, phone and dark layouts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, runCli, openBrowser, axeSerious, artifacts } from './helpers.mjs';

const SITE = 'demo';
let server;
let dataDir;
let key;
let keyId;

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'consentry-dashboard-'));
  const demo = await runCli(['demo-data', '--site', SITE, '--events', '3000', '--days', '40', '--data-dir', dataDir]);
  assert.equal(demo.code, 0, `demo-data failed:\n${demo.stdout}\n${demo.stderr}`);
  const created = await runCli(['keys', 'create', '--site', SITE, '--data-dir', dataDir]);
  assert.equal(created.code, 0, `keys create failed:\n${created.stderr}`);
  const lines = created.stdout.trim().split('\n');
  const last = lines[lines.length - 1].match(/^key: (\S+)$/);
  assert.ok(last, `the last line of keys create is the key: ${created.stdout}`);
  key = last[1];
  keyId = (created.stdout.match(/^id: (\S+)$/m) || [])[1];
  assert.ok(keyId, `keys create prints the key id: ${created.stdout}`);
  server = await startServer({ dataDir });
});

after(async () => {
  await server?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const dashboardUrl = () => `${server.url}/dashboard/${SITE}`;

/** Every Content-Security-Policy violation the page reports (inline script or style, elsewhere). */
const CSP_WATCH = `window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));`;

async function withPage(options, fn) {
  const b = await openBrowser(options, CSP_WATCH);
  try {
    await fn(b);
    assert.deepEqual(b.errors.map(String), [], 'the page threw');
    if (!b.page.isClosed() && b.page.url().startsWith(server.url)) {
      assert.deepEqual(await b.page.evaluate(() => window.__csp || []), [], 'no CSP violation');
    }
    const foreign = b.requests.filter((r) => !r.url.startsWith(server.url) && !r.url.startsWith('data:'));
    assert.deepEqual(foreign, [], 'nothing is loaded from elsewhere');
  } finally {
    await b.close();
  }
}

/** The bodies of the requests to `/api/v1/sites/demo/{kind}` made since `from`. */
const sentTo = (requests, kind, from = 0) => requests.slice(from)
  .filter((r) => new URL(r.url).pathname === `/api/v1/sites/${SITE}/${kind}` && r.body)
  .map((r) => JSON.parse(r.body));

/** The number of completed full loads (every panel), as the page counts them. */
const loadedGen = (page) => page.evaluate(() => Number(document.body.getAttribute('data-loaded') || 0));

/** Run `action` and wait until the dashboard has finished the full load it starts. */
async function reloadsAfter(page, action) {
  const before = await loadedGen(page);
  await action();
  await page.waitForFunction(
    (g) => Number(document.body.getAttribute('data-loaded') || 0) > g && document.body.getAttribute('data-loading') === 'false',
    before,
    { timeout: 15000 },
  );
}

async function signIn(page, withKey = key) {
  await page.goto(dashboardUrl());
  await page.locator('#key').fill(withKey);
  await Promise.all([page.waitForNavigation(), page.locator('form[data-testid="signin-form"] button[type="submit"]').click()]);
}

async function waitDashboard(page) {
  await page.locator('body.dash').waitFor({ timeout: 10000 });
  await page.waitForFunction(() => document.body.getAttribute('data-loading') === 'false' && document.body.getAttribute('data-loaded'), null, { timeout: 15000 });
}

const chartPoints = (page) => page.locator('#chart svg.cc-svg').getAttribute('data-points').then(Number);
const kpi = (page, metric) => page.locator(`.kpi[data-metric="${metric}"] .kpi-value`).getAttribute('data-value').then(Number);
const rows = (page, panel) => page.locator(`#panel-${panel} tbody tr.row`);

test('a wrong key shows an error and opens no session', async () => {
  await withPage({}, async ({ page, context }) => {
    const first = await page.goto(dashboardUrl());
    assert.equal(first.status(), 200);
    assert.equal(await page.locator('label[for="key"]').textContent(), 'API key');
    assert.equal(await page.locator('#key').getAttribute('type'), 'password');
    assert.match(await page.locator('.signin-help').textContent(), /consentry keys create --site demo/);
    assert.equal(await page.locator('[data-testid="signin-error"]').count(), 0, 'no error before a try');

    await page.locator('#key').fill('cs_not_a_real_key');
    const [res] = await Promise.all([
      page.waitForNavigation(),
      page.locator('form[data-testid="signin-form"] button[type="submit"]').click(),
    ]);
    assert.equal(res.status(), 401);
    const error = page.locator('[data-testid="signin-error"]');
    await error.waitFor({ state: 'visible' });
    assert.ok((await error.textContent()).trim().length > 0, 'the error says something');
    assert.equal(await page.locator('#key').getAttribute('aria-invalid'), 'true');
    await page.screenshot({ path: path.join(artifacts, 'dashboard-signin.png') });
    assert.equal((await context.cookies()).find((c) => c.name === 'consentry_dashboard'), undefined, 'no session cookie');
    const axe = await axeSerious(page, 'body');
    assert.deepEqual(axe, [], `sign-in page: ${JSON.stringify(axe, null, 1)}`);
  });
});

test('signing in opens the dashboard; charts, KPIs, tables, range, filters, CSV and sign-out work', async () => {
  await withPage({ viewport: { width: 1280, height: 900 } }, async ({ page, context, requests }) => {
    const t0 = Date.now();
    await signIn(page);
    await waitDashboard(page);

    // The session cookie: HttpOnly, SameSite=Strict, expiring (8 h), invisible to scripts.
    const cookie = (await context.cookies()).find((c) => c.name === 'consentry_dashboard');
    assert.ok(cookie, 'the session cookie is set');
    assert.equal(cookie.httpOnly, true, 'HttpOnly');
    assert.equal(cookie.sameSite, 'Strict', 'SameSite=Strict');
    assert.equal(cookie.path, '/');
    assert.ok(cookie.expires > 0, 'not a browser-session cookie: it expires');
    const hours = (cookie.expires * 1000 - t0) / 3600000;
    assert.ok(hours > 7.9 && hours < 8.1, `expires in about 8 hours, not ${hours.toFixed(2)}`);
    assert.ok(!(await page.evaluate(() => document.cookie)).includes('consentry_dashboard'), 'scripts cannot read it');

    assert.equal(await page.locator('[data-testid="key-id"]').textContent(), keyId);
    assert.equal(await page.locator('.ranges button[aria-pressed="true"]').getAttribute('data-range'), '30d');

    // KPIs: real numbers from the demo data.
    for (const m of ['visitors', 'visits', 'pageviews', 'conversions']) {
      assert.ok((await kpi(page, m)) > 0, `${m} is non-zero`);
    }
    assert.ok((await kpi(page, 'visit_duration')) > 0, 'visit duration is non-zero');
    assert.match(await page.locator('[data-testid="range-caption"]').textContent(), /compared with/);
    assert.ok((await page.locator('.kpi[data-metric="visitors"] .kpi-change').textContent()).trim().length > 0, 'a change vs the previous period');

    // The chart: one point per day, four lines (this period and the previous, dashed).
    assert.equal(await chartPoints(page), 30, '30 daily points');
    assert.equal(await page.locator('#chart .cc-line').count(), 4);
    assert.equal(await page.locator('#chart .cc-line.cc-dash').count(), 2);
    const d = await page.locator('#chart .cc-line:not(.cc-dash)').first().getAttribute('d');
    assert.ok((d.match(/[ML]/g) || []).length >= 30, `the visitors line has its points: ${d.slice(0, 80)}…`);
    assert.ok(Number(await page.locator('#chart .cc-line:not(.cc-dash)').first().getAttribute('data-points')) === 30);
    assert.match(await page.locator('#chart svg').getAttribute('aria-label'), /visitors/);
    assert.equal(await page.locator('#chart svg').getAttribute('role'), 'img');
    // A tooltip on hover.
    const box = await page.locator('#chart svg').boundingBox();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
    await page.locator('#chart .cc-tip').waitFor({ state: 'visible' });
    assert.match(await page.locator('#chart .cc-tip').textContent(), /Visitors/);
    // The legend hides and shows a series; the keyboard reads points.
    await page.locator('#chart .cc-key', { hasText: /^Pageviews$/ }).click();
    assert.equal(await page.locator('#chart .cc-line').count(), 3);
    assert.equal(await page.locator('#chart .cc-key', { hasText: /^Pageviews$/ }).getAttribute('aria-pressed'), 'false');
    await page.keyboard.press('Enter');
    assert.equal(await page.locator('#chart .cc-line').count(), 4);
    await page.locator('#chart svg').focus();
    await page.keyboard.press('Home');
    assert.match(await page.locator('#chart .cc-tip').textContent(), /^[A-Z][a-z]{2}, /, 'the first day in the tooltip');

    // Tables.
    for (const p of ['pages', 'sources', 'countries', 'tech', 'conversions', 'consent']) {
      assert.ok((await rows(page, p).count()) > 0, `${p} has rows`);
    }
    assert.ok(!(await page.locator('#panel-conversions tbody').textContent()).includes('pageview'), 'conversions exclude pageviews');
    const rates = await page.locator('#panel-conversions tbody tr.row td:nth-of-type(3)').allTextContents();
    assert.ok(rates.length > 0 && rates.every((r) => parseFloat(r) > 0 && parseFloat(r) < 100),
      `a goal's conversion rate is its share of all visitors: ${rates}`);
    const convBody = requests.map((r) => r.body).find((b) => b && b.includes('"dimensions":["event:goal"]'));
    assert.ok(convBody && convBody.includes('"revenue"') && !convBody.includes('is_not'),
      'the conversions panel groups by goal, with revenue (the demo site has a revenue goal), and no filter of its own');
    const goalNames = await page.locator('#panel-conversions tbody tr.row').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-value')));
    assert.ok(goalNames.length > 0 && goalNames.every((n) => ['Sign-up', 'Purchase', 'Visited pricing'].includes(n)),
      `the conversions panel lists the demo site's goals, not event names: ${goalNames}`);
    assert.match(await page.locator('#panel-conversions tbody').textContent(), /€/, 'revenue is shown in the site currency');
    await page.locator('#tab-device').click();
    await page.waitForFunction(() => !document.querySelector('#panel-tech').hasAttribute('aria-busy'));
    assert.equal(await page.locator('#panel-tech thead th').first().textContent(), 'Device');
    assert.ok((await rows(page, 'tech').count()) > 0, 'devices have rows');
    assert.notEqual(await page.locator('[data-testid="realtime-count"]').textContent(), '–', 'the realtime count loaded');
    assert.equal(await page.locator('#detections-note').textContent(), 'Nothing undeclared was seen in this period.',
      'the detection card loaded (demo data holds no sightings)');
    assert.equal(await page.locator('[data-testid="alert"]').isVisible(), false, 'no error shown');

    await page.mouse.move(0, 0);
    await page.screenshot({ path: path.join(artifacts, 'dashboard.png'), fullPage: true });

    // CSV export with the same parameters, through the session.
    const csvHref = await page.locator('#panel-countries a.csv').getAttribute('href');
    assert.match(csvHref, /\/api\/v1\/sites\/demo\/export\.csv\?/);
    const csv = await page.request.get(server.url + csvHref);
    assert.equal(csv.status(), 200, await csv.text());
    assert.match(csv.headers()['content-type'], /text\/csv/);
    assert.match((await csv.text()).split('\n')[0], /^"?visit:country"?,"?visitors"?,"?pageviews"?/);

    // Last 7 days: the chart re-renders with 7 points.
    const visitors30 = await kpi(page, 'visitors');
    await reloadsAfter(page, () => page.locator('.ranges button[data-range="7d"]').click());
    assert.equal(await chartPoints(page), 7, '7 daily points');
    assert.equal(await page.locator('.ranges button[aria-pressed="true"]').getAttribute('data-range'), '7d');
    assert.ok((await kpi(page, 'visitors')) < visitors30, 'fewer visitors in 7 days than in 30');
    assert.match(page.url(), /range=7d/);
    assert.match(await page.locator('#panel-countries a.csv').getAttribute('href'), /date_range=7d/);

    // Today: hourly.
    await reloadsAfter(page, () => page.locator('.ranges button[data-range="today"]').click());
    assert.equal(await chartPoints(page), 24, '24 hourly points');
    // Last 12 months: monthly.
    await reloadsAfter(page, () => page.locator('.ranges button[data-range="12mo"]').click());
    const months = await chartPoints(page);
    assert.ok(months >= 12 && months <= 13, `12 or 13 monthly points, not ${months}`);
    // A custom range of 14 days.
    const day = (n) => new Date(Date.now() - n * 86400000).toISOString().slice(0, 10);
    await page.locator('#range-from').fill(day(13));
    await page.locator('#range-to').fill(day(0));
    await reloadsAfter(page, () => page.locator('#custom-range button[type="submit"]').click());
    assert.equal(await chartPoints(page), 14, '14 daily points');
    assert.equal(await page.locator('.ranges button[aria-pressed="true"]').count(), 0);
    await reloadsAfter(page, () => page.locator('.ranges button[data-range="30d"]').click());

    // Clicking a country filters everything by it.
    const total = await kpi(page, 'visitors');
    const country = rows(page, 'countries').first();
    const code = await country.getAttribute('data-value');
    const name = (await country.locator('.row-filter').textContent()).replace(/^Filter by /, '');
    const queriesBefore = requests.length;
    await reloadsAfter(page, () => country.locator('td').first().click());
    const chip = page.locator('[data-testid="filter-chip"]');
    assert.equal(await chip.count(), 1);
    assert.match(await chip.textContent(), new RegExp(`Country is ${name}`));
    const filtered = await kpi(page, 'visitors');
    assert.ok(filtered > 0 && filtered < total, `filtered visitors ${filtered} < ${total}`);
    assert.deepEqual(
      await rows(page, 'countries').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-value'))),
      [code],
      'the countries table shows only that country',
    );
    const sent = requests.slice(queriesBefore).filter((r) => /\/query$/.test(r.url)).map((r) => JSON.parse(r.body));
    assert.ok(sent.length >= 5 && sent.every((b) => JSON.stringify(b.filters).includes(JSON.stringify(['is', 'visit:country', [code]]))),
      'every query carries the filter');
    assert.match(await page.locator('#panel-pages a.csv').getAttribute('href'), /filters=/);

    // Enter on a row (the row's button) adds a second filter.
    await rows(page, 'sources').first().locator('.row-filter').focus();
    await reloadsAfter(page, () => page.keyboard.press('Enter'));
    assert.equal(await chip.count(), 2);
    assert.ok((await kpi(page, 'visitors')) <= filtered);
    await page.screenshot({ path: path.join(artifacts, 'dashboard-filtered.png') });

    // Removing a chip removes its filter.
    await reloadsAfter(page, () => chip.first().locator('.chip-remove').click());
    assert.equal(await chip.count(), 1);
    assert.doesNotMatch(await chip.textContent(), /Country/);
    await reloadsAfter(page, () => page.locator('#clear-filters').click());
    assert.equal(await chip.count(), 0);
    assert.equal(await kpi(page, 'visitors'), total, 'back to the unfiltered numbers');

    const axe = await axeSerious(page, 'body');
    assert.deepEqual(axe, [], `light dashboard: ${JSON.stringify(axe, null, 1)}`);

    // Signing out clears the session and shows the sign-in form again.
    await Promise.all([page.waitForNavigation(), page.locator('[data-testid="signout"]').click()]);
    await page.locator('#key').waitFor();
    assert.equal((await context.cookies()).find((c) => c.name === 'consentry_dashboard' && c.value), undefined, 'cookie cleared');
    const api = await page.request.post(`${server.url}/api/v1/sites/${SITE}/query`, { data: { metrics: ['visitors'], date_range: '7d' } });
    assert.equal(api.status(), 401, 'the API refuses without the session');
  });
});

test('an expired session sends the dashboard back to the sign-in form', async () => {
  await withPage({}, async ({ page, context }) => {
    await signIn(page);
    await waitDashboard(page);
    await context.clearCookies();
    await Promise.all([page.waitForNavigation(), page.locator('.ranges button[data-range="7d"]').click()]);
    await page.locator('#key').waitFor({ state: 'visible' });
  });
});

test('API errors are shown with their message', async () => {
  await withPage({}, async ({ page }) => {
    await signIn(page);
    await waitDashboard(page);
    // A range longer than the API allows (400 range_too_long).
    await page.locator('#range-from').fill('2020-01-01');
    await page.locator('#range-to').fill(new Date().toISOString().slice(0, 10));
    await page.locator('#custom-range button[type="submit"]').click();
    const alert = page.locator('[data-testid="alert"]');
    await alert.waitFor({ state: 'visible' });
    assert.ok((await alert.textContent()).trim().length > 5, 'the message from the server');
  });
});

test('dark mode: readable and without serious axe violations', async () => {
  await withPage({ viewport: { width: 1280, height: 900 }, colorScheme: 'dark' }, async ({ page }) => {
    await signIn(page);
    await waitDashboard(page);
    assert.ok((await chartPoints(page)) > 0);
    await page.screenshot({ path: path.join(artifacts, 'dashboard-dark.png'), fullPage: true });
    const axe = await axeSerious(page, 'body');
    assert.deepEqual(axe, [], `dark dashboard: ${JSON.stringify(axe, null, 1)}`);
  });
});

test('a phone screen gets a single column without sideways scrolling', async () => {
  await withPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }, async ({ page }) => {
    await signIn(page);
    await waitDashboard(page);
    assert.ok((await chartPoints(page)) > 0);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    const [a, b] = await Promise.all([page.locator('#panel-pages').boundingBox(), page.locator('#panel-sources').boundingBox()]);
    assert.ok(b.y >= a.y + a.height, 'panels stack in one column');
    await page.screenshot({ path: path.join(artifacts, 'dashboard-phone.png') });
    // Tapping a row filters too.
    await reloadsAfter(page, () => rows(page, 'countries').first().locator('.row-filter').tap());
    assert.equal(await page.locator('[data-testid="filter-chip"]').count(), 1);
    const axe = await axeSerious(page, 'body');
    assert.deepEqual(axe, [], `phone dashboard: ${JSON.stringify(axe, null, 1)}`);
  });
});

/* ---------- analytics v2 in the dashboard ---------- */

const chips = (page) => page.locator('[data-testid="filter-chip"]');
const chipTexts = (page) => chips(page).evaluateAll((els) => els.map((e) => e.querySelector('.chip-edit').textContent));
const alertText = async (page) => ((await page.locator('[data-testid="alert"]').isVisible()) ? page.locator('[data-testid="alert"]').textContent() : '');
const rowValues = (page, panel) => rows(page, panel).evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-value')));

/** Adds a filter through the editor, as a user would, and waits for the reload. */
async function addFilter(page, dim, op, values) {
  await page.locator('[data-testid="add-filter"]').click();
  await page.locator('#fe-dim').selectOption(dim);
  await page.locator('#fe-op').selectOption(op);
  for (let i = 0; i < values.length; i++) {
    if (i) await page.locator('#fe-add-value').click();
    await page.locator(`#fe-value-${i + 1}`).fill(values[i]);
  }
  await reloadsAfter(page, () => page.locator('#fe-submit').click());
}

/** Every KPI tile shows a number (none blank or "n/a"), and no error is shown. */
async function everyPanelAnswered(page, what) {
  assert.equal(await alertText(page), '', `${what}: no error shown`);
  for (const m of ['visitors', 'visits', 'pageviews', 'bounce_rate', 'visit_duration', 'conversions']) {
    const v = await page.locator(`.kpi[data-metric="${m}"] .kpi-value`).getAttribute('data-value');
    assert.ok(v !== null && Number.isFinite(Number(v)), `${what}: ${m} has a value, not ${v}`);
  }
  assert.ok((await chartPoints(page)) > 0, `${what}: the chart is drawn`);
  for (const p of ['pages', 'sources', 'campaigns', 'countries', 'tech', 'conversions', 'consent']) {
    assert.equal(await page.locator(`#panel-${p} tbody .panel-empty`).filter({ hasText: /could not|error|refused|expensive/i }).count(), 0,
      `${what}: ${p} shows no error`);
  }
}

test('every panel answers under several filters at once, each query carrying all of them', async () => {
  await withPage({ viewport: { width: 1280, height: 900 } }, async ({ page, requests }) => {
    await signIn(page);
    await waitDashboard(page);
    const total = await kpi(page, 'visitors');
    const from = requests.length;
    await addFilter(page, 'event:page', 'contains', ['/']);
    await addFilter(page, 'visit:source', 'is_not', ['(none)']);
    const country = rows(page, 'countries').first();
    const code = await country.getAttribute('data-value');
    const name = (await country.locator('.row-filter').textContent()).replace(/^Filter by /, '');
    await reloadsAfter(page, () => country.locator('.row-filter').click());
    assert.deepEqual(await chipTexts(page), ['Page contains /', 'Source is not Direct / none', `Country is ${name}`]);
    await everyPanelAnswered(page, 'three filters');
    const filtered = await kpi(page, 'visitors');
    assert.ok(filtered > 0 && filtered < total, `filtered visitors ${filtered} < ${total}`);

    const want = [['contains', 'event:page', ['/']], ['is_not', 'visit:source', ['(none)']], ['is', 'visit:country', [code]]];
    const last = sentTo(requests, 'query', from).filter((b) => b.date_range !== 'realtime' && b.filters.length === 3);
    assert.ok(last.length >= 9, `the KPIs, the chart and every table asked with the three filters (${last.length})`);
    for (const b of last) assert.deepEqual(b.filters, want, `every query carries every filter: ${JSON.stringify(b)}`);
    // The key figures are asked once, with all their metrics: no retry without some of them.
    const kpiQueries = sentTo(requests, 'query', from).filter((b) => !b.dimensions && b.date_range !== 'realtime');
    for (const b of kpiQueries) assert.equal(b.metrics.length, 6, `the KPI query keeps its six metrics: ${JSON.stringify(b)}`);
    assert.equal(await page.getByText('n/a with this filter').count(), 0);
    // The CSV links carry the filters too.
    assert.match(decodeURIComponent(await page.locator('#panel-sources a.csv').getAttribute('href')), /"is_not","visit:source"/);
  });
});

test('filters, date range and comparison are kept in the URL: Back, Forward and a reload restore them', async () => {
  await withPage({ viewport: { width: 1280, height: 900 } }, async ({ page }) => {
    await signIn(page);
    await waitDashboard(page);
    const total = await kpi(page, 'visitors');
    await reloadsAfter(page, () => page.locator('.ranges button[data-range="7d"]').click());
    const week = await kpi(page, 'visitors');
    await reloadsAfter(page, () => rows(page, 'countries').first().locator('.row-filter').click());
    const country = await kpi(page, 'visitors');
    await reloadsAfter(page, () => page.locator('#compare').selectOption('off'));
    assert.match(page.url(), /range=7d/);
    assert.match(page.url(), /compare=off/);
    assert.match(page.url(), /filter=is%7Cvisit%3Acountry%7C[A-Z]{2}/);
    assert.equal(await page.locator('#chart .cc-line').count(), 2, 'no comparison: no dashed lines');
    assert.equal((await page.locator('.kpi[data-metric="visitors"] .kpi-change').textContent()).trim(), '', 'no change shown');
    assert.doesNotMatch(await page.locator('[data-testid="range-caption"]').textContent(), /compared with/);

    await reloadsAfter(page, () => page.goBack());
    assert.equal(await page.locator('#compare').inputValue(), 'previous_period', 'Back: the comparison returns');
    assert.equal(await page.locator('#chart .cc-line').count(), 4);
    await reloadsAfter(page, () => page.goBack());
    assert.equal(await chips(page).count(), 0, 'Back: the filter is gone');
    assert.equal(await kpi(page, 'visitors'), week);
    await reloadsAfter(page, () => page.goBack());
    assert.equal(await page.locator('.ranges button[aria-pressed="true"]').getAttribute('data-range'), '30d', 'Back: 30 days');
    assert.equal(await kpi(page, 'visitors'), total);
    await reloadsAfter(page, () => page.goForward());
    await reloadsAfter(page, () => page.goForward());
    assert.equal(await chips(page).count(), 1, 'Forward: the filter again');
    assert.equal(await kpi(page, 'visitors'), country);

    // A reload (or a shared link) opens the same view.
    await page.reload();
    await waitDashboard(page);
    assert.equal(await chips(page).count(), 1);
    assert.equal(await page.locator('.ranges button[aria-pressed="true"]').getAttribute('data-range'), '7d');
    assert.equal(await kpi(page, 'visitors'), country);
    // Links of the first dashboard (filter=dimension|value) still open.
    await page.goto(`${dashboardUrl()}?range=30d&filter=visit:browser|Chrome`);
    await waitDashboard(page);
    assert.deepEqual(await chipTexts(page), ['Browser is Chrome']);
  });
});

test('"Show more" raises a table from 10 rows to 100 and back', async () => {
  await withPage({ viewport: { width: 1280, height: 900 } }, async ({ page, requests }) => {
    await signIn(page);
    await waitDashboard(page);
    const more = page.locator('#panel-pages .show-more');
    assert.equal(await rows(page, 'pages').count(), 10);
    assert.equal(await more.isVisible(), true, 'a full table offers more');
    assert.equal(await more.getAttribute('aria-expanded'), 'false');
    const from = requests.length;
    await more.focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => !document.querySelector('#panel-pages').hasAttribute('aria-busy') &&
      document.querySelectorAll('#panel-pages tbody tr.row').length > 10);
    const n = await rows(page, 'pages').count();
    assert.ok(n > 10 && n <= 100, `up to 100 rows now: ${n}`);
    assert.ok(sentTo(requests, 'query', from).some((b) => b.limit === 100 && b.dimensions[0] === 'event:page'), 'asked with limit 100');
    assert.equal(await more.textContent(), 'Show fewer');
    assert.equal(await more.getAttribute('aria-expanded'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement.classList.contains('show-more')), true, 'focus stays on the button');
    const scroll = await page.locator('#pages-body').evaluate((e) => e.scrollHeight > e.clientHeight);
    assert.ok(scroll, 'the long table scrolls inside its card');
    await page.screenshot({ path: path.join(artifacts, 'dashboard-show-more.png') });
    await more.click();
    await page.waitForFunction(() => document.querySelectorAll('#panel-pages tbody tr.row').length === 10);
    // Every table has the button once it is full.
    for (const p of ['pages', 'sources', 'campaigns', 'countries', 'tech', 'conversions', 'consent']) {
      assert.equal(await page.locator(`#panel-${p} .show-more`).count(), 1, `${p} has "Show more"`);
      if ((await rows(page, p).count()) === 10) assert.ok(await page.locator(`#panel-${p} .show-more`).isVisible(), `${p} offers more`);
    }
  });
});

test('the region table sits beside countries; a region row filters by its country and region', async () => {
  await withPage({ viewport: { width: 1280, height: 900 } }, async ({ page, requests }) => {
    await signIn(page);
    await waitDashboard(page);
    const from = requests.length;
    await page.locator('#tab-country').focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.locator('#tab-region').getAttribute('aria-selected'), 'true');
    await page.waitForFunction(() => !document.querySelector('#panel-countries').hasAttribute('aria-busy'));
    assert.ok(sentTo(requests, 'query', from).some((b) => JSON.stringify(b.dimensions) === '["visit:country","visit:region"]'));
    assert.equal(await page.locator('#panel-countries thead th').first().textContent(), 'Region');
    assert.ok((await rows(page, 'countries').count()) > 0, 'regions have rows');
    const first = rows(page, 'countries').first();
    const value = await first.getAttribute('data-value');
    const [cc, region] = value.split('-');
    assert.match(await first.locator('.row-filter').textContent(), new RegExp(`${region}, [A-Z][a-z]`), 'the region with its country');
    await reloadsAfter(page, () => first.locator('.row-filter').click());
    const texts = await chipTexts(page);
    assert.equal(texts.length, 2);
    assert.match(texts[0], /^Country is /);
    assert.equal(texts[1], `Region is ${region}`);
    const last = sentTo(requests, 'query').filter((b) => b.date_range !== 'realtime').pop();
    assert.deepEqual(last.filters, [['is', 'visit:country', [cc]], ['is', 'visit:region', [region]]]);
    assert.deepEqual(await rowValues(page, 'countries'), [value], 'the table shows that region only');
    await everyPanelAnswered(page, 'region filter');
  });
});

test('the filter editor: all four operators, keyboard use, validation and editing a chip', async () => {
  await withPage({ viewport: { width: 1280, height: 900 } }, async ({ page, requests }) => {
    await signIn(page);
    await waitDashboard(page);
    const add = page.locator('[data-testid="add-filter"]');
    await add.focus();
    await page.keyboard.press('Enter');
    assert.equal(await add.getAttribute('aria-expanded'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'fe-dim', 'focus moves into the editor');
    assert.deepEqual(await page.locator('#fe-op option').evaluateAll((os) => os.map((o) => o.value)), ['is', 'is_not', 'contains', 'matches']);
    const dims = await page.locator('#fe-dim option').evaluateAll((os) => os.map((o) => o.value));
    for (const d of ['event:page', 'visit:entry_page', 'visit:exit_page', 'event:goal', 'visit:source', 'visit:country', 'visit:region', 'visit:device']) {
      assert.ok(dims.includes(d), `the editor offers ${d}`);
    }
    for (const id of ['fe-dim', 'fe-op', 'fe-value-1']) {
      assert.ok((await page.locator(`#${id}`).evaluate((e) => e.labels.length)) > 0, `${id} has a label`);
    }
    const axe = await axeSerious(page, '#filter-editor');
    assert.deepEqual(axe, [], `filter editor: ${JSON.stringify(axe, null, 1)}`);
    // Escape closes it and gives focus back.
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#filter-editor').isVisible(), false);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'add-filter');

    // No value: an error next to the field, nothing asked.
    await add.click();
    let before = requests.length;
    await page.locator('#fe-submit').click();
    assert.match(await page.locator('#fe-error').textContent(), /Enter a value/);
    assert.equal(await page.locator('#fe-value-1').getAttribute('aria-invalid'), 'true');
    // A regular expression RE2 would refuse is caught before it is sent.
    await page.locator('#fe-op').selectOption('matches');
    await page.locator('#fe-value-1').fill('(docs)/\\1');
    await page.locator('#fe-submit').click();
    assert.match(await page.locator('#fe-error').textContent(), /backreferences/);
    await page.locator('#fe-value-1').fill('([a-z');
    await page.locator('#fe-submit').click();
    assert.match(await page.locator('#fe-error').textContent(), /cannot be used/);
    assert.equal(requests.slice(before).filter((r) => r.body && r.body.includes('"matches"')).length, 0, 'nothing sent');
    await page.locator('#fe-cancel').click();

    // is with two values (OR), then edit the chip to is_not.
    await addFilter(page, 'visit:device', 'is', ['desktop', 'mobile']);
    assert.deepEqual(await chipTexts(page), ['Device is Desktop or Mobile']);
    const either = await kpi(page, 'visitors');
    before = requests.length;
    await page.locator('.chip-edit').first().click();
    assert.equal(await page.locator('#fe-title').textContent(), 'Edit filter');
    assert.equal(await page.locator('#fe-value-2').inputValue(), 'mobile');
    await page.locator('#fe-op').selectOption('is_not');
    await reloadsAfter(page, () => page.locator('#fe-submit').click());
    assert.deepEqual(await chipTexts(page), ['Device is none of Desktop, Mobile']);
    assert.equal(await page.evaluate(() => document.activeElement.className), 'chip-edit', 'focus on the edited chip');
    assert.ok(sentTo(requests, 'query', before).some((b) => JSON.stringify(b.filters) === '[["is_not","visit:device",["desktop","mobile"]]]'));
    assert.ok((await kpi(page, 'visitors')) < either || either === 0, 'the others are fewer');
    assert.deepEqual(await rowValues(page, 'tech').then((v) => v.filter((x) => x === 'desktop' || x === 'mobile')), []);
    // Removing it with the keyboard.
    await page.locator('.chip-remove').first().focus();
    await reloadsAfter(page, () => page.keyboard.press('Enter'));
    assert.equal(await chips(page).count(), 0);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'add-filter', 'focus lands on "Add filter"');
  });
});

/* ---------- these need the analytics v2 backend (matches, new dimensions, segments, funnel) ---------- */

test('a "matches" (regular expression) filter narrows every panel [needs analytics v2: matches]', async () => {
  await withPage({ viewport: { width: 1280, height: 900 } }, async ({ page }) => {
    await signIn(page);
    await waitDashboard(page);
    await addFilter(page, 'event:page', 'matches', ['^/(docs|blog)/']);
    assert.deepEqual(await chipTexts(page), ['Page matches ^/(docs|blog)/']);
    await everyPanelAnswered(page, 'matches');
    const pages = await rowValues(page, 'pages');
    assert.ok(pages.length > 0, 'some pages match');
    for (const p of pages) assert.match(p, /^\/(docs|blog)\//);
  });
});

test('entry and exit pages are tabs beside top pages; a row filters by it [needs analytics v2: visit:entry_page, visit:exit_page]', async () => {
  await withPage({ viewport: { width: 1280, height: 900 } }, async ({ page, requests }) => {
    await signIn(page);
    await waitDashboard(page);
    const total = await kpi(page, 'visitors');
    for (const [tab, dim, head] of [['entry', 'visit:entry_page', 'Entry page'], ['exit', 'visit:exit_page', 'Exit page']]) {
      const from = requests.length;
      await page.locator(`#tab-${tab}`).click();
      await page.waitForFunction(() => !document.querySelector('#panel-pages').hasAttribute('aria-busy'));
      assert.ok(sentTo(requests, 'query', from).some((b) => b.dimensions[0] === dim));
      assert.equal(await alertText(page), '', `${dim}: no error`);
      assert.equal(await page.locator('#panel-pages thead th').first().textContent(), head);
      assert.ok((await rows(page, 'pages').count()) > 0, `${dim} has rows`);
      for (const v of await rowValues(page, 'pages')) assert.match(v, /^\//, `${dim} rows are paths`);
    }
    assert.deepEqual(await page.locator('#panel-pages thead th').allTextContents(), ['Exit page', 'Visitors', 'Visits']);
    await page.locator('#tab-entry').click();
    await page.waitForFunction(() => !document.querySelector('#panel-pages').hasAttribute('aria-busy'));
    assert.ok((await page.locator('#panel-pages thead th').allTextContents()).includes('Bounce rate'));
    const first = rows(page, 'pages').first();
    const entry = await first.getAttribute('data-value');
    await reloadsAfter(page, () => first.locator('.row-filter').click());
    assert.deepEqual(await chipTexts(page), [`Entry page is ${entry}`]);
    await everyPanelAnswered(page, 'entry page filter');
    const filtered = await kpi(page, 'visitors');
    assert.ok(filtered > 0 && filtered < total, `visitors who entered on ${entry}: ${filtered} < ${total}`);
    assert.deepEqual(await rowValues(page, 'pages'), [entry]);
  });
});

test('clicking a conversion filters the dashboard by that goal [needs analytics v2: event:goal]', async () => {
  await withPage({ viewport: { width: 1280, height: 900 } }, async ({ page, requests }) => {
    await signIn(page);
    await waitDashboard(page);
    const total = await kpi(page, 'visitors');
    const goal = rows(page, 'conversions').first();
    const name = await goal.getAttribute('data-value');
    const from = requests.length;
    await reloadsAfter(page, () => goal.locator('.row-filter').click());
    assert.deepEqual(await chipTexts(page), [`Goal is ${name}`]);
    assert.ok(sentTo(requests, 'query', from).every((b) => JSON.stringify(b.filters) === JSON.stringify([['is', 'event:goal', [name]]])));
    await everyPanelAnswered(page, 'goal filter');
    const converted = await kpi(page, 'visitors');
    assert.ok(converted > 0 && converted < total, `visitors who completed ${name}: ${converted} < ${total}`);
  });
});

test('comparing with the same period last year [needs analytics v2: year_over_year]', async () => {
  await withPage({ viewport: { width: 1280, height: 900 } }, async ({ page, requests }) => {
    await signIn(page);
    await waitDashboard(page);
    const from = requests.length;
    await reloadsAfter(page, () => page.locator('#compare').selectOption('year_over_year'));
    assert.ok(sentTo(requests, 'query', from).some((b) => b.compare === 'year_over_year'));
    assert.equal(await alertText(page), '');
    const caption = await page.locator('[data-testid="range-caption"]').textContent();
    const years = caption.match(/20\d\d/g).map(Number);
    assert.ok(years.length >= 2 && Math.max(...years) - Math.min(...years) === 1, `compared with a year earlier: ${caption}`);
    assert.equal(await page.locator('#chart .cc-line.cc-dash').count(), 2);
    assert.equal(await page.locator('#chart .cc-key', { hasText: 'Visitors, last year' }).count(), 1);
    assert.match(page.url(), /compare=year_over_year/);
  });
});

test('segments: save the filters as one, apply it everywhere, keep it across a reload, delete it [needs analytics v2: segments]', async () => {
  await withPage({ viewport: { width: 1280, height: 900 } }, async ({ page, requests }) => {
    await signIn(page);
    await waitDashboard(page);
    assert.equal(await page.locator('#segment-info').isVisible(), false, 'the segment list loaded without complaint');
    const total = await kpi(page, 'visitors');
    await reloadsAfter(page, () => rows(page, 'countries').first().locator('.row-filter').click());
    await addFilter(page, 'visit:device', 'is_not', ['tablet']);
    const filtered = await kpi(page, 'visitors');
    assert.ok(filtered < total);

    const name = `test-${Date.now().toString(36)}`;
    await page.locator('#segment-save-open').click();
    assert.equal(await page.evaluate(() => document.activeElement.id), 'segment-name');
    assert.match(await page.locator('#segment-form-summary').textContent(), /these 2 filters: Country is .+ and Device is not Tablet/);
    const axe = await axeSerious(page, '#segment-form');
    assert.deepEqual(axe, [], `segment form: ${JSON.stringify(axe, null, 1)}`);
    await page.locator('#segment-name').fill('Not A Name!');
    await page.locator('#segment-submit').click();
    assert.match(await page.locator('#segment-error').textContent(), /lowercase letters/);
    await page.locator('#segment-name').fill(name);
    await page.locator('#segment-description').fill('Top country, no tablets');
    await reloadsAfter(page, () => page.locator('#segment-submit').click());

    assert.equal(await page.locator('#segment-select').inputValue(), name, 'the new segment is applied');
    assert.equal(await chips(page).count(), 0, 'its filters moved into the segment');
    assert.match(await page.locator('#segment-info').textContent(), /Top country, no tablets/);
    assert.equal(await kpi(page, 'visitors'), filtered, 'the same view, now through the segment');
    await everyPanelAnswered(page, 'segment');
    const from = requests.length;
    await reloadsAfter(page, () => page.locator('.ranges button[data-range="7d"]').click());
    const sent = sentTo(requests, 'query', from);
    assert.ok(sent.length >= 9 && sent.every((b) => b.segment === name), 'every query names the segment');
    assert.match(await page.locator('#panel-pages a.csv').getAttribute('href'), new RegExp(`segment=${name}`));
    assert.match(page.url(), new RegExp(`segment=${name}`));
    await page.screenshot({ path: path.join(artifacts, 'dashboard-segment.png') });

    // A reload keeps it; a filter on top narrows it further.
    await page.reload();
    await waitDashboard(page);
    assert.equal(await page.locator('#segment-select').inputValue(), name);
    const seg7 = await kpi(page, 'visitors');
    await addFilter(page, 'event:page', 'contains', ['/']);
    assert.ok((await kpi(page, 'visitors')) <= seg7);
    await reloadsAfter(page, () => page.locator('#segment-select').selectOption(''));
    assert.ok((await kpi(page, 'visitors')) >= seg7, 'no segment: more visitors');
    await reloadsAfter(page, () => page.locator('#segment-select').selectOption(name));

    // Deleting it.
    page.once('dialog', (d) => d.accept());
    await reloadsAfter(page, () => page.locator('#segment-delete').click());
    assert.equal(await page.locator('#segment-select').inputValue(), '');
    assert.equal(await page.locator(`#segment-select option[value="${name}"]`).count(), 0);
    const list = await page.request.get(`${server.url}/api/v1/sites/${SITE}/segments`);
    assert.equal(list.status(), 200);
    assert.ok(!JSON.stringify(await list.json()).includes(name), 'the server no longer has it');
  });
});

test('the funnel: steps with visitors, conversion and drop-off bars; 2 to 8 steps; in the URL [needs analytics v2: funnel]', async () => {
  await withPage({ viewport: { width: 1280, height: 900 } }, async ({ page, requests }) => {
    await signIn(page);
    await waitDashboard(page);
    const funnel = page.locator('[data-testid="funnel"]');
    const steps = funnel.locator('#funnel-steps > li');
    assert.equal(await steps.count(), 2);
    assert.equal(await funnel.locator('.funnel-remove').first().isDisabled(), true, 'two steps at least');
    await steps.nth(0).locator('select').selectOption('page');
    await steps.nth(0).locator('input').fill('/');
    await steps.nth(1).locator('select').selectOption('page');
    await steps.nth(1).locator('input').fill('/pricing');
    await page.locator('#funnel-add-step').click();
    await steps.nth(2).locator('select').selectOption('event');
    await steps.nth(2).locator('input').fill('signup');
    assert.equal(await steps.nth(2).locator('input').getAttribute('list'), 'funnel-events');
    await page.locator('#funnel-window').selectOption('7d');
    const from = requests.length;
    await reloadsAfter(page, () => page.locator('#funnel-submit').click());
    assert.equal(await funnel.getAttribute('data-state'), 'done', `the funnel loaded: ${await funnel.locator('#funnel-result').textContent()}`);
    const asked = sentTo(requests, 'funnel', from);
    assert.equal(asked.length, 1);
    assert.deepEqual(asked[0].steps, [{ page: '/' }, { page: '/pricing' }, { event: 'signup' }]);
    assert.equal(asked[0].window, '7d');

    const result = funnel.locator('.funnel-row');
    assert.equal(await result.count(), 3);
    const visitors = await result.locator('td[data-value]').evaluateAll((tds) => tds.map((t) => Number(t.getAttribute('data-value'))));
    assert.ok(visitors[0] > 0, 'visitors reached step 1');
    assert.ok(visitors[0] >= visitors[1] && visitors[1] >= visitors[2], `each step has no more than the one before: ${visitors}`);
    assert.equal(await result.nth(0).locator('td').nth(1).textContent(), '100.0%');
    const widths = await funnel.locator('.funnel-fill').evaluateAll((bars) => bars.map((b) => b.getBoundingClientRect().width));
    assert.ok(widths[0] > 0 && widths[0] >= widths[1] && widths[1] >= widths[2], `the bars shrink: ${widths}`);
    assert.match(await result.nth(1).locator('.funnel-drop').textContent(), /^[\d,]+ \(\d+\.\d%\)$/);
    assert.match(await funnel.locator('[data-testid="funnel-summary"]').textContent(), /went from “Visited \/” to “Sent event signup”/);
    await funnel.screenshot({ path: path.join(artifacts, 'dashboard-funnel.png') });
    const axe = await axeSerious(page, '#funnel');
    assert.deepEqual(axe, [], `funnel: ${JSON.stringify(axe, null, 1)}`);

    // In the URL: a reload asks for it again.
    assert.match(page.url(), /step=page%7C%2F&step=page%7C%2Fpricing&step=event%7Csignup/);
    await page.reload();
    await waitDashboard(page);
    assert.equal(await steps.count(), 3);
    assert.equal(await funnel.getAttribute('data-state'), 'done');
    assert.equal(await funnel.locator('.funnel-row').count(), 3);

    // A filter applies to the funnel too.
    const n = requests.length;
    await reloadsAfter(page, () => rows(page, 'countries').first().locator('.row-filter').click());
    const withFilter = sentTo(requests, 'funnel', n);
    assert.equal(withFilter.length, 1);
    assert.equal(withFilter[0].filters.length, 1);

    // Up to eight steps, down to two.
    while ((await steps.count()) < 8) await page.locator('#funnel-add-step').click();
    assert.equal(await page.locator('#funnel-add-step').isDisabled(), true, 'eight steps at most');
    while ((await steps.count()) > 2) await funnel.locator('.funnel-remove').last().click();
    assert.equal(await funnel.locator('.funnel-remove').first().isDisabled(), true);
    assert.equal(await page.locator('#funnel-add-step').isDisabled(), false);
  });
});
