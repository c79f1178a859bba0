// More behaviour of the banner script on the demo page: its JS API, reopening links, an erased
// consent id, a stale policy version, the opt-out notice and the forced theme.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, openBrowser, consentRequests, consentIdFromCookie, serverRecord, waitForBanner,
} from './helpers.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

async function withPage(options, fn) {
  const b = await openBrowser(options);
  try {
    await fn(b);
    assert.deepEqual(b.errors.map(String), [], 'the page threw');
  } finally {
    await b.close();
  }
}

const isPost = (r) => /\/consents$/.test(r.url()) && r.request().method() === 'POST';
const dialog = (page) => page.locator('.cst-dlg[role="dialog"]');
const posts = (requests) => consentRequests(requests).filter((r) => r.method === 'POST').map((r) => JSON.parse(r.body));

/** Rewrite the banner config the page receives (the server's own answer, edited). */
async function editBanner(page, edit, times = Infinity) {
  let n = 0;
  await page.route('**/api/v1/sites/*/banner*', async (route) => {
    const res = await route.fetch();
    const json = await res.json();
    if (n++ < times) edit(json);
    await route.fulfill({ response: res, json });
  });
}

test('the JS API reports choices, calls onChange and dispatches consentry:change', async () => {
  await withPage({}, async ({ page, context }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    await page.evaluate(() => {
      window.changes = [];
      window.consentry.onChange((x) => window.changes.push(['callback', x]));
      window.addEventListener('consentry:change', (e) => window.changes.push(['event', e.detail]));
    });
    assert.equal(await page.evaluate(() => window.consentry.consentId()), null);
    assert.equal(await page.evaluate(() => window.consentry.acceptedCategory('analytics')), false);
    assert.equal(await page.evaluate(() => window.consentry.acceptedCategory('necessary')), true);

    await page.locator('.cst-banner button', { hasText: 'Customise' }).click();
    await page.locator('label[for="cst-c-analytics"]').click();
    await Promise.all([page.waitForResponse(isPost), dialog(page).locator('button', { hasText: 'Save choices' }).click()]);
    await page.waitForFunction(() => window.changes.length >= 2);
    const changes = await page.evaluate(() => window.changes);
    const id = await consentIdFromCookie(context);
    assert.deepEqual(changes.map((c) => c[0]).sort(), ['callback', 'event']);
    for (const [, detail] of changes) {
      assert.equal(detail.consent_id, id);
      assert.equal(detail.choices.analytics, true);
      assert.equal(detail.choices.marketing, false);
    }
    const api = await page.evaluate(() => ({
      analytics: window.consentry.acceptedCategory('analytics'),
      marketing: window.consentry.acceptedCategory('marketing'),
      id: window.consentry.consentId(),
      consent: window.consentry.getConsent(),
    }));
    assert.deepEqual([api.analytics, api.marketing, api.id], [true, false, id]);
    assert.equal(api.consent.consent_id, id);
    assert.ok(api.consent.receipt, 'the record carries its receipt');

    // On the next page, a listener registered after load is told the current choice once.
    await page.reload();
    await page.locator('.cst-fab').waitFor({ state: 'visible' });
    const late = await page.evaluate(() => {
      const seen = [];
      window.consentry.onChange((x) => seen.push(x));
      return seen;
    });
    assert.equal(late.length, 1);
    assert.equal(late[0].choices.analytics, true);

    // show() brings back the first layer.
    await page.evaluate(() => window.consentry.show());
    await waitForBanner(page);
  });
});

test('a data-consentry-open link opens the preferences without navigating, and focus returns to it', async () => {
  await withPage({}, async ({ page }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    const link = page.locator('[data-consentry-open]').first();
    await link.focus();
    await page.keyboard.press('Enter');
    await dialog(page).waitFor({ state: 'visible' });
    assert.equal(page.url(), server.url + '/', 'the link did not navigate');
    assert.ok(await page.evaluate(() => !!document.activeElement.closest('.cst-dlg')));
    assert.ok(await dialog(page).locator('button', { hasText: 'Reject all' }).isVisible());
    await page.keyboard.press('Escape');
    await dialog(page).waitFor({ state: 'hidden' });
    assert.ok(await page.evaluate(() => document.activeElement.hasAttribute('data-consentry-open')), 'focus returned to the link');
    assert.ok(await page.locator('.cst-banner').isVisible(), 'closing the dialog decided nothing');
  });
});

test('a consent id the server no longer knows (erased) brings the banner back and a new id is recorded', async () => {
  await withPage({}, async ({ page, context, requests }) => {
    await context.addCookies([{ name: 'consentry', value: 'erased0123456789.2026-11-01.necessary+analytics', url: server.url }]);
    await page.goto(server.url + '/');
    await waitForBanner(page);
    assert.equal(await page.evaluate(() => window.demoAnalyticsRan), undefined, 'a cookie alone grants nothing');
    assert.equal(await consentIdFromCookie(context), null, 'the stale cookie is cleared');
    const [res] = await Promise.all([page.waitForResponse(isPost), page.locator('.cst-banner button', { hasText: 'Reject all' }).click()]);
    assert.equal(res.status(), 201);
    const sent = posts(requests);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].consent_id, undefined, 'the erased id is not reused');
    // The script writes the cookie once it has the 201's body: wait for it rather than race it.
    const id = (await res.json()).consent_id;
    let cookieId = null;
    for (let i = 0; i < 40 && cookieId !== id; i++) {
      cookieId = await consentIdFromCookie(context);
      if (cookieId !== id) await page.waitForTimeout(50);
    }
    assert.equal(cookieId, id, 'the new id is kept in the cookie');
    assert.notEqual(id, 'erased0123456789');
    assert.equal((await serverRecord(server, 'demo', id)).status, 200);
  });
});

test('a stale policy version (409) makes the script fetch the banner again and ask again', async () => {
  await withPage({}, async ({ page, requests }) => {
    await editBanner(page, (j) => { j.policy_version = '2000-01-01'; }, 1);
    await page.goto(server.url + '/');
    await waitForBanner(page);
    const [stale] = await Promise.all([page.waitForResponse(isPost), page.locator('.cst-banner button', { hasText: 'Accept all' }).click()]);
    assert.equal(stale.status(), 409);
    await page.waitForFunction(() => performance.getEntriesByType('resource').filter((e) => /\/banner\?/.test(e.name)).length >= 2);
    await waitForBanner(page);
    assert.equal(await page.evaluate(() => window.demoAnalyticsRan), undefined);
    const [ok] = await Promise.all([page.waitForResponse(isPost), page.locator('.cst-banner button', { hasText: 'Accept all' }).click()]);
    assert.equal(ok.status(), 201);
    assert.deepEqual(posts(requests).map((p) => p.policy_version), ['2000-01-01', (await ok.json()).policy_version]);
    await page.waitForFunction(() => window.demoAnalyticsRan === true);
  });
});

test('in an opt-out region the defaults are recorded once and a non-blocking notice offers Do Not Sell', async () => {
  await withPage({}, async ({ page, requests }) => {
    await editBanner(page, (j) => { j.regime = 'opt_out'; });
    await page.goto(server.url + '/');
    await waitForBanner(page);
    await page.waitForTimeout(300);
    let sent = posts(requests);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].action, 'default');
    const info = await page.evaluate(() => {
      const b = document.querySelector('.cst-banner');
      return {
        title: b.querySelector('h2').textContent,
        buttons: [...b.querySelectorAll('.cst-btns button')].map((x) => {
          const r = x.getBoundingClientRect();
          return { text: x.textContent, w: Math.round(r.width), h: Math.round(r.height) };
        }),
        overlay: !document.querySelector('.cst-ov').hidden,
      };
    });
    assert.equal(info.title, 'Your privacy choices');
    assert.deepEqual(info.buttons.map((b) => b.text), ['OK', 'Do Not Sell or Share My Personal Information', 'Customise']);
    assert.equal(new Set(info.buttons.map((b) => b.w)).size, 1, 'equal weight');
    assert.equal(info.overlay, false, 'nothing blocks the page');

    const [res] = await Promise.all([page.waitForResponse(isPost), page.locator('.cst-banner button', { hasText: 'Do Not Sell' }).click()]);
    assert.equal(res.status(), 201);
    sent = posts(requests);
    assert.equal(sent[1].action, 'save');
    assert.equal(sent[1].choices.marketing, false);
    assert.equal(sent[1].consent_id, sent[0].consent_id ?? (await res.json()).consent_id);
    assert.equal((await res.json()).choices.marketing, false);
    await page.locator('.cst-banner').waitFor({ state: 'hidden' });

    // The next page neither records the defaults again nor shows the notice.
    await page.reload();
    await page.locator('.cst-fab').waitFor({ state: 'visible' });
    await page.waitForTimeout(300);
    assert.equal(posts(requests).length, 2);
    assert.equal(await page.locator('.cst-banner').isVisible(), false);
  });
});

test('data-theme="dark" on the script tag forces the dark theme', async () => {
  await withPage({ colorScheme: 'light' }, async ({ page }) => {
    await page.route(server.url + '/', async (route) => {
      const res = await route.fetch();
      const html = (await res.text()).replace('data-site="demo"', 'data-site="demo" data-theme="dark"');
      await route.fulfill({ response: res, body: html });
    });
    await page.goto(server.url + '/');
    await waitForBanner(page);
    const bg = await page.locator('.cst-banner').evaluate((b) => getComputedStyle(b).backgroundColor);
    const [r, g, b] = bg.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 150, `dark background, got ${bg}`);
  });
});

test('a page on an origin the site does not list gets no banner and a console message naming that origin and the setting', async () => {
  // Chromium asks before a page reaches a loopback server from another origin: granted, as a
  // visitor of a site whose consent server is on the local network would be asked.
  await withPage({ permissions: ['local-network-access'] }, async ({ page }) => {
    const messages = [];
    page.on('console', (m) => messages.push(m.text()));
    // A page of another site (another port on the same machine, so Chromium's private
    // network rules let it load the script), embedding the script from this server.
    const shop = 'http://127.0.0.1:9';
    await page.route(shop + '/', (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: `<!doctype html><html lang="en"><body><p>Shop</p>
               <script src="${server.url}/consent.js" data-site="demo" defer></script></body></html>`,
      }),
    );
    await page.goto(shop + '/');
    await page.waitForTimeout(1000);
    assert.equal(await page.locator('.cst-banner').count(), 0, 'no banner');
    const said = messages.find((m) => m.includes('Consentry: no banner'));
    assert.ok(said, `a console message, got: ${JSON.stringify(messages)}`);
    assert.ok(said.includes(`add ${shop} to sites[demo].origins`), said);
  });
});

test('a script tag naming a site the server does not have says so in the console', async () => {
  await withPage({}, async ({ page }) => {
    const messages = [];
    page.on('console', (m) => messages.push(m.text()));
    await page.route(server.url + '/', async (route) => {
      const res = await route.fetch();
      const html = (await res.text()).replace('data-site="demo"', 'data-site="nosuch"');
      await route.fulfill({ response: res, body: html });
    });
    await page.goto(server.url + '/');
    await page.waitForTimeout(1000);
    const said = messages.find((m) => m.includes('has no site "nosuch"'));
    assert.ok(said, `a console message, got: ${JSON.stringify(messages)}`);
  });
});
