// Runs the CORS cases of tests/it/cors_browser.rs in headless Chromium and writes what the page
// observed as JSON. The Rust test decides what is right; this script only reports.
//
//   node cors.mjs <config.json> <out.json>
//
// config: { page: "http://127.0.0.1:A/", apis: { preset: "http://127.0.0.1:B" }, cases: [
//   { name, api, path, method, headers: {..}, credentials: "omit"|"same-origin"|"include",
//     read: ["x-exposed", ...], frame: "top"|"sandboxed" } ] }
// out: { results: { name: { ok: true, status, body, read: {name: value|null} }
//                         | { ok: false, error } }, console: [...] }
//
// The browser is Debian's chromium (CHROMIUM overrides the path); nothing is downloaded.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

const [configPath, outPath] = process.argv.slice(2);
if (!configPath || !outPath) {
  console.error('usage: node cors.mjs <config.json> <out.json>');
  process.exit(2);
}
const config = JSON.parse(await readFile(configPath, 'utf8'));
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const userDataDir = await mkdtemp(join(tmpdir(), 'armature-cors-chromium-'));

// Runs in the page: one fetch, and what the page may read of its response.
async function runCase(c) {
  try {
    const res = await fetch(c.url, {
      method: c.method,
      headers: c.headers,
      credentials: c.credentials,
      cache: 'no-store',
    });
    const read = {};
    for (const name of c.read) read[name] = res.headers.get(name);
    return { ok: true, status: res.status, body: await res.text(), read };
  } catch (err) {
    return { ok: false, error: String(err) };
  }
}

// Runs in the page: the same fetch from a sandboxed iframe, whose origin is opaque (`null`).
async function runSandboxed(c, runCaseSource) {
  return await new Promise((resolve) => {
    const frame = document.createElement('iframe');
    frame.sandbox = 'allow-scripts';
    frame.srcdoc = `<script>
      const runCase = ${runCaseSource};
      addEventListener('message', async (e) => parent.postMessage(await runCase(e.data), '*'));
    <\/script>`;
    addEventListener('message', function onMessage(e) {
      if (e.source !== frame.contentWindow) return;
      removeEventListener('message', onMessage);
      frame.remove();
      resolve(e.data);
    });
    frame.onload = () => frame.contentWindow.postMessage(c, '*');
    document.body.appendChild(frame);
  });
}

const consoleLines = [];
const results = {};
let browser;
let failure;
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
    ],
  });
  const page = await browser.newPage();
  page.on('console', (msg) => consoleLines.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => consoleLines.push(`pageerror: ${err}`));
  const nav = await page.goto(config.page, { waitUntil: 'load' });
  if (!nav || !nav.ok()) throw new Error(`could not load the page ${config.page}: ${nav && nav.status()}`);
  for (const c of config.cases) {
    const input = { ...c, url: config.apis[c.api] + c.path };
    results[c.name] =
      c.frame === 'sandboxed'
        ? await page.evaluate(runSandboxed, input, runCase.toString())
        : await page.evaluate(runCase, input);
  }
} catch (err) {
  failure = String(err && err.stack ? err.stack : err);
} finally {
  if (browser) await browser.close().catch(() => {});
  await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
}

await writeFile(outPath, JSON.stringify({ results, console: consoleLines, failure: failure ?? null }, null, 2));
if (failure) {
  console.error(failure);
  process.exit(1);
}
