// Loads the analytics dashboard in headless Chromium, waits until it has drawn real data at
// least twice, reports what the page shows (from the DOM and the canvases' pixels) as JSON,
// and saves a screenshot. The Rust test (tests/it/analytics_browser.rs) decides what is right.
//
//   node analytics.mjs <dashboard url> <out.json> <screenshot.png>
//
// The browser is Debian's chromium (CHROMIUM overrides the path); nothing is downloaded.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

const [url, outPath, screenshotPath] = process.argv.slice(2);
if (!url || !outPath || !screenshotPath) {
  console.error('usage: node analytics.mjs <dashboard url> <out.json> <screenshot.png>');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const userDataDir = await mkdtemp(join(tmpdir(), 'armature-analytics-chromium-'));

// Runs in the page: what it shows.
function observe() {
  const inked = (id) => {
    const canvas = document.getElementById(id);
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
    return { points: Number(canvas.dataset.points || 0), inkedPixels: n, width: canvas.width };
  };
  const cells = (sel) => [...document.querySelectorAll(`${sel} tbody tr`)].map((tr) =>
    [...tr.children].map((td) => td.textContent));
  return {
    drawn: Number(document.body.dataset.drawn || 0),
    routes: Number(document.body.dataset.routes || 0),
    errorPoints: Number(document.body.dataset.errorPoints || 0),
    rps: inked('rps'),
    latency: inked('latency'),
    errors: inked('errors'),
    routeRows: cells('#routes'),
    consumerRows: cells('#consumers'),
    kpiRequests: document.getElementById('k-requests').textContent,
    status: document.getElementById('status').textContent,
    lastTotal: window.analytics.last && window.analytics.last.total,
    externalResources: performance.getEntriesByType('resource')
      .map((e) => e.name).filter((n) => !n.startsWith(location.origin)),
  };
}

const consoleLines = [];
let result = null;
let failure;
let browser;
try {
  browser = await puppeteer.launch({
    executablePath,
    headless: true,
    userDataDir,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on('console', (msg) => consoleLines.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => consoleLines.push(`pageerror: ${err}`));
  const nav = await page.goto(url, { waitUntil: 'load' });
  if (!nav || !nav.ok()) throw new Error(`could not load ${url}: ${nav && nav.status()}`);
  // Two draws with data: the second has a requests/s point (a difference of two polls).
  await page.waitForFunction(() => Number(document.body.dataset.drawn || 0) >= 3, { timeout: 30000 });
  result = await page.evaluate(observe);
  await page.screenshot({ path: screenshotPath, fullPage: true });
} catch (err) {
  failure = String(err && err.stack ? err.stack : err);
} finally {
  if (browser) await browser.close().catch(() => {});
  await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
}

await writeFile(outPath, JSON.stringify({ result, console: consoleLines, failure: failure ?? null }, null, 2));
if (failure) {
  console.error(failure);
  process.exit(1);
}
