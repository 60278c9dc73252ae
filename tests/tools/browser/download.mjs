// Follows a zipper link from a page in Debian's headless Chromium and saves the download.
//
//   node download.mjs <page-url> <download-dir>
//
// Opens <page-url>, clicks the element `#zipper-link` (a plain <a href>), waits for the download to finish,
// saves it as <download-dir>/download.zip and prints one JSON line:
//   {"suggestedFilename": "...", "url": "...", "savedAs": "...", "bytes": N, "response": {...} | null}
// `response` is what Chromium saw of the link's response (status and headers) when Playwright reports it.
// Exits 0 on success, 1 on any failure (with the reason on stderr), 3 when the overall time limit is hit.
//
// The browser is /usr/bin/chromium (override with CHROMIUM=...), never a downloaded one, with a fresh empty
// user-data-dir that is removed afterwards. Time limit: BROWSER_TIMEOUT_MS (default 45000).

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const [pageUrl, downloadDir] = process.argv.slice(2);
if (!pageUrl || !downloadDir) {
  console.error('usage: node download.mjs <page-url> <download-dir>');
  process.exit(2);
}
const timeoutMs = Number(process.env.BROWSER_TIMEOUT_MS || 45000);
const stepMs = Math.max(1000, timeoutMs - 5000);
// Last resort: never hang the test, whatever Chromium does.
setTimeout(() => {
  console.error(`download.mjs: gave up after ${timeoutMs} ms`);
  process.exit(3);
}, timeoutMs).unref();

const userDataDir = mkdtempSync(path.join(tmpdir(), 'zipper-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
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
    acceptDownloads: true,
    downloadsPath: downloadDir,
    timeout: stepMs,
  });
  context.setDefaultTimeout(stepMs);

  let response = null;
  context.on('response', async (r) => {
    if (r.url().includes('/zip/') || r.headers()['content-type'] === 'application/zip') {
      response = { url: r.url(), status: r.status(), headers: await r.allHeaders().catch(() => r.headers()) };
    }
  });

  const page = context.pages()[0] ?? (await context.newPage());
  const nav = await page.goto(pageUrl, { waitUntil: 'load' });
  if (!nav || !nav.ok()) throw new Error(`page ${pageUrl} answered ${nav && nav.status()}`);

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click('#zipper-link'),
  ]);
  // failure() resolves when the download has finished: null on success.
  const failure = await download.failure();
  if (failure) throw new Error(`download failed: ${failure}`);
  const savedAs = path.join(downloadDir, 'download.zip');
  await download.saveAs(savedAs);
  console.log(
    JSON.stringify({
      suggestedFilename: download.suggestedFilename(),
      url: download.url(),
      savedAs,
      bytes: statSync(savedAs).size,
      response,
    }),
  );
} catch (e) {
  console.error(`download.mjs: ${e && e.stack ? e.stack : e}`);
  process.exitCode = 1;
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
