// Banner experiments on a site with two variants: each page shows the variant the server drew
// (forced here through the banner request, to test both), its layout, button order and texts;
// the decision names the variant, and the server records it with the document shown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, runCli, openBrowser, waitForBanner, consentIdFromCookie, serverRecord, artifacts } from './helpers.mjs';

const SHOP = 'http://localhost:9';
const dir = mkdtempSync(path.join(tmpdir(), 'consentry-experiments-'));
const dataDir = path.join(dir, 'data');
const config = path.join(dir, 'shop.toml');
writeFileSync(
  config,
  [
    'min_group_size = 1',
    '[[sites]]', 'id = "shop"', 'name = "Example Shop"', `origins = ["${SHOP}"]`,
    '[sites.policy]', 'version = "1"', 'last_updated = "2026-11-01"', 'controller = "Example Shop Ltd"',
    'address = "1 High Street"', 'contact_email = "privacy@shop.example"',
    '[[sites.categories]]', 'id = "analytics"', 'title = "Analytics"', 'description = "Counts visits."',
    '[[sites.banner_variants]]', 'name = "control"',
    '[[sites.banner_variants]]', 'name = "bar"', 'layout = "bar"', 'buttons = ["accept_all", "reject_all", "customise"]',
    'texts.en.title = "Cookies, briefly"', 'texts.en.description = "Analytics only if you say yes."',
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

/** The shop's page, with the banner told to show `variant`. */
async function shopPage(page, variant) {
  await page.route(SHOP + '/**', (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><html lang="en"><head><title>Shop</title></head>
             <body><h1>Shop</h1><p>Products.</p><script src="${server.url}/consent.js" data-site="shop" defer></script></body></html>`,
    }),
  );
  await page.route(`${server.url}/api/v1/sites/shop/banner?*`, (route) =>
    route.continue({ url: `${route.request().url()}&variant=${variant}` }),
  );
  await page.goto(SHOP + '/');
  await waitForBanner(page);
}

const firstLayer = (page) => page.locator('.cst-banner .cst-btns button').allTextContents();

for (const [variant, layout, buttons, title] of [
  ['control', 'cst-box', ['Reject all', 'Accept all', 'Customise'], 'We value your privacy'],
  ['bar', 'cst-bar', ['Accept all', 'Reject all', 'Customise'], 'Cookies, briefly'],
]) {
  test(`the ${variant} variant shows its layout, order and texts, and the decision names it`, async () => {
    const b = await openBrowser({ permissions: ['local-network-access'] });
    try {
      const { page, context } = b;
      await shopPage(page, variant);
      const banner = page.locator('.cst-banner');
      assert.match(await banner.getAttribute('class'), new RegExp(`\\b${layout}\\b`));
      assert.deepEqual(await firstLayer(page), buttons);
      assert.equal(await page.locator('#cst-t').textContent(), title);
      // Equal weight whatever the variant: the three choices look alike.
      const looks = await page.locator('.cst-banner .cst-btns button').evaluateAll((all) =>
        all.map((e) => { const s = getComputedStyle(e); return [e.className, s.backgroundColor, s.color, s.fontSize, s.fontWeight, e.offsetHeight].join('|'); }));
      assert.equal(new Set(looks).size, 1, `one style for all three: ${looks}`);
      if (variant === 'bar') {
        const box = await banner.boundingBox();
        assert.ok(box.width >= 1020 && box.y + box.height >= 719, `a bar across the bottom edge: ${JSON.stringify(box)}`);
        await page.waitForTimeout(400);
        await page.screenshot({ path: path.join(artifacts, 'banner-variant-bar.png') });
      }
      const sent = page.waitForRequest((r) => r.url().endsWith('/api/v1/sites/shop/consents') && r.method() === 'POST');
      await page.getByRole('button', { name: 'Accept all' }).first().click();
      assert.equal(JSON.parse((await sent).postData()).variant, variant);
      await page.locator('.cst-banner').waitFor({ state: 'hidden' });
      const id = await consentIdFromCookie(context);
      const record = await serverRecord(server, 'shop', id);
      assert.equal(record.status, 200);
      assert.equal(record.body.variant, variant);
      const doc = await (await fetch(`${server.url}/api/v1/sites/shop/notices/${record.body.banner_hash}`)).json();
      assert.equal(doc.variant.name, variant, 'the banner hash names the variant shown');
      assert.equal(doc.texts.title, title);
    } finally {
      await b.close();
    }
  });
}

test('the dashboard shows the opt-in rate of each variant with its 95% interval', async () => {
  const b = await openBrowser();
  try {
    const { page } = b;
    await page.goto(`${server.url}/dashboard/shop`);
    await page.locator('#key').fill(key);
    await Promise.all([page.waitForNavigation(), page.locator('form[data-testid="signin-form"] button[type="submit"]').click()]);
    await page.waitForFunction(() => document.body.getAttribute('data-loading') === 'false', null, { timeout: 15000 });
    const panel = page.locator('#panel-consent');
    await panel.getByRole('tab', { name: 'By banner variant' }).click();
    await page.waitForFunction(() => !document.querySelector('#panel-consent').classList.contains('is-loading'));
    const headers = await panel.locator('thead th').allTextContents();
    assert.deepEqual(headers, ['Banner variant', 'Decisions', 'Opt-in', '95% interval', 'Split']);
    const rows = await panel.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].slice(0, 4).map((c) => c.textContent.trim())));
    // One accepted decision on each variant (the tests above): 100%, Wilson's 20.7 to 100.
    assert.deepEqual(rows.sort(), [
      ['bar', '1', '100.0%', '20.7% – 100.0%'],
      ['control', '1', '100.0%', '20.7% – 100.0%'],
    ]);
    await panel.screenshot({ path: path.join(artifacts, 'dashboard-consent-variants.png') });
  } finally {
    await b.close();
  }
});
