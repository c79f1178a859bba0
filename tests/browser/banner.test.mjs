// Browser tests of the consent banner on the demo page, against the real server binary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { statSync } from 'node:fs';
import {
  startServer, openBrowser, consentCommands, consentRequests, consentIdFromCookie,
  serverRecord, waitForBanner, axeSerious, contrast, artifacts, SIGNALS,
} from './helpers.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

async function withPage(options, fn, initScript) {
  const b = await openBrowser(options, initScript);
  try {
    await fn(b);
    assert.deepEqual(b.errors.map(String), [], 'the page threw');
  } finally {
    await b.close();
  }
}

const isPost = (r) => /\/consents$/.test(r.url()) && r.request().method() === 'POST';
const flag = (page, name) => page.evaluate((n) => window[n], name);
const hasCookie = async (context, name) => (await context.cookies()).some((c) => c.name === name);
const bannerButton = (page, name) => page.locator('.cst-banner .cst-btns button', { hasText: name });
const dialog = (page) => page.locator('.cst-dlg[role="dialog"]');

async function acceptAll(page) {
  await waitForBanner(page);
  const [res] = await Promise.all([page.waitForResponse(isPost), bannerButton(page, 'Accept all').click()]);
  assert.equal(res.status(), 201);
  return res.json();
}

test('the banner appears with same-sized Accept and Reject buttons and nothing runs before a choice', async () => {
  await withPage({}, async ({ page, context, requests }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    const info = await page.evaluate(() => {
      const pick = (b) => {
        const s = getComputedStyle(b);
        const r = b.getBoundingClientRect();
        return {
          tag: b.tagName, type: b.type, text: b.textContent, width: r.width, height: r.height,
          fontSize: s.fontSize, fontWeight: s.fontWeight, padding: s.padding,
          color: s.color, background: s.backgroundColor,
        };
      };
      const banner = document.querySelector('.cst-banner');
      return {
        buttons: [...banner.querySelectorAll('.cst-btns > *')].map(pick),
        position: getComputedStyle(banner).position,
        title: banner.querySelector('h2').textContent,
        policy: banner.querySelector('a[href*="/policy"]')?.href,
        rootParent: document.querySelector('.cst-root').parentElement.tagName,
        bodyHasCstChildOnlyRoot: [...document.body.children].filter((e) => /cst-/.test(e.className)).length,
      };
    });
    const texts = info.buttons.map((b) => b.text);
    assert.deepEqual(texts, ['Reject all', 'Accept all', 'Customise']);
    for (const b of info.buttons) {
      assert.equal(b.tag, 'BUTTON');
      assert.equal(b.type, 'button');
      assert.ok(contrast(b.color, b.background) >= 4.5, `contrast of ${b.text}: ${contrast(b.color, b.background)}`);
    }
    const [reject, accept, customise] = info.buttons;
    for (const k of ['width', 'height', 'fontSize', 'fontWeight', 'padding', 'color', 'background']) {
      assert.equal(reject[k], accept[k], `Reject and Accept differ in ${k}`);
      assert.equal(customise[k], accept[k], `Customise and Accept differ in ${k}`);
    }
    assert.equal(info.position, 'fixed', 'the banner overlays the page');
    assert.ok(info.title.length > 0);
    assert.match(info.policy, /\/sites\/demo\/policy\?v=[0-9a-f]{12}$/);
    assert.equal(info.rootParent, 'BODY');
    assert.equal(info.bodyHasCstChildOnlyRoot, 1, 'one root element');

    await page.waitForTimeout(500);
    assert.equal(await flag(page, 'demoAnalyticsRan'), undefined);
    assert.equal(await flag(page, 'demoMarketingRan'), undefined);
    assert.doesNotMatch(await page.evaluate(() => document.cookie), /_demo_analytics|_demo_ads/);
    assert.equal(await hasCookie(context, 'consentry'), false);
    assert.deepEqual(consentRequests(requests), [], 'no consent request before a choice');
    const inert = await page.evaluate(() => ({
      scripts: document.querySelectorAll('script[type="text/plain"][data-category]').length,
      iframe: document.querySelector('iframe[data-category]')?.getAttribute('src') ?? null,
    }));
    assert.ok(inert.scripts >= 2, 'the gated scripts are still inert');
    assert.equal(inert.iframe, null, 'the gated iframe has no src');
  });
});

test('Consent Mode gets a denied default first and a granted update after Accept all', async () => {
  await withPage({}, async ({ page }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    const before = await consentCommands(page);
    assert.ok(before.length >= 1);
    const [type, params] = before[0];
    assert.equal(type, 'default');
    for (const s of SIGNALS) assert.equal(params[s], 'denied', s);
    assert.equal(params.functionality_storage, 'granted');
    assert.equal(params.security_storage, 'granted');
    assert.equal(params.wait_for_update, 500);
    assert.ok(before.every(([t]) => t === 'default'), 'no update before a choice');

    await acceptAll(page);
    const cmds = await consentCommands(page);
    const [lastType, last] = cmds[cmds.length - 1];
    assert.equal(lastType, 'update');
    for (const s of SIGNALS) assert.equal(last[s], 'granted', s);
  });
});

test('Accept all runs the gated examples, records a consent, and a reload keeps it without the banner', async () => {
  await withPage({}, async ({ page, context, requests }) => {
    await page.goto(server.url + '/');
    const record = await acceptAll(page);
    assert.equal(record.choices.analytics, true);
    assert.equal(record.choices.marketing, true);
    assert.equal(record.choices.necessary, true);
    const post = consentRequests(requests).find((r) => r.method === 'POST');
    const body = JSON.parse(post.body);
    assert.equal(body.action, 'accept_all');
    assert.equal(body.gpc, false);
    assert.equal(body.url, server.url + '/');

    await page.waitForFunction(() => window.demoAnalyticsRan === true && window.demoMarketingRan === true);
    assert.ok(await hasCookie(context, '_demo_analytics'));
    assert.ok(await hasCookie(context, '_demo_ads'));
    assert.equal(await page.locator('.cst-banner').isVisible(), false);
    assert.ok(await page.locator('.cst-fab').isVisible(), 'the floating settings button is shown');
    assert.match(await page.locator('iframe[data-category="marketing"]').getAttribute('src'), /./);

    const cookie = (await context.cookies()).find((c) => c.name === 'consentry');
    assert.equal(await consentIdFromCookie(context), record.consent_id);
    assert.equal(cookie.sameSite, 'Lax');
    assert.equal(cookie.path, '/');
    assert.ok(cookie.expires - Date.now() / 1000 <= 34128000 + 5, 'consent cookie lasts at most 395 days');
    const stored = await serverRecord(server, 'demo', record.consent_id);
    assert.equal(stored.status, 200);
    assert.equal(stored.body.choices.analytics, true);

    await page.reload();
    await page.locator('.cst-fab').waitFor({ state: 'visible' });
    await page.waitForFunction(() => window.demoAnalyticsRan === true);
    assert.equal(await page.locator('.cst-banner').isVisible(), false, 'no banner for a returning visitor');
    const cmds = await consentCommands(page);
    const update = cmds.find(([t]) => t === 'update');
    assert.ok(update, 'an update is pushed on load');
    for (const s of SIGNALS) assert.equal(update[1][s], 'granted', s);
    assert.equal(await page.evaluate(() => window.consentry.acceptedCategory('analytics')), true);
    assert.equal(await page.evaluate(() => window.consentry.consentId()), record.consent_id);
  });
});

test('Reject all from the floating button removes the analytics cookie and reloads without analytics', async () => {
  await withPage({}, async ({ page, context }) => {
    await page.goto(server.url + '/');
    const record = await acceptAll(page);
    await page.waitForFunction(() => window.demoAnalyticsRan === true);
    // A prefix-declared marketing cookie (`_adp_*`) set by a tag.
    await page.evaluate(() => { document.cookie = '_adp_segment=7; path=/'; });

    await page.locator('.cst-fab').click();
    await dialog(page).waitFor({ state: 'visible' });
    await Promise.all([
      page.waitForEvent('load'),
      dialog(page).locator('button', { hasText: 'Reject all' }).click(),
    ]);
    await page.locator('.cst-fab').waitFor({ state: 'visible' });
    assert.equal(await flag(page, 'demoAnalyticsRan'), undefined);
    assert.equal(await flag(page, 'demoMarketingRan'), undefined);
    const names = (await context.cookies()).map((c) => c.name);
    assert.ok(!names.includes('_demo_analytics'), `cookies: ${names}`);
    assert.ok(!names.includes('_demo_ads'), `cookies: ${names}`);
    assert.ok(!names.includes('_adp_segment'), `cookies: ${names}`);
    assert.ok(names.includes('consentry'));
    const cmds = await consentCommands(page);
    const [t, last] = cmds[cmds.length - 1];
    assert.equal(t, 'update');
    for (const s of SIGNALS) assert.equal(last[s], 'denied', s);
    assert.equal(await page.locator('.cst-banner').isVisible(), false);
    const stored = await serverRecord(server, 'demo', record.consent_id);
    assert.equal(stored.body.choices.analytics, false);
    assert.equal(stored.body.choices.marketing, false);
  });
});

test('the banner and dialog work with the keyboard alone', async () => {
  await withPage({}, async ({ page }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    const order = [];
    for (let i = 0; i < 40 && !order.includes('Customise'); i++) {
      await page.keyboard.press('Tab');
      const t = await page.evaluate(() => {
        const a = document.activeElement;
        return a && a.closest('.cst-banner .cst-btns') ? a.textContent : null;
      });
      if (t && !order.includes(t)) order.push(t);
    }
    assert.ok(order.includes('Accept all') && order.includes('Reject all'), `order: ${order}`);
    assert.ok(order.indexOf('Reject all') < order.indexOf('Accept all'), `Reject comes no later than Accept: ${order}`);
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Customise');
    const visible = await page.evaluate(() => getComputedStyle(document.activeElement, ':focus-visible') && document.activeElement.matches(':focus-visible'));
    assert.ok(visible, 'keyboard focus is visible');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none', 'a focus outline is drawn');

    await page.keyboard.press('Enter');
    await dialog(page).waitFor({ state: 'visible' });
    const state = await page.evaluate(() => ({
      inside: !!document.activeElement.closest('.cst-dlg'),
      modal: document.querySelector('.cst-dlg').getAttribute('aria-modal'),
      label: document.getElementById(document.querySelector('.cst-dlg').getAttribute('aria-labelledby'))?.textContent,
      boxes: [...document.querySelectorAll('.cst-dlg input[type=checkbox]')].map((i) => ({
        id: i.id, checked: i.checked, disabled: i.disabled, label: document.querySelector(`label[for="${i.id}"]`)?.textContent,
      })),
    }));
    assert.ok(state.inside, 'focus moved into the dialog');
    assert.equal(state.modal, 'true');
    assert.ok(state.label);
    const box = (id) => state.boxes.find((b) => b.id === 'cst-c-' + id);
    assert.deepEqual([box('necessary').checked, box('necessary').disabled], [true, true]);
    assert.deepEqual([box('analytics').checked, box('analytics').disabled], [false, false]);
    assert.deepEqual([box('marketing').checked, box('marketing').disabled], [false, false]);
    for (const b of state.boxes) assert.ok(b.label, `checkbox ${b.id} has a label`);

    // Focus is trapped: 60 Tabs never leave the dialog.
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press(i % 3 ? 'Tab' : 'Shift+Tab');
      assert.ok(await page.evaluate(() => !!document.activeElement.closest('.cst-dlg')), `focus left the dialog at ${i}`);
    }
    // Tab to the analytics toggle, Space toggles it.
    for (let i = 0; i < 30 && (await page.evaluate(() => document.activeElement.id)) !== 'cst-c-analytics'; i++) {
      await page.keyboard.press('Tab');
    }
    await page.keyboard.press('Space');
    assert.equal(await page.locator('#cst-c-analytics').isChecked(), true);
    // Tab to Save and press Enter.
    for (let i = 0; i < 30 && (await page.evaluate(() => document.activeElement.textContent)) !== 'Save choices'; i++) {
      await page.keyboard.press('Tab');
    }
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Save choices');
    const [res] = await Promise.all([page.waitForResponse(isPost), page.keyboard.press('Enter')]);
    assert.equal(res.status(), 201);
    const saved = await res.json();
    const stored = await serverRecord(server, 'demo', saved.consent_id);
    assert.equal(stored.status, 200);
    assert.equal(stored.body.choices.analytics, true);
    assert.equal(stored.body.choices.marketing, false);
    await page.waitForFunction(() => window.demoAnalyticsRan === true);
    assert.equal(await flag(page, 'demoMarketingRan'), undefined);
    await dialog(page).waitFor({ state: 'hidden' });
    assert.ok(await page.locator('.cst-toast').isVisible(), 'a saved status is shown');

    // Reopen from the floating button with the keyboard: it reflects the choice; Esc closes
    // and focus returns to the opener.
    await page.locator('.cst-fab').focus();
    await page.keyboard.press('Enter');
    await dialog(page).waitFor({ state: 'visible' });
    assert.equal(await page.locator('#cst-c-analytics').isChecked(), true);
    assert.equal(await page.locator('#cst-c-marketing').isChecked(), false);
    await page.keyboard.press('Escape');
    await dialog(page).waitFor({ state: 'hidden' });
    assert.equal(await page.evaluate(() => document.activeElement.className), 'cst-fab');
  });
});

test('Esc or the close button on the first layer records nothing and keeps gated scripts inert', async () => {
  await withPage({}, async ({ page, context, requests }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    await page.keyboard.press('Escape');
    await page.locator('.cst-banner').waitFor({ state: 'hidden' });
    assert.ok(await page.locator('.cst-fab').isVisible(), 'the floating button lets the visitor choose later');
    await page.waitForTimeout(300);
    assert.deepEqual(consentRequests(requests), []);
    assert.equal(await hasCookie(context, 'consentry'), false);
    assert.equal(await flag(page, 'demoAnalyticsRan'), undefined);
    assert.equal(await page.locator('script[type="text/plain"][data-category="analytics"]').count(), 1);
    const cmds = await consentCommands(page);
    assert.ok(cmds.every(([t]) => t === 'default'), 'no consent update');

    // Next page view: asked again, and the × button behaves the same.
    await page.reload();
    await waitForBanner(page);
    await page.locator('.cst-banner .cst-x').click();
    await page.locator('.cst-banner').waitFor({ state: 'hidden' });
    await page.waitForTimeout(300);
    assert.deepEqual(consentRequests(requests), []);
    assert.equal(await flag(page, 'demoAnalyticsRan'), undefined);
  });
});

test('with Global Privacy Control on, Accept all keeps marketing off and says so', async () => {
  await withPage({}, async ({ page, requests }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    const bannerReq = requests.find((r) => /\/banner\?/.test(r.url));
    assert.match(bannerReq.url, /[?&]gpc=1/);
    const note = page.locator('.cst-banner .cst-gpc');
    assert.ok(await note.isVisible(), 'the GPC notice is shown in the banner');
    assert.match(await note.textContent(), /Global Privacy Control/);
    const record = await acceptAll(page);
    const body = JSON.parse(consentRequests(requests).find((r) => r.method === 'POST').body);
    assert.equal(body.gpc, true);
    assert.equal(record.choices.marketing, false);
    const stored = await serverRecord(server, 'demo', record.consent_id);
    assert.equal(stored.body.choices.marketing, false);
    assert.equal(stored.body.choices.analytics, true);
    assert.equal(stored.body.gpc, true);
    await page.waitForFunction(() => window.demoAnalyticsRan === true);
    assert.equal(await flag(page, 'demoMarketingRan'), undefined);
    const cmds = await consentCommands(page);
    const last = cmds[cmds.length - 1][1];
    assert.equal(last.analytics_storage, 'granted');
    assert.equal(last.ad_storage, 'denied');
    assert.equal(last.ad_user_data, 'denied');

    await page.locator('.cst-fab').click();
    await dialog(page).waitFor({ state: 'visible' });
    assert.ok(await page.locator('.cst-dlg .cst-gpc').isVisible(), 'the GPC notice is shown in the dialog');
    assert.equal(await page.locator('#cst-c-marketing').isChecked(), false);
    assert.equal(await page.locator('#cst-c-marketing').isDisabled(), true);
  }, () => {
    Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true });
  });
});

test('the banner and the preferences dialog have no serious accessibility violations, light and dark', async () => {
  for (const colorScheme of ['light', 'dark']) {
    await withPage({ colorScheme }, async ({ page }) => {
      await page.goto(server.url + '/');
      await waitForBanner(page);
      await page.waitForTimeout(400);
      const banner = await axeSerious(page, '.cst-root');
      assert.deepEqual(banner, [], `${colorScheme} banner: ${JSON.stringify(banner, null, 1)}`);
      await bannerButton(page, 'Customise').click();
      await dialog(page).waitFor({ state: 'visible' });
      await page.locator('.cst-dlg details').first().evaluate((d) => { d.open = true; });
      const dlg = await axeSerious(page, '.cst-root');
      assert.deepEqual(dlg, [], `${colorScheme} dialog: ${JSON.stringify(dlg, null, 1)}`);
    });
  }
});

test('the banner fits a 320 px wide screen with equal stacked buttons', async () => {
  await withPage({ viewport: { width: 320, height: 640 }, reducedMotion: 'reduce' }, async ({ page }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    const m = await page.evaluate(() => {
      const r = document.querySelector('.cst-banner').getBoundingClientRect();
      const bs = [...document.querySelectorAll('.cst-banner .cst-btns button')].map((b) => b.getBoundingClientRect());
      const scrollW = document.documentElement.scrollWidth;
      document.querySelector('.cst-root').style.display = 'none';
      const pageScrollW = document.documentElement.scrollWidth;
      document.querySelector('.cst-root').style.display = '';
      return { left: r.left, right: r.right, vw: innerWidth, widths: bs.map((b) => b.width), heights: bs.map((b) => b.height), scrollW, pageScrollW };
    });
    assert.ok(m.left >= 0 && m.right <= m.vw, `banner within the viewport: ${JSON.stringify(m)}`);
    const spread = (xs) => Math.max(...xs) - Math.min(...xs);
    assert.ok(spread(m.widths) < 0.5, `same widths: ${m.widths}`);
    assert.ok(spread(m.heights) < 0.5, `same heights: ${m.heights}`);
    assert.ok(m.widths[0] > 200, 'the buttons are stacked full width');
    assert.equal(m.scrollW, m.pageScrollW, 'the banner adds no horizontal scrolling');
  });
});

test('screenshots of the first layer, the preferences and the dark theme are saved', async () => {
  const shots = { banner: path.join(artifacts, 'banner.png'), preferences: path.join(artifacts, 'preferences.png'), dark: path.join(artifacts, 'banner-dark.png') };
  await withPage({ reducedMotion: 'reduce' }, async ({ page }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    await page.screenshot({ path: shots.banner, animations: 'disabled' });
    await bannerButton(page, 'Customise').click();
    await dialog(page).waitFor({ state: 'visible' });
    await page.screenshot({ path: shots.preferences, animations: 'disabled' });
  });
  await withPage({ colorScheme: 'dark', reducedMotion: 'reduce' }, async ({ page }) => {
    await page.goto(server.url + '/');
    await waitForBanner(page);
    const bg = await page.locator('.cst-banner').evaluate((b) => getComputedStyle(b).backgroundColor);
    assert.notEqual(bg, 'rgb(255, 255, 255)', 'the dark theme applies');
    await page.screenshot({ path: shots.dark, animations: 'disabled' });
  });
  for (const f of Object.values(shots)) assert.ok(statSync(f).size > 2000, `${f} written`);
});
