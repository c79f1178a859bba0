// Browser tests of the "Your data" section of the preferences dialog: a visitor downloads what
// the server holds under their consent id, and erases it (with one confirm step), after which
// the page treats them as a new visitor. What the server holds is read back through the export.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  startServer, openBrowser, waitForBanner, consentCommands, eventRequests, storedEvents, fetchExport,
  axeSerious, DESKTOP_UA, SIGNALS,
} from './helpers.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

async function withPage(fn) {
  const b = await openBrowser({ userAgent: DESKTOP_UA });
  try {
    await fn(b);
    assert.deepEqual(b.errors.map(String), [], 'the page threw');
  } finally {
    await b.close();
  }
}

const isConsentPost = (r) => /\/consents$/.test(r.url()) && r.request().method() === 'POST';
const isDelete = (r) => /\/consents\/[^/]+$/.test(r.url()) && r.request().method() === 'DELETE';
const bannerButton = (page, name) => page.locator('.cst-banner .cst-btns button', { hasText: name });
const dialog = (page) => page.locator('.cst-dlg[role="dialog"]');
const rightsButton = (page, name) => page.locator('.cst-dlg .cst-rt button', { hasText: name });
const activeText = (page) => page.evaluate(() => document.activeElement && document.activeElement.textContent);
const exportStatus = async (id) =>
  (await fetchExport(server, 'demo', id)).status;

/** Click a first-layer decision button; the recorded consent id once the page applied it. */
async function decide(page, name) {
  await waitForBanner(page);
  const [res] = await Promise.all([page.waitForResponse(isConsentPost), bannerButton(page, name).click()]);
  assert.equal(res.status(), 201);
  const id = (await res.json()).consent_id;
  await page.waitForFunction((i) => window.consentry.consentId() === i && document.cookie.includes(i), id);
  return id;
}

/** Poll the export until `pred(events)` holds (the store syncs asynchronously). */
async function waitStored(id, pred, what) {
  let events = [];
  for (let i = 0; i < 50; i++) {
    events = await storedEvents(server, 'demo', id);
    if (pred(events)) return events;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}; stored: ${JSON.stringify(events.map((e) => [e.name, e.path]))}`);
}

test('a visitor accepts, generates events, downloads their data, erases it, and the banner shows again', async () => {
  await withPage(async ({ page, context, requests }) => {
    await page.goto(server.url + '/');
    const id = await decide(page, 'Accept all');
    await page.waitForFunction(() => window.demoAnalyticsRan === true);
    await waitStored(id, (ev) => ev.some((e) => e.name === 'pageview'), 'a stored pageview after Accept all');

    await page.locator('.cst-fab').click();
    await dialog(page).waitFor({ state: 'visible' });
    assert.ok(await page.locator('.cst-rt h3', { hasText: 'Your data' }).isVisible());

    // Download: a file, saved without leaving the page.
    const url = page.url();
    const [download] = await Promise.all([page.waitForEvent('download'), rightsButton(page, 'Download my data').click()]);
    assert.equal(download.suggestedFilename(), `consentry-${id}.json`);
    const file = JSON.parse(readFileSync(await download.path(), 'utf8'));
    assert.equal(file.consent_id, id);
    assert.equal(file.current.consent_id, id);
    assert.ok(file.events.some((e) => e.name === 'pageview' && e.path === '/'), `events: ${JSON.stringify(file.events)}`);
    assert.equal(page.url(), url, 'no navigation');
    assert.ok(await dialog(page).isVisible(), 'the dialog stays open');

    // Erase: one confirm step, then the DELETE; the analytics tag ran, so the page reloads.
    await rightsButton(page, 'Erase my data').click();
    assert.equal(await rightsButton(page, 'Erase my data').count(), 0, 'the erase button became the confirm step');
    assert.ok(await rightsButton(page, 'Cancel').isVisible());
    const mark = requests.length;
    const [res] = await Promise.all([
      page.waitForResponse(isDelete),
      page.waitForEvent('load'),
      rightsButton(page, 'Confirm erase').click(),
    ]);
    // (The page reloaded, so the answer's body is gone: the export shows the effect.)
    assert.equal(res.status(), 200);
    assert.equal(await exportStatus(id), 404, 'the server holds nothing any more');

    await waitForBanner(page);
    assert.ok(!(await page.evaluate(() => document.cookie)).includes('consentry'), 'no consentry cookie');
    const names = (await context.cookies()).map((c) => c.name);
    assert.ok(!names.includes('consentry') && !names.includes('_demo_analytics'), `cookies: ${names}`);
    assert.equal(await page.evaluate(() => window.demoAnalyticsRan), undefined);
    assert.equal(await page.evaluate(() => window.consentry.consentId()), null);
    assert.ok(await bannerButton(page, 'Accept all').isVisible(), 'the first layer asks again');
    assert.deepEqual(eventRequests(requests.slice(mark)), [], 'no events sent after the erasure');
  });
});

test('the erase confirm step is reachable with Tab and Enter, and Cancel backs out', async () => {
  await withPage(async ({ page, context }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    // Without a consent id there is nothing to download or erase.
    await bannerButton(page, 'Customise').click();
    await dialog(page).waitFor({ state: 'visible' });
    assert.equal(await page.locator('.cst-rt').isVisible(), false);
    await page.keyboard.press('Escape');
    await dialog(page).waitFor({ state: 'hidden' });

    const id = await decide(page, 'Reject all');
    await page.locator('.cst-fab').focus();
    await page.keyboard.press('Enter');
    await dialog(page).waitFor({ state: 'visible' });
    for (let i = 0; i < 40 && (await activeText(page)) !== 'Erase my data'; i++) await page.keyboard.press('Tab');
    assert.equal(await activeText(page), 'Erase my data');

    // Enter opens the confirm step with focus on Cancel; Cancel goes back without erasing.
    await page.keyboard.press('Enter');
    assert.equal(await activeText(page), 'Cancel');
    const axe = await axeSerious(page, '.cst-root');
    assert.deepEqual(axe, [], `the dialog with the confirm step: ${JSON.stringify(axe, null, 1)}`);
    await page.keyboard.press('Enter');
    assert.equal(await activeText(page), 'Erase my data');
    assert.equal(await exportStatus(id), 200, 'Cancel erased nothing');

    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    assert.equal(await activeText(page), 'Confirm erase');
    const [res] = await Promise.all([page.waitForResponse(isDelete), page.keyboard.press('Enter')]);
    assert.equal(res.status(), 200);
    const receipt = await res.json();
    assert.equal(receipt.erased, true);
    assert.equal(receipt.consent_id, id);
    assert.equal(await exportStatus(id), 404);

    // Nothing optional ran, so no reload: the dialog closes and the first layer takes focus.
    await waitForBanner(page);
    await dialog(page).waitFor({ state: 'hidden' });
    assert.ok(await page.evaluate(() => !!document.activeElement.closest('.cst-banner')), 'focus moved to the banner');
    assert.equal(await page.locator('.cst-fab').isVisible(), false);
    assert.ok(await page.locator('.cst-toast', { hasText: 'erased' }).isVisible(), 'the erasure is announced');
    assert.ok(!(await page.evaluate(() => document.cookie)).includes('consentry'), 'no consentry cookie');
    assert.ok(!(await context.cookies()).some((c) => c.name === 'consentry'), 'no consentry cookie in the jar');
    assert.equal(await page.evaluate(() => window.consentry.consentId()), null);
    const cmds = await consentCommands(page);
    const [t, last] = cmds[cmds.length - 1];
    assert.equal(t, 'update');
    for (const s of SIGNALS) assert.equal(last[s], 'denied', s);

    // A new choice records a new id, not the erased one.
    const again = await decide(page, 'Reject all');
    assert.notEqual(again, id);
  });
});
