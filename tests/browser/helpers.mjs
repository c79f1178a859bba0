// Shared helpers for the browser tests: start the real server binary, launch Debian's
// Chromium through playwright-core, and read what the banner script left in the page.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const artifacts = path.join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/** The server binary (`target/debug/consentry` or `$CONSENTRY_BIN`). */
function serverBin() {
  const bin = path.resolve(repoRoot, process.env.CONSENTRY_BIN || 'target/debug/consentry');
  if (!existsSync(bin)) {
    throw new Error(`server binary ${bin} is missing: run \`cargo build\` first or set CONSENTRY_BIN`);
  }
  return bin;
}

/**
 * The tests' configuration, written beside the data folder: the tests poll exports and read
 * consents far more often than a visitor would, so the per-address rights budget and the
 * per-id budget are out of their way (the API tests check the budgets themselves).
 */
function testConfig(dataDir) {
  const file = `${dataDir}.test.toml`;
  writeFileSync(
    file,
    '[rights_rate_limit]\nburst = 100000\nper_minute = 100000\n' +
      '[consent_id_rate_limit]\nburst = 100000\nper_minute = 100000\n',
  );
  return file;
}

/**
 * Start `<bin> serve --listen 127.0.0.1:0 --data-dir <fresh dir>` and wait for its port.
 * Options: `dataDir` serves an existing folder instead (left in place by `stop()`), `args`
 * adds arguments after those.
 */
export async function startServer({ dataDir: given, args = [] } = {}) {
  const bin = serverBin();
  const dataDir = given || mkdtempSync(path.join(tmpdir(), 'consentry-browser-'));
  const config = args.includes('--config') ? [] : ['--config', testConfig(dataDir)];
  const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...config, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 30 s\nstdout: ${out}\nstderr: ${err}`)), 30000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/consentry: listening on (http:\/\/127\.0\.0\.1:(\d+))/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening\nstdout: ${out}\nstderr: ${err}`));
    });
  });
  child.stdout.resume();
  return {
    url,
    dataDir,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(t);
      }
      if (!given) rmSync(dataDir, { recursive: true, force: true });
      if (config.length) rmSync(config[1], { force: true });
    },
  };
}

/** Run the binary with `args` (e.g. `['keys', 'create', …]`); resolves to `{ code, stdout, stderr }`. */
export function runCli(args, { timeout = 120000 } = {}) {
  const bin = serverBin();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`consentry ${args.join(' ')} did not finish in ${timeout} ms\nstderr: ${stderr}`));
    }, timeout);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/**
 * A browser with a fresh temporary profile, and one page in it. `options` are Playwright
 * context options (viewport, colorScheme, reducedMotion, …); `initScript` runs before any
 * page script (e.g. to define navigator.globalPrivacyControl).
 */
export async function openBrowser(options = {}, initScript) {
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'consentry-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1024, height: 720 },
    ...options,
  });
  if (initScript) await context.addInitScript(initScript);
  const page = context.pages()[0] || (await context.newPage());
  const requests = [];
  page.on('request', (r) => requests.push({ method: r.method(), url: r.url(), body: r.postData() }));
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  return {
    context,
    page,
    requests,
    errors,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** The `gtag('consent', …)` commands in `window.dataLayer`, as `[type, params]` pairs. */
export function consentCommands(page) {
  return page.evaluate(() =>
    (window.dataLayer || [])
      .map((e) => Array.from(e))
      .filter((e) => e[0] === 'consent')
      .map((e) => [e[1], e[2]]),
  );
}

export const SIGNALS = ['ad_storage', 'ad_user_data', 'ad_personalization', 'analytics_storage'];

/** Requests to the consents endpoint (POST or GET) seen so far. */
export function consentRequests(requests) {
  return requests.filter((r) => /\/api\/v1\/sites\/[^/]+\/consents/.test(r.url));
}

/** The consent id from the first-party `consentry` cookie, or null. */
export async function consentIdFromCookie(context) {
  const c = (await context.cookies()).find((k) => k.name === 'consentry');
  if (!c) return null;
  return decodeURIComponent(c.value.split('.')[0]);
}

/** The server's record for a consent id: `{ status, body }`. */
export async function serverRecord(server, site, id) {
  const r = await fetch(`${server.url}/api/v1/sites/${site}/consents/${encodeURIComponent(id)}`);
  return { status: r.status, body: await r.json().catch(() => null) };
}

/**
 * A normal desktop Chrome User-Agent. Headless Chromium's own contains "HeadlessChrome", which
 * the events endpoint drops as a bot: open the browser with `{ userAgent: DESKTOP_UA }` in
 * tests that need events stored.
 */
export const DESKTOP_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/** Requests to the events endpoint seen so far, each with its parsed body (always an array). */
export function eventRequests(requests) {
  return requests
    .filter((r) => /\/api\/v1\/sites\/[^/]+\/events$/.test(r.url))
    .map((r) => {
      let body = null;
      try { body = JSON.parse(r.body); } catch { /* not JSON */ }
      return { ...r, events: body === null ? [] : [].concat(body) };
    });
}

/** The export of a consent id, asked as the server's own policy page asks (export answers only
 * requests from the site's or the server's pages). */
export function fetchExport(server, site, id) {
  return fetch(`${server.url}/api/v1/sites/${site}/consents/${encodeURIComponent(id)}/export`, {
    headers: { Origin: server.url },
  });
}

/** The events the server stored for a consent id (from its export), or [] if it has none. */
export async function storedEvents(server, site, id) {
  const r = await fetchExport(server, site, id);
  if (r.status === 404) return [];
  if (r.status !== 200) throw new Error(`export answered ${r.status}`);
  return (await r.json()).events;
}

/** Wait for the banner (first layer) to be visible. */
export async function waitForBanner(page) {
  await page.locator('.cst-banner').waitFor({ state: 'visible', timeout: 10000 });
}

/** Run axe-core on the page, restricted to `selector`; returns serious/critical violations. */
export async function axeSerious(page, selector) {
  const require = createRequire(import.meta.url);
  const source = require('axe-core').source;
  await page.evaluate(source);
  const res = await page.evaluate(async (sel) => {
    const r = await window.axe.run(sel, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ') + ': ' + n.failureSummary),
    }));
  }, selector);
  return res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Relative luminance contrast ratio of two CSS rgb()/rgba() colours. */
export function contrast(a, b) {
  const lum = (c) => {
    const [r, g, bl] = c.match(/[\d.]+/g).slice(0, 3).map(Number).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}
