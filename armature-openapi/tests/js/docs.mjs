// Opens Swagger UI in headless Chromium with every request to another origin aborted, runs
// try-it-out on one operation and writes what the page shows as JSON. The Rust test
// (tests/docs_browser.rs) decides what is right; this script only reports.
//
//   node docs.mjs <config.json> <out.json>
//
// config: { page, origin, operation: "<DOM id of the operation>", params: { name: value },
//           screenshot: "<png path>" }
// out: { status, body, blocked: [urls], console: [...], failure }
//
// The browser is Debian's chromium (CHROMIUM overrides the path); nothing is downloaded.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

const [configPath, outPath] = process.argv.slice(2);
if (!configPath || !outPath) {
  console.error('usage: node docs.mjs <config.json> <out.json>');
  process.exit(2);
}
const config = JSON.parse(await readFile(configPath, 'utf8'));
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const userDataDir = await mkdtemp(join(tmpdir(), 'armature-docs-chromium-'));

const out = { status: null, body: null, blocked: [], console: [], failure: null };
let browser;
try {
  browser = await puppeteer.launch({
    executablePath,
    headless: true,
    userDataDir,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--window-size=1280,1400',
    ],
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1400 });
  page.on('console', (msg) => out.console.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => out.console.push(`pageerror: ${err}`));
  // The network is the server and nothing else.
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    const url = req.url();
    if (url.startsWith(config.origin + '/') || url.startsWith('data:') || url.startsWith('blob:')) {
      req.continue();
    } else {
      out.blocked.push(url);
      req.abort('blockedbyclient');
    }
  });
  const nav = await page.goto(config.page, { waitUntil: 'networkidle0' });
  if (!nav || !nav.ok()) throw new Error(`could not load ${config.page}: ${nav && nav.status()}`);
  const op = `#${config.operation}`;
  await page.waitForSelector(`${op} .opblock-summary`, { timeout: 30000 });
  await page.click(`${op} .opblock-summary`);
  // With `tryItOutEnabled` the operation opens in try-it-out mode (the button then says
  // "Cancel"); otherwise press "Try it out".
  await page.waitForSelector(`${op} .try-out__btn`, { timeout: 30000 });
  if (!(await page.$(`${op} .execute`))) await page.click(`${op} .try-out__btn`);
  for (const [name, value] of Object.entries(config.params)) {
    const input = `${op} tr[data-param-name="${name}"] input`;
    await page.waitForSelector(input, { timeout: 30000 });
    await page.type(input, value);
  }
  await page.click(`${op} .execute`);
  const status = `${op} .live-responses-table .response .response-col_status`;
  await page.waitForSelector(status, { timeout: 30000 });
  out.status = (await page.$eval(status, (el) => el.textContent)).trim();
  out.body = await page.$eval(
    `${op} .live-responses-table .response .response-col_description pre`,
    (el) => el.textContent,
  );
  await page.$eval(`${op} .live-responses-table`, (el) => el.scrollIntoView());
  await page.screenshot({ path: config.screenshot, fullPage: true });
} catch (err) {
  out.failure = String(err && err.stack ? err.stack : err);
  // What the page did show, to say why.
  try {
    const page = (await browser.pages()).at(-1);
    out.operations = await page.$$eval('[id^="operations-"]', (els) => els.map((el) => el.id));
    out.text = (await page.$eval('body', (el) => el.innerText)).slice(0, 2000);
    await page.screenshot({ path: config.screenshot, fullPage: true });
  } catch {
    // the browser is gone: nothing more to report
  }
} finally {
  if (browser) await browser.close().catch(() => {});
  await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
}

await writeFile(outPath, JSON.stringify(out, null, 2));
if (out.failure) {
  console.error(out.failure);
  process.exit(1);
}
