// Browser tests of the tracker inside the banner script: pageviews, SPA navigation, custom
// events, outbound links and downloads, all gated on the stored consent. What the server
// stored is read back through the consent export, not only from the requests the page made.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, openBrowser, waitForBanner, DESKTOP_UA, eventRequests, storedEvents,
} from './helpers.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

async function withPage(fn, initScript) {
  const b = await openBrowser({ userAgent: DESKTOP_UA }, initScript);
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

/** Click a decision button, wait for the page to apply the recorded decision; its consent id. */
async function decide(page, button) {
  const [res] = await Promise.all([page.waitForResponse(isConsentPost), button.click()]);
  assert.equal(res.status(), 201);
  const id = (await res.json()).consent_id;
  await page.waitForFunction((i) => window.consentry.getConsent()?.consent_id === i && document.cookie.includes(i), id);
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
  assert.fail(`${what}; stored: ${JSON.stringify(events.map((e) => [e.name, e.path, e.category]))}`);
}

const pageviews = (events) => events.filter((e) => e.name === 'pageview');

/** The server's count of events dropped for `reason` (from GET /metrics). */
async function droppedCount(reason) {
  const text = await (await fetch(server.url + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith('consentry_events_dropped_total') && l.includes(`reason="${reason}"`));
  return line ? Number(line.trim().split(/\s+/).pop()) : 0;
}

/**
 * An init script that sets attributes on the demo page's script tag as the parser inserts it
 * (before the deferred script runs). Not page.route: with request interception on, Chromium
 * aborts a beacon sent while the page unloads.
 */
const scriptAttrs = (attrs) => `new MutationObserver((m, o) => {
  const s = document.querySelector('script[data-site]');
  if (!s) return;
  o.disconnect();
  for (const [k, v] of ${JSON.stringify(Object.entries(attrs))}) s.setAttribute(k, v);
}).observe(document, { childList: true, subtree: true });`;

/**
 * An init script that records every navigator.sendBeacon call (URL, Blob type and body) in the
 * origin's localStorage, synchronously, so it survives the page's unload.
 */
const beaconSpy = `(() => {
  const B = window.Blob;
  window.Blob = class extends B { constructor(p, o) { super(p, o); this.parts = p; } };
  const send = navigator.sendBeacon.bind(navigator);
  navigator.sendBeacon = (u, d) => {
    const log = JSON.parse(localStorage.getItem('beacons') || '[]');
    log.push({ url: u, type: d && d.type, body: d && d.parts ? d.parts.join('') : String(d) });
    localStorage.setItem('beacons', JSON.stringify(log));
    return send(u, d);
  };
})();`;
const beacons = (page) => page.evaluate(() => JSON.parse(localStorage.getItem('beacons') || '[]'));

/** Make the page report itself hidden for one visibilitychange event. */
const hide = (page) => page.evaluate(() => {
  Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
  document.dispatchEvent(new Event('visibilitychange'));
  delete document.visibilityState;
});

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
    await hide(page);
    await page.waitForTimeout(1500);
    assert.deepEqual(eventRequests(requests), [], 'no events request before a choice');
    assert.deepEqual(await beacons(page), [], 'and no beacon');
  }, beaconSpy);
});

test('after Accept all a pageview is stored, and an SPA navigation stores a second one', async () => {
  await withPage(async ({ page, context, requests }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    const sent = page.waitForResponse(isEventPost);
    const id = await decide(page, bannerButton(page, 'Accept all'));
    assert.equal((await sent).status(), 202);
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
    await hide(page);
    await page.waitForTimeout(1500);
    assert.deepEqual(eventRequests(requests), []);
    assert.deepEqual(await beacons(page), []);
  }, beaconSpy);
});

test('a signup with analytics-only consent is dropped by the server and stored as marketing after Accept all', async () => {
  // Analytics only: the page sends it (it asks for analytics), the server maps signup to marketing.
  await withPage(async ({ page, context }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    await page.locator('.cst-banner button', { hasText: 'Customise' }).click();
    await page.locator('label[for="cst-c-analytics"]').click();
    const id = await decide(page, dialogButton(page, 'Save choices'));
    await waitStored(id, (ev) => pageviews(ev).length === 1, 'the pageview under analytics consent');
    const denied = await droppedCount('category_denied');
    const res = page.waitForResponse((r) => isEventPost(r) && /"signup"/.test(r.request().postData() || ''));
    assert.equal(await page.evaluate(() => window.consentry.track('signup', { plan: 'pro' })), true);
    assert.equal((await res).status(), 202, 'the page sent it; the server decides');
    assert.equal(await droppedCount('category_denied'), denied + 1, 'dropped as category_denied');
    // Asking for marketing directly is refused in the page.
    assert.equal(await page.evaluate(() => window.consentry.track('signup', {}, { category: 'marketing' })), false);
    const stored = await storedEvents(server, 'demo', id);
    assert.deepEqual(stored.filter((e) => e.name === 'signup'), []);
  });

  await withPage(async ({ page, context }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    const id = await decide(page, bannerButton(page, 'Accept all'));
    assert.equal(await page.evaluate(() => window.consentry.track('signup', { plan: 'pro' })), true);
    const stored = await waitStored(id, (ev) => ev.some((e) => e.name === 'signup'), 'the signup event');
    const signup = stored.filter((e) => e.name === 'signup');
    assert.equal(signup.length, 1);
    assert.equal(signup[0].category, 'marketing');
    assert.deepEqual(signup[0].props, { plan: 'pro' });
  });
});

test('withdrawing consent drops the queue and stops all sending', async () => {
  await withPage(async ({ page, requests }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    const sent = page.waitForResponse(isEventPost);
    const id = await decide(page, bannerButton(page, 'Accept all'));
    await sent;
    await waitStored(id, (ev) => pageviews(ev).length === 1, 'the pageview after Accept all');

    // Queue an event, then at once reopen the preferences and withdraw (Reject all). The
    // analytics tag ran, so the withdrawal reloads the page (a pagehide with a queue).
    const mark = requests.length;
    const reloaded = page.waitForEvent('load');
    const [res] = await Promise.all([
      page.waitForResponse(isConsentPost),
      page.evaluate(() => {
        const queued = window.consentry.track('queued');
        document.querySelector('.cst-fab').click();
        [...document.querySelectorAll('.cst-dlg .cst-btns button')].find((b) => b.textContent === 'Reject all').click();
        return queued;
      }).then((queued) => assert.equal(queued, true)),
    ]);
    assert.equal(res.status(), 201);
    await reloaded;
    await page.locator('.cst-fab').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => window.consentry.acceptedCategory('analytics')), false);
    await page.evaluate(() => history.pushState({}, '', '/docs/quickstart'));
    assert.equal(await page.evaluate(() => window.consentry.track('after')), false);
    await hide(page);
    await page.waitForTimeout(1500);
    assert.deepEqual(eventRequests(requests.slice(mark)), [], 'no events request after the withdrawal');
    assert.deepEqual(await beacons(page), [], 'no beacon either (not even on the pagehide of the reload)');
    const stored = await storedEvents(server, 'demo', id);
    assert.deepEqual(stored.map((e) => e.name), ['pageview']);
  }, beaconSpy);
});

test('outbound links and downloads are tracked only when the script tag opts in', async () => {
  // The outbound link goes to another host of the same server (localhost vs 127.0.0.1); the
  // download link's navigation is cancelled by the page.
  const other = server.url.replace('127.0.0.1', 'localhost');
  const addLinks = (page) => page.evaluate((o) => {
    document.querySelector('main').insertAdjacentHTML('beforeend', `<p><a id="out" href="${o}/sites/demo/policy">out</a>
      <a id="dl" href="/files/guide.pdf?v=2">dl</a> <a id="in" href="/sites/demo/policy#rights">in</a></p>`);
    document.getElementById('dl').addEventListener('click', (e) => e.preventDefault());
    document.getElementById('in').addEventListener('click', (e) => e.preventDefault());
  }, other);

  await withPage(async ({ page, context }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    const id = await decide(page, bannerButton(page, 'Accept all'));
    await waitStored(id, (ev) => pageviews(ev).length === 1, 'the pageview');
    await addLinks(page);
    await page.locator('#in').click();
    await page.locator('#dl').click();
    // The page is hidden before the queue's second is up: the download goes out as a beacon.
    await hide(page);
    const stored = await waitStored(id, (ev) => ev.some((e) => e.name === 'download'), 'the download event');
    assert.deepEqual(stored.filter((e) => e.name !== 'pageview').map((e) => [e.name, e.props.url]),
      [['download', server.url + '/files/guide.pdf?v=2']]);
    const sent = await beacons(page);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].url, server.url + '/api/v1/sites/demo/events');
    assert.equal(sent[0].type, 'application/json');
    assert.deepEqual(JSON.parse(sent[0].body).map((e) => e.name), ['download']);

    // An outbound click leaves the page at once: the queue goes out as a beacon on pagehide.
    // (Chromium under Playwright aborts requests made while a page unloads, so the beacon is
    // checked as the page handed it over rather than read back from the server.)
    await Promise.all([page.waitForURL(/localhost/), page.locator('#out').click()]);
    await page.goBack();
    const left = (await beacons(page)).slice(1);
    assert.equal(left.length, 1, 'one beacon on pagehide');
    assert.deepEqual(JSON.parse(left[0].body).map((e) => [e.name, e.consent_id, e.category, e.props]),
      [['outbound', id, 'analytics', { url: other + '/sites/demo/policy' }]]);
  }, scriptAttrs({ 'data-track-outbound': '', 'data-track-downloads': '' }) + beaconSpy);

  // Without the attributes the same clicks send nothing beyond the pageview.
  await withPage(async ({ page, context }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    const id = await decide(page, bannerButton(page, 'Accept all'));
    await waitStored(id, (ev) => pageviews(ev).length === 1, 'the pageview');
    await addLinks(page);
    await page.locator('#dl').click();
    await hide(page);
    await Promise.all([page.waitForURL(/localhost/), page.locator('#out').click()]);
    await page.goBack();
    await page.waitForTimeout(1000);
    assert.deepEqual(await beacons(page), []);
    // Only pageviews (coming back loads the page again).
    const stored = await storedEvents(server, 'demo', id);
    assert.deepEqual([...new Set(stored.map((e) => e.name))], ['pageview']);
  }, beaconSpy);
});

test('data-track="off" keeps the banner but sends no events', async () => {
  await withPage(async ({ page, requests }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    await decide(page, bannerButton(page, 'Accept all'));
    await page.evaluate(() => history.pushState({}, '', '/docs/quickstart'));
    assert.equal(await page.evaluate(() => window.consentry.track('signup')), false);
    await page.waitForTimeout(1500);
    assert.deepEqual(eventRequests(requests), []);
    assert.equal(await page.evaluate(() => window.demoAnalyticsRan), true, 'the banner still gates scripts');
  }, scriptAttrs({ 'data-track': 'off' }));
});
