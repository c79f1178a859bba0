// A site on one origin and Consentry on another, as the README sets them up: the choice made
// on the site is shown by the hosted policy page opened from the banner, and a change made
// there is seen by the site.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, openBrowser, waitForBanner } from './helpers.mjs';

// The shop: another host than the server (cookies are per host, so the two share none).
const SHOP = 'http://localhost:9';
const dir = mkdtempSync(path.join(tmpdir(), 'consentry-handoff-'));
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
    '',
  ].join('\n'),
);

let server;
before(async () => { server = await startServer({ args: ['--config', config] }); });
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function shopPage(page) {
  await page.route(SHOP + '/', (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><html lang="en"><head><title>Shop</title></head><body><h1>Shop</h1>
             <script src="${server.url}/consent.js" data-site="shop" defer></script></body></html>`,
    }),
  );
  await page.goto(SHOP + '/');
}

const granted = (page) => page.evaluate(() => ((window.consentry.getConsent() || {}).choices || {}).analytics === true);

test('the hosted policy page opened from the banner shows the choice made on the site, and a change there reaches the site', async () => {
  // Chromium asks before a page reaches a loopback server from another origin: granted.
  const b = await openBrowser({ permissions: ['local-network-access'] });
  try {
    const { page, context } = b;
    await shopPage(page);
    await waitForBanner(page);
    await page.locator('.cst-banner button', { hasText: 'Accept all' }).click();
    await page.waitForFunction(() => (window.consentry.getConsent() || {}).consent_id);
    const id = await page.evaluate(() => (window.consentry.getConsent() || {}).consent_id);
    assert.ok(await granted(page));
    const serverCookies = await context.cookies(server.url);
    assert.ok(!serverCookies.some((c) => c.name === 'consentry'), 'the server host has no cookie yet');

    // The policy link of the preferences carries the id in the fragment only.
    await page.locator('.cst-fab').click();
    const link = page.locator('.cst-dlg a.cst-pl');
    const href = await link.getAttribute('href');
    assert.ok(href.startsWith(`${server.url}/sites/shop/policy`) && href.endsWith(`#consent=${id}`), href);
    await Promise.all([page.waitForURL(/\/sites\/shop\/policy[^#]*$/), link.click()]);
    await page.locator('#your-data code.hash').waitFor();
    assert.equal(await page.locator('#your-data code.hash').textContent(), id, 'the page knows the id');
    assert.equal(await page.locator('#pref-analytics').isChecked(), true, 'and shows the choice');
    assert.equal(new URL(page.url()).hash, '', 'the fragment is gone from the address');

    // A change on the hosted page (its no-JavaScript form) is recorded for the same id...
    await Promise.all([
      page.waitForURL(/\/sites\/shop\/policy/),
      page.locator('.prefs-form button[value="reject_all"]').click(),
    ]);
    await page.locator('#pref-analytics').waitFor();
    assert.equal(await page.locator('#pref-analytics').isChecked(), false);

    // ...and the site sees it on its next page.
    await shopPage(page);
    await page.waitForFunction(() => (window.consentry.getConsent() || {}).consent_id);
    assert.equal(await page.evaluate(() => (window.consentry.getConsent() || {}).consent_id), id);
    assert.equal(await granted(page), false, 'the site follows the change made on the policy page');
    assert.ok(!server.stderr().includes(id), 'the id is in no server log');
  } finally {
    await b.close();
  }
});

test('the hosted policy page shows its own form, not the banner over it, for a visitor who has not chosen', async () => {
  const b = await openBrowser();
  try {
    const { page } = b;
    await page.goto(server.url + '/sites/shop/policy');
    await page.locator('.cst-fab').waitFor({ state: 'visible' });
    assert.equal(await page.locator('.cst-banner').isVisible(), false, 'no banner');
    assert.ok(await page.locator('.prefs-form button[value="reject_all"]').isVisible(), 'the form is the choice');
  } finally {
    await b.close();
  }
});

test('a #consent= link from anywhere but the site itself is not adopted by the hosted policy page', async () => {
  const someoneElse = '01jd0000000000000000000000';
  const b = await openBrowser({ permissions: ['local-network-access'] });
  try {
    const { page, context } = b;
    // Another site links to the policy page with an id of its choosing...
    const OTHER = 'http://localhost:8';
    await page.route(OTHER + '/', (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: `<!doctype html><html lang="en"><head><title>Elsewhere</title></head><body>
               <a id="go" href="${server.url}/sites/shop/policy#consent=${someoneElse}">your privacy</a></body></html>`,
      }),
    );
    await page.goto(OTHER + '/');
    await Promise.all([page.waitForURL(/\/sites\/shop\/policy/), page.locator('#go').click()]);
    await page.locator('#your-data').waitFor();
    await page.waitForFunction(() => location.hash === '');
    assert.equal(await page.locator('#your-data code.hash').count(), 0, 'the page took no id');
    assert.ok(!(await context.cookies(server.url)).some((c) => c.name === 'consentry'), 'and set no cookie');
    // ...and so does a link opened with no page behind it (a mail, the address bar).
    await page.goto(`${server.url}/sites/shop/policy?lang=en#consent=${someoneElse}`);
    await page.waitForFunction(() => location.hash === '');
    assert.equal(await page.locator('#your-data code.hash').count(), 0, 'no id from a bare link');
    assert.ok(!(await context.cookies(server.url)).some((c) => c.name === 'consentry'));
  } finally {
    await b.close();
  }
});
