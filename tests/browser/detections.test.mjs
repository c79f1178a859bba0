// Cookie and tracker detection on a site the banner is embedded in: a page that sets an
// undeclared cookie, a declared marketing cookie before consent, and loads an undeclared
// third-party script. The banner reports names and hosts only; the report suggests categories
// from the bundled catalogue, flags what was there before consent, and holds no value or id.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, runCli, openBrowser, waitForBanner, DESKTOP_UA, artifacts } from './helpers.mjs';

const SHOP = 'http://localhost:9';
const GTM = 'https://www.googletagmanager.com/gtag/js?id=G-TEST1234';
const dir = mkdtempSync(path.join(tmpdir(), 'consentry-detect-'));
const dataDir = path.join(dir, 'data');
const config = path.join(dir, 'shop.toml');
writeFileSync(
  config,
  [
    '[rights_rate_limit]', 'burst = 100000', 'per_minute = 100000',
    '[consent_id_rate_limit]', 'burst = 100000', 'per_minute = 100000',
    '[[sites]]', 'id = "shop"', 'name = "Example Shop"', `origins = ["${SHOP}"]`,
    '[sites.policy]', 'version = "1"', 'last_updated = "2026-11-01"', 'controller = "Example Shop Ltd"',
    'address = "1 High Street"', 'contact_email = "privacy@shop.example"',
    '[[sites.categories]]', 'id = "analytics"', 'title = "Analytics"', 'description = "Counts visits."',
    '[[sites.categories]]', 'id = "marketing"', 'title = "Marketing"', 'description = "Ads."',
    '[[sites.categories.services]]', 'name = "Declared Ads"', 'provider = "Ads Ltd"', 'purpose = "Ads."',
    'cookies = [{ name = "_declared_ad", duration = "1 year", purpose = "Ads." }]',
    'hosts = ["ads.declared.example"]',
    '',
  ].join('\n'),
);

let server;
let key;
before(async () => {
  const created = await runCli(['keys', 'create', '--site', 'shop', '--config', config, '--data-dir', dataDir]);
  assert.equal(created.code, 0, `keys create failed:\n${created.stderr}`);
  key = created.stdout.trim().split('\n').pop().replace(/^key: /, '');
  server = await startServer({ dataDir, args: ['--config', config] });
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The shop's page: its own cookies (one undeclared, one declared for marketing) set before
    the banner has asked anything, and a tag manager script from another host. */
async function shopPage(page) {
  await page.route(SHOP + '/**', (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><html lang="en"><head><title>Shop</title>
             <script>document.cookie = 'shop_theme=dark-secret-value; path=/';
                     document.cookie = '_declared_ad=ad-secret-value; path=/';</script>
             <script src="${GTM}"></script>
             <script type="text/plain" data-category="marketing" src="https://ads.gated.example/tag.js"></script>
             <script>document.cookie = 'value-without-a-name';</script></head>
             <body><h1>Shop</h1><script src="${server.url}/consent.js" data-site="shop" defer></script></body></html>`,
    }),
  );
  await page.route('https://www.googletagmanager.com/**', (route) =>
    route.fulfill({ contentType: 'text/javascript', body: 'document.cookie = "_ga=GA1.1.987654321.1700000000; path=/";' }),
  );
  await page.goto(SHOP + '/checkout/order/98765?coupon=SECRET');
}

async function report(all) {
  const res = await fetch(`${server.url}/api/v1/sites/shop/detections?date_range=7d${all ? '&all=true' : ''}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  assert.equal(res.status, 200);
  return res.json();
}

test('undeclared cookies and scripts appear in the report with a suggested category, and what was set before consent is flagged', async () => {
  const b = await openBrowser({ permissions: ['local-network-access'], userAgent: DESKTOP_UA });
  try {
    const { page } = b;
    const sent = page.waitForRequest((r) => r.url().endsWith('/api/v1/sites/shop/detections') && r.method() === 'POST', { timeout: 15000 });
    await shopPage(page);
    await waitForBanner(page);
    const body = JSON.parse((await sent).postData());
    assert.equal(body.path, '/checkout/order/98765', 'the path, without its query');
    assert.deepEqual(body.cookies.sort(), ['_declared_ad', '_ga', 'shop_theme']);
    assert.deepEqual(body.hosts, ['www.googletagmanager.com'], 'a tag still gated by the banner is not counted');
    assert.deepEqual(body.granted, [], 'sent before any consent');
    assert.ok(!JSON.stringify(body).includes('secret') && !JSON.stringify(body).includes('value-without') && !('consent_id' in body),
      `names and hosts only, no value (a cookie without a name is not sent): ${JSON.stringify(body)}`);
    const response = await (await sent).response();
    assert.equal(response.status(), 202);

    // The same page again the same day: not reported twice.
    const before = (await report(true)).findings.find((f) => f.name === 'shop_theme').reports;
    await page.reload();
    await waitForBanner(page);
    await page.waitForTimeout(2500);
    assert.equal((await report(true)).findings.find((f) => f.name === 'shop_theme').reports, before);

    const r = await report(false);
    const by = Object.fromEntries(r.findings.map((f) => [f.name, f]));
    const text = JSON.stringify(r);
    assert.ok(!text.includes('secret') && !text.includes('987654321') && !text.includes('98765'),
      `no value, id or order number in the report: ${text}`);

    const ga = by._ga;
    assert.ok(ga && !ga.declared && ga.kind === 'cookie', `_ga undeclared: ${text}`);
    assert.equal(ga.suggestion.category, 'analytics');
    assert.equal(ga.suggestion.platform, 'Google Analytics');
    assert.equal(ga.violation, true, 'set before any consent');
    assert.match(ga.declare, /\[\[sites\.categories\.services\]\]\nname = "Google Analytics"/);
    assert.match(ga.declare, /cookies = \[\{ name = "_ga"/);
    assert.deepEqual(ga.pages, ['/checkout/order/*'], 'the order number is not kept');
    assert.match(ga.first_seen, /T\d\d:00:00(\.000)?Z$/, 'kept to the hour');

    const gtm = by['www.googletagmanager.com'];
    assert.ok(gtm && gtm.kind === 'host' && !gtm.declared, text);
    assert.equal(gtm.suggestion.category, 'analytics');
    assert.match(gtm.declare, /hosts = \["www\.googletagmanager\.com"\]/);

    const own = by.shop_theme;
    assert.ok(own && !own.suggestion && own.violation, `an unknown cookie set before consent is flagged: ${JSON.stringify(own)}`);

    const declared = by._declared_ad;
    assert.ok(declared && declared.declared && declared.declared_in.category === 'marketing' && declared.violation,
      `a declared marketing cookie set before consent is listed as a violation: ${JSON.stringify(declared)}`);
    assert.ok(!('declare' in declared));

    // The dashboard's card shows the same, flagged rows marked, each declaration behind "Declare".
    await page.goto(`${server.url}/dashboard/shop`);
    await page.locator('#key').fill(key);
    await Promise.all([page.waitForNavigation(), page.locator('form[data-testid="signin-form"] button[type="submit"]').click()]);
    await page.waitForFunction(() => document.body.getAttribute('data-loading') === 'false', null, { timeout: 15000 });
    const card = page.locator('#detections');
    const gaRow = card.locator('tr[data-name="_ga"]');
    assert.match(await gaRow.textContent(), /analytics – Google Analytics/);
    assert.match(await gaRow.locator('td.flag').textContent(), /^Flagged: seen on 1 page view without consent$/);
    await gaRow.locator('summary').click();
    assert.match(await gaRow.locator('pre').textContent(), /name = "Google Analytics"/);
    assert.equal(await card.locator('tr[data-name="_declared_ad"] td.flag').count(), 1);
    await card.screenshot({ path: path.join(artifacts, 'dashboard-detections.png') });
  } finally {
    await b.close();
  }
});

test('the command line prints the same report with the lines to declare each finding', async () => {
  await server.stop();
  server = null;
  const out = await runCli(['cookies', '--site', 'shop', '--config', config, '--data-dir', dataDir]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /cookie +_ga +suggested analytics \(Google Analytics\)/);
  assert.match(out.stdout, /host +www\.googletagmanager\.com/);
  assert.match(out.stdout, /FLAGGED/);
  assert.match(out.stdout, /hosts = \["www\.googletagmanager\.com"\]/);
  assert.ok(!out.stdout.includes('secret'));
});
