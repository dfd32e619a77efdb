// Opens Swagger UI in headless Chromium with every request to another origin aborted, runs
// try-it-out on the operations it is given, one after another, and writes what the page shows
// as JSON. The tests that run it decide what is right (armature-openapi/tests/it/docs_browser.rs,
// armature-bindings/python/tests/test_docs_browser.py); this script only reports.
//
//   node docs.mjs <config.json> <out.json>
//
// config: { page, origin, screenshot: "<png path>",
//           steps: [{ operation: "<DOM id of the operation>", params: { name: value },
//                     body: "<request body text>" }] }   (params and body optional)
// out: { operations: [{ id, method, path }], errors: "<Swagger UI's errors once the steps
//        ran, or empty>",
//        results: [{ operation, status, body, url }], requests: ["METHOD url"],
//        blocked: [urls], console: [...], failure }
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
const timeout = 30000;

const out = {
  operations: [],
  errors: '',
  results: [],
  requests: [],
  blocked: [],
  console: [],
  failure: null,
};

// The operations the page lists, as Swagger UI shows them.
const operations = (page) =>
  page.$$eval('.opblock[id^="operations-"]', (els) =>
    els.map((el) => {
      const path = el.querySelector('.opblock-summary-path');
      return {
        id: el.id,
        method: (el.querySelector('.opblock-summary-method')?.textContent ?? '').trim(),
        path: (path?.dataset.path ?? path?.textContent ?? '').replace(/\u200b/g, '').trim(),
      };
    }),
  );

// The errors Swagger UI shows about the document (a `$ref` it cannot resolve, ...), or ''.
const errors = (page) =>
  page.$$eval('.errors-wrapper', (els) => els.map((el) => el.innerText).join('\n'));

// What is in `selector` (an input or a textarea) becomes `value`, typed as a user would.
async function replaceText(page, selector, value) {
  await page.waitForSelector(selector, { timeout });
  await page.focus(selector);
  await page.$eval(selector, (el) => el.select());
  await page.keyboard.press('Backspace');
  await page.type(selector, value);
}

// Try-it-out on one operation: its parameters and body filled in, "Execute", and what the
// live response section then shows.
async function tryItOut(page, step) {
  const op = `#${step.operation}`;
  await page.waitForSelector(`${op} .opblock-summary`, { timeout });
  if (!(await page.$(`${op}.is-open`))) await page.click(`${op} .opblock-summary`);
  // With `tryItOutEnabled` the operation opens in try-it-out mode (the button then says
  // "Cancel"); otherwise press "Try it out".
  await page.waitForSelector(`${op} .try-out__btn`, { timeout });
  if (!(await page.$(`${op} .execute`))) await page.click(`${op} .try-out__btn`);
  // The answer of an earlier step on this operation goes first, so the one read below is new.
  if (await page.$(`${op} .btn-clear`)) {
    await page.click(`${op} .btn-clear`);
    await page.waitForSelector(`${op} .live-responses-table`, { hidden: true, timeout });
  }
  for (const [name, value] of Object.entries(step.params ?? {})) {
    await replaceText(page, `${op} tr[data-param-name="${name}"] input`, value);
  }
  if (step.body !== undefined) {
    await replaceText(page, `${op} .opblock-section-request-body textarea`, step.body);
  }
  await page.click(`${op} .execute`);
  const response = `${op} .live-responses-table .response`;
  await page.waitForSelector(`${response} .response-col_status`, { timeout });
  const text = (selector) => page.$eval(selector, (el) => el.textContent);
  const result = { operation: step.operation };
  result.status = (await text(`${response} .response-col_status`)).trim();
  result.body = await text(`${response} .response-col_description pre`);
  result.url = (await text(`${op} .request-url pre`)).trim();
  out.results.push(result);
  await page.$eval(`${op} .live-responses-table`, (el) => el.scrollIntoView());
}

let browser;
let page;
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
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1400 });
  page.on('console', (msg) => out.console.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => out.console.push(`pageerror: ${err}`));
  // The network is the server and nothing else.
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    const url = req.url();
    if (url.startsWith(config.origin + '/') || url.startsWith('data:') || url.startsWith('blob:')) {
      if (url.startsWith(config.origin + '/')) out.requests.push(`${req.method()} ${url}`);
      req.continue();
    } else {
      out.blocked.push(url);
      req.abort('blockedbyclient');
    }
  });
  const nav = await page.goto(config.page, { waitUntil: 'networkidle0' });
  if (!nav || !nav.ok()) throw new Error(`could not load ${config.page}: ${nav && nav.status()}`);
  await page.waitForSelector('.opblock', { timeout });
  out.operations = await operations(page);
  for (const step of config.steps) await tryItOut(page, step);
  // After the steps: Swagger UI resolves an operation's `$ref`s when it is opened.
  out.errors = await errors(page);
  await page.screenshot({ path: config.screenshot, fullPage: true });
} catch (err) {
  out.failure = String(err && err.stack ? err.stack : err);
  // What the page did show, to say why.
  try {
    out.operations = await operations(page);
    out.errors = await errors(page);
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
