// The embedded policy: <div data-consentry-policy></div> on the site's own page, in the
// visitor's language, kept in step with the banner and the dialog.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, openBrowser, waitForBanner, artifacts } from './helpers.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

/** The English texts the German page must not show (the catalogue's, for what the embed uses). */
const ENGLISH = [
  'Privacy preferences', 'Reject all', 'Accept all', 'Save choices', 'Always on', 'Services',
  'Your data', 'Download my data', 'Erase my data', 'Cancel', 'Confirm erase', 'Privacy policy',
  'Essential', 'Analytics', // ("Marketing" is German too)
];

async function germanShopPage(page) {
  const url = server.url + '/datenschutz';
  await page.route(url, (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><html lang="de"><head><meta charset="utf-8"><title>Datenschutz</title>
             <meta name="viewport" content="width=device-width, initial-scale=1"></head>
             <body style="margin:0;padding:1rem;font-family:sans-serif">
             <h1>Datenschutz</h1><p>Ihre Einstellungen für diese Website:</p>
             <div data-consentry-policy></div>
             <script src="${server.url}/consent.js" data-site="demo" defer></script></body></html>`,
    }),
  );
  await page.goto(url);
}

const embed = (page) => page.locator('.cst-emb');
const choice = (page) => page.evaluate(() => ((window.consentry.getConsent() || {}).choices || {}));

test('the embedded policy speaks German, starts unticked, follows the banner and its own choices reach the dialog', async () => {
  const b = await openBrowser();
  try {
    const { page } = b;
    await germanShopPage(page);
    await waitForBanner(page);
    await embed(page).waitFor();
    assert.equal(await embed(page).locator('h2').textContent(), 'Datenschutz-Einstellungen');
    assert.equal(await page.locator('#cst-e-analytics').isChecked(), false, 'nothing pre-ticked');
    assert.equal(await embed(page).locator('.cst-rt').isVisible(), false, 'no data to show yet');

    await page.locator('.cst-banner button', { hasText: 'Alle akzeptieren' }).click();
    await page.waitForFunction(() => window.consentry.getConsent());
    assert.equal(await page.locator('#cst-e-analytics').isChecked(), true, 'the banner choice shows');
    await embed(page).locator('.cst-rt', { hasText: 'Ihre Daten' }).waitFor();
    const text = await embed(page).innerText();
    for (const english of ENGLISH) {
      assert.ok(!text.includes(english), `English "${english}" in the German embed:\n${text}`);
    }
    await page.locator('.cst-toast').waitFor({ state: 'hidden', timeout: 6000 });
    await page.screenshot({ path: path.join(artifacts, 'embedded-policy-de.png'), fullPage: true });

    await embed(page).locator('button', { hasText: 'Alle ablehnen' }).click();
    await page.waitForFunction(() => window.consentry.getConsent().choices.analytics === false);
    assert.deepEqual(await choice(page), { necessary: true, analytics: false, marketing: false });
    assert.equal(await page.locator('#cst-e-analytics').isChecked(), false);
    await page.locator('.cst-fab').click();
    assert.equal(await page.locator('#cst-c-analytics').isChecked(), false, 'the dialog agrees');
    await page.keyboard.press('Escape');

    // Erase from the embed: two steps, then it hides "Your data" and the banner asks again.
    await embed(page).locator('button', { hasText: 'Meine Daten löschen' }).click();
    await embed(page).locator('button', { hasText: 'Löschen bestätigen' }).click();
    await waitForBanner(page);
    assert.equal(await embed(page).locator('.cst-rt').isVisible(), false);
  } finally {
    await b.close();
  }
});

test('the embedded policy fits a phone screen', async () => {
  const b = await openBrowser({ viewport: { width: 375, height: 740 }, isMobile: true });
  try {
    const { page } = b;
    await germanShopPage(page);
    await embed(page).waitFor();
    await page.locator('.cst-banner button', { hasText: 'Alle akzeptieren' }).click();
    await embed(page).locator('.cst-rt', { hasText: 'Ihre Daten' }).waitFor();
    const width = await embed(page).evaluate((e) => e.getBoundingClientRect().right);
    assert.ok(width <= 375, `the embed is ${width} px wide on a 375 px screen`);
    await page.locator('.cst-toast').waitFor({ state: 'hidden', timeout: 6000 });
    await page.screenshot({ path: path.join(artifacts, 'embedded-policy-de-phone.png'), fullPage: true });
  } finally {
    await b.close();
  }
});

test('on the hosted policy page the Do Not Sell button and the Your data heading do not touch', async () => {
  const b = await openBrowser();
  try {
    const { page } = b;
    await page.goto(server.url + '/sites/demo/policy');
    const button = await page.locator('#do-not-sell button').boundingBox();
    const heading = await page.locator('#your-data-h').boundingBox();
    const gap = heading.y - (button.y + button.height);
    assert.ok(gap >= 16, `${gap} px between them`);
  } finally {
    await b.close();
  }
});

test('a German visitor meets no English word of the catalogue in the banner, the dialog or Your data', async () => {
  const texts = async (lang) =>
    (await (await fetch(`${server.url}/api/v1/sites/demo/banner?lang=${lang}`)).json()).texts;
  const [en, de] = await Promise.all([texts('en'), texts('de')]);
  // Words both languages share ("OK", "Cookies") cannot tell them apart.
  const english = Object.keys(en).filter((k) => en[k] !== de[k]).map((k) => en[k]);
  const b = await openBrowser({ locale: 'de-DE' });
  try {
    const { page } = b;
    const seen = [];
    // The banner and dialog (in the script's root) and the embedded policy: everything it shows.
    const look = async (where) => {
      const all = await page.locator('.cst-root').allInnerTexts();
      seen.push([where, all.join('\n')]);
    };
    await germanShopPage(page);
    await waitForBanner(page);
    await look('banner');
    await page.locator('.cst-banner button', { hasText: 'Anpassen' }).click();
    await look('dialog');
    await page.locator('.cst-dlg button', { hasText: 'Alle akzeptieren' }).click();
    await page.waitForFunction(() => window.consentry.getConsent());
    await page.locator('.cst-fab').click();
    await page.locator('.cst-dlg .cst-rt button', { hasText: 'Meine Daten löschen' }).click();
    await look('Your data, erase step');
    assert.ok(english.length > 20, 'the catalogue has English texts to look for');
    for (const [where, text] of seen) {
      assert.ok(text.includes(de.reject_all), `the ${where} was read: ${text}`);
      for (const word of english) {
        assert.ok(!text.includes(word), `English "${word}" in the ${where}:\n${text}`);
      }
    }
  } finally {
    await b.close();
  }
});

test('a German visitor reads the hosted policy page in German: no sentence of the English page is left', async () => {
  // What the page itself says (headings, prose, labels, buttons), not the site's own names.
  const OWN_WORDS = 'h1, h2, h3, .toc li, .lead, .summary li, .policy p, legend, button, .rights-list li, ' +
    '.ways li, caption, thead th, tbody th:not(:has(code)), .badge, dt, .site-footer li';
  const sentences = async (page) => (await page.locator(OWN_WORDS).allInnerTexts())
    .map((t) => t.replace(/\s+/g, ' ').trim())
    .filter((t) => t.split(' ').length >= 3 && t !== 'Global Privacy Control'); // a name, kept as is
  const en = await openBrowser({ locale: 'en-GB' });
  let english;
  try {
    await en.page.goto(server.url + '/sites/demo/policy');
    assert.equal(await en.page.locator('html').getAttribute('lang'), 'en');
    english = await sentences(en.page);
  } finally {
    await en.close();
  }
  assert.ok(english.length > 60, `the English page has sentences to look for (${english.length})`);
  for (const [name, viewport] of [['hosted-policy-de.png', { width: 1280, height: 900 }],
    ['hosted-policy-de-phone.png', { width: 390, height: 844 }]]) {
    const b = await openBrowser({ locale: 'de-DE', viewport });
    try {
      const { page } = b;
      await page.goto(server.url + '/sites/demo/policy');
      assert.equal(await page.locator('html').getAttribute('lang'), 'de');
      assert.equal(await page.locator('#rights-h').textContent(), 'Ihre Rechte');
      assert.equal(await page.locator('.actions button[value="reject_all"]').textContent(), 'Alle ablehnen');
      const text = (await page.locator('body').innerText()).replace(/\s+/g, ' ');
      for (const s of english) assert.ok(!text.includes(s), `English on the German page: "${s}"`);
      assert.doesNotMatch(text, /\{[a-z_]+\}/, 'every placeholder is filled');
      await page.screenshot({ path: path.join(artifacts, name), fullPage: true });
    } finally {
      await b.close();
    }
  }
});
