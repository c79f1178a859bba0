// Browser tests of the tracker inside the banner script: pageviews, SPA navigation, custom
// events, outbound links and downloads, all gated on the stored consent. What the server
// stored is read back through the consent export, not only from the requests the page made.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, openBrowser, consentIdFromCookie, waitForBanner, DESKTOP_UA, eventRequests, storedEvents,
} from './helpers.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

async function withPage(fn, options = {}) {
  const b = await openBrowser({ userAgent: DESKTOP_UA, ...options });
  try {
    await fn(b);
    assert.deepEqual(b.errors.map(String), [], 'the page threw');
  } finally {
    await b.close();
  }
}

const isConsentPost = (r) => /\/consents$/.test(r.url()) && r.request().method() === 'POST';
const isEventPost = (r) => /\/events$/.test(r.url()) && r.request().method() === 'POST';
const bannerButton = (page, name) => page.locator('.cst-banner .cst-btns button', { hasText: name });
const dialogButton = (page, name) => page.locator('.cst-dlg .cst-btns button', { hasText: name });

/** Click a decision button and wait for the server to record it. */
async function decide(page, button) {
  const [res] = await Promise.all([page.waitForResponse(isConsentPost), button.click()]);
  assert.equal(res.status(), 201);
}

/** Poll the export until `pred(events)` holds (the store syncs asynchronously). */
async function waitStored(id, pred, what) {
  let events = [];
  for (let i = 0; i < 50; i++) {
    events = await storedEvents(server, 'demo', id);
    if (pred(events)) return events;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}; stored: ${JSON.stringify(events.map((e) => [e.name, e.path, e.category]))}`);
}

const pageviews = (events) => events.filter((e) => e.name === 'pageview');

/** Serve the demo page with extra attributes on the script tag and extra HTML at the end. */
async function editDemo(page, attrs, extra = '') {
  await page.route(server.url + '/', async (route) => {
    const res = await route.fetch();
    const html = (await res.text())
      .replace('data-site="demo"', `data-site="demo" ${attrs}`)
      .replace('</main>', `${extra}</main>`);
    await route.fulfill({ response: res, body: html });
  });
}

test('no request to the events endpoint is made before consent', async () => {
  await withPage(async ({ page, requests }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    await page.mouse.wheel(0, 1500);
    await page.locator('.main-nav a', { hasText: 'Product' }).click();
    // Two navigations within the site: a full page load, then back; plus SPA navigations.
    await page.goto(server.url + '/sites/demo/policy');
    await page.goBack();
    await waitForBanner(page);
    await page.evaluate(() => history.pushState({}, '', '/docs/quickstart'));
    await page.evaluate(() => history.pushState({}, '', '/pricing'));
    await page.evaluate(() => history.back());
    assert.equal(await page.evaluate(() => window.consentry.track('signup')), false);
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await page.waitForTimeout(1500);
    assert.deepEqual(eventRequests(requests), [], 'no events request before a choice');
  });
});

test('after Accept all a pageview is stored, and an SPA navigation stores a second one', async () => {
  await withPage(async ({ page, context, requests }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    const sent = page.waitForResponse(isEventPost);
    await decide(page, bannerButton(page, 'Accept all'));
    assert.equal((await sent).status(), 202);
    const id = await consentIdFromCookie(context);
    const first = await waitStored(id, (ev) => pageviews(ev).length === 1, 'one pageview with path /');
    assert.equal(pageviews(first)[0].path, '/');
    assert.equal(pageviews(first)[0].category, 'analytics');

    const next = page.waitForResponse(isEventPost);
    await page.evaluate(() => history.pushState({}, '', '/docs/quickstart'));
    // Same path again, or a hash change: no further pageview.
    await page.evaluate(() => history.replaceState({ x: 1 }, '', '/docs/quickstart#install'));
    assert.equal((await next).status(), 202);
    const both = await waitStored(id, (ev) => pageviews(ev).length >= 2, 'a second pageview after pushState');
    assert.deepEqual(pageviews(both).map((e) => e.path), ['/', '/docs/quickstart']);

    // The requests: the first pageview carries the document's referrer (none here), the SPA
    // one the previous URL; each request holds at most 10 events.
    const evs = eventRequests(requests).flatMap((r) => r.events);
    assert.deepEqual(evs.map((e) => [e.name, e.url]), [
      ['pageview', server.url + '/'],
      ['pageview', server.url + '/docs/quickstart'],
    ]);
    assert.equal(evs[0].referrer, undefined);
    assert.equal(evs[1].referrer, server.url + '/');
    assert.ok(evs.every((e) => e.consent_id === id));

    // Twelve custom events at once: one request of 10 at once, the other 2 a second later.
    await page.waitForTimeout(1200);
    const before = eventRequests(requests).length;
    await page.evaluate(() => { for (let i = 0; i < 12; i++) window.consentry.track('tick', { i }); });
    await page.waitForTimeout(1500);
    const batches = eventRequests(requests).slice(before).map((r) => r.events.length);
    assert.deepEqual(batches, [10, 2]);
    const stored = await waitStored(id, (ev) => ev.filter((e) => e.name === 'tick').length === 12, '12 tick events');
    assert.deepEqual(stored.filter((e) => e.name === 'tick').map((e) => e.props.i).sort((a, b) => a - b), [...Array(12).keys()]);
  });
});

test('after Reject all no events request is made and track returns false', async () => {
  await withPage(async ({ page, requests }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    await decide(page, bannerButton(page, 'Reject all'));
    await page.evaluate(() => history.pushState({}, '', '/docs/quickstart'));
    assert.equal(await page.evaluate(() => window.consentry.track('signup')), false);
    assert.equal(await page.evaluate(() => window.consentry.track('x', {}, { category: 'marketing' })), false);
    await page.waitForTimeout(1500);
    // A returning visitor with the refusal on record: still nothing.
    await page.goto(server.url + '/');
    await page.locator('.cst-fab').waitFor({ state: 'visible' });
    await page.evaluate(() => history.pushState({}, '', '/pricing'));
    await page.waitForTimeout(1500);
    assert.deepEqual(eventRequests(requests), []);
  });
});

test('a signup with analytics-only consent is dropped by the server and stored as marketing after Accept all', async () => {
  // Analytics only: the page sends it (it asks for analytics), the server maps signup to marketing.
  await withPage(async ({ page, context }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    await page.locator('.cst-banner button', { hasText: 'Customise' }).click();
    await page.locator('label[for="cst-c-analytics"]').click();
    await decide(page, dialogButton(page, 'Save choices'));
    const id = await consentIdFromCookie(context);
    await waitStored(id, (ev) => pageviews(ev).length === 1, 'the pageview under analytics consent');
    const res = page.waitForResponse((r) => isEventPost(r) && /"signup"/.test(r.request().postData() || ''));
    assert.equal(await page.evaluate(() => window.consentry.track('signup', { plan: 'pro' })), true);
    const answer = await (await res).json();
    assert.deepEqual(answer, { accepted: 0, dropped: [{ index: 0, reason: 'category_denied' }] });
    // Asking for marketing directly is refused in the page.
    assert.equal(await page.evaluate(() => window.consentry.track('signup', {}, { category: 'marketing' })), false);
    const stored = await storedEvents(server, 'demo', id);
    assert.deepEqual(stored.filter((e) => e.name === 'signup'), []);
  });

  await withPage(async ({ page, context }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    await decide(page, bannerButton(page, 'Accept all'));
    const id = await consentIdFromCookie(context);
    assert.equal(await page.evaluate(() => window.consentry.track('signup', { plan: 'pro' })), true);
    const stored = await waitStored(id, (ev) => ev.some((e) => e.name === 'signup'), 'the signup event');
    const signup = stored.filter((e) => e.name === 'signup');
    assert.equal(signup.length, 1);
    assert.equal(signup[0].category, 'marketing');
    assert.deepEqual(signup[0].props, { plan: 'pro' });
  });
});

test('withdrawing consent drops the queue and stops all sending', async () => {
  await withPage(async ({ page, context, requests }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    const sent = page.waitForResponse(isEventPost);
    await decide(page, bannerButton(page, 'Accept all'));
    await sent;
    const id = await consentIdFromCookie(context);
    await waitStored(id, (ev) => pageviews(ev).length === 1, 'the pageview after Accept all');

    // Queue an event, then withdraw before the queue's one second is up.
    assert.equal(await page.evaluate(() => window.consentry.track('queued')), true);
    const mark = requests.length;
    await page.locator('.cst-fab').click();
    // The analytics tag ran, so withdrawing reloads the page.
    const reloaded = page.waitForEvent('load');
    await decide(page, dialogButton(page, 'Reject all'));
    await reloaded;
    await page.locator('.cst-fab').waitFor({ state: 'visible' });
    await page.evaluate(() => history.pushState({}, '', '/docs/quickstart'));
    assert.equal(await page.evaluate(() => window.consentry.track('after')), false);
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await page.waitForTimeout(1500);
    assert.deepEqual(eventRequests(requests.slice(mark)), [], 'no events request after the withdrawal');
    const stored = await storedEvents(server, 'demo', id);
    assert.deepEqual(stored.map((e) => e.name), ['pageview']);
  });
});

test('outbound links and downloads are tracked only when the script tag opts in', async () => {
  const links = '<p><a id="out" href="https://elsewhere.example/page">out</a> '
    + '<a id="dl" href="/files/guide.pdf?v=2" download>dl</a> <a id="in" href="/sites/demo/policy">in</a></p>';
  await withPage(async ({ page, context, requests }) => {
    await page.route('https://elsewhere.example/**', (route) => route.fulfill({ contentType: 'text/html', body: '<p>away</p>' }));
    await page.route('**/files/guide.pdf*', (route) => route.fulfill({ contentType: 'application/pdf', headers: { 'Content-Disposition': 'attachment' }, body: '%PDF-1.4' }));
    await editDemo(page, 'data-track-outbound data-track-downloads', links);
    await page.goto(server.url + '/');
    await waitForBanner(page);
    await decide(page, bannerButton(page, 'Accept all'));
    const id = await consentIdFromCookie(context);
    await page.locator('#dl').click();
    await waitStored(id, (ev) => ev.some((e) => e.name === 'download'), 'the download event');
    // An outbound click leaves the page: the queue goes out as a beacon on pagehide.
    await Promise.all([page.waitForURL('https://elsewhere.example/page'), page.locator('#out').click()]);
    const stored = await waitStored(id, (ev) => ev.some((e) => e.name === 'outbound'), 'the outbound event');
    assert.deepEqual(
      stored.filter((e) => e.name !== 'pageview').map((e) => [e.name, e.props.url]),
      [['download', server.url + '/files/guide.pdf?v=2'], ['outbound', 'https://elsewhere.example/page']],
    );
    assert.ok(eventRequests(requests).length >= 2);
  });

  // Without the attributes the same clicks send nothing beyond the pageview.
  await withPage(async ({ page, context }) => {
    await page.route('**/files/guide.pdf*', (route) => route.fulfill({ contentType: 'application/pdf', headers: { 'Content-Disposition': 'attachment' }, body: '%PDF-1.4' }));
    await editDemo(page, '', links);
    await page.goto(server.url + '/');
    await waitForBanner(page);
    await decide(page, bannerButton(page, 'Accept all'));
    const id = await consentIdFromCookie(context);
    await page.locator('#dl').click();
    await page.waitForTimeout(1500);
    const stored = await waitStored(id, (ev) => pageviews(ev).length === 1, 'the pageview');
    assert.deepEqual(stored.map((e) => e.name), ['pageview']);
  });
});

test('data-track="off" keeps the banner but sends no events', async () => {
  await withPage(async ({ page, requests }) => {
    await editDemo(page, 'data-track="off"');
    await page.goto(server.url + '/');
    await waitForBanner(page);
    await decide(page, bannerButton(page, 'Accept all'));
    await page.evaluate(() => history.pushState({}, '', '/docs/quickstart'));
    assert.equal(await page.evaluate(() => window.consentry.track('signup')), false);
    await page.waitForTimeout(1500);
    assert.deepEqual(eventRequests(requests), []);
    assert.equal(await page.evaluate(() => window.demoAnalyticsRan), true, 'the banner still gates scripts');
  });
});
