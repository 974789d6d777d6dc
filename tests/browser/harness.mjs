// What the browser tests run against: the real labelhook binary on port 0 with a
// temporary database, receivers on loopback that record what they get, and Chromium.
// Every wait has a deadline; nothing sleeps for a fixed time.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { once, EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const TOKEN = 'browser-test-token-0123456789';

/** Rejects with `message` when `promise` takes longer than `ms`. */
export function deadline(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Starts `labelhook serve`; resolves once it prints the address it listens on. */
export async function startServer() {
  const bin = process.env.LABELHOOK_BIN;
  if (!bin || !existsSync(bin)) {
    throw new Error('LABELHOOK_BIN must name the labelhook binary (`cargo test` sets it; by hand: cargo build, then LABELHOOK_BIN=../../target/debug/labelhook).');
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'labelhook-browser-'));
  const db = process.env.LABELHOOK_DB_URL || `sqlite://${dir}/labelhook.db`;
  const child = spawn(bin, ['serve', '--bind', '127.0.0.1:0', '--db', db], {
    env: {
      ...process.env,
      LABELHOOK_ADMIN_TOKEN: TOKEN,
      SSRF_PROTECTION_ENABLED: 'false', // the receivers are on loopback
      LABELHOOK_RETRY_SCHEDULE: 'none', // a failed attempt fails the delivery at once
      LABELHOOK_LOG: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout });
  const base = await deadline(new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      const found = line.match(/listening on (http:\/\/\S+)/);
      if (found) resolve(found[1]);
    });
    exited.then(([code]) => reject(new Error(`labelhook exited with ${code} before listening`)));
  }), 60_000, 'labelhook did not print its address within 60 s');

  async function api(method, urlPath, body) {
    const response = await fetch(base + urlPath, {
      method,
      headers: { Authorization: `Token ${TOKEN}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${urlPath}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  return {
    base,
    api,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await deadline(exited, 10_000, 'labelhook did not stop within 10 s').catch(() => child.kill('SIGKILL'));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An HTTP receiver on loopback. It answers `status` (200 unless told otherwise), after
 * `delay` ms (none unless told), and keeps every request: {path, headers, body, raw,
 * answered} (`answered` is set when it answers).
 */
export async function startReceiver() {
  const requests = [];
  const arrivals = new EventEmitter();
  let status = 200;
  let delay = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body = null;
      try {
        body = JSON.parse(raw);
      } catch {
        body = null;
      }
      const answer = (record) => {
        record.answered = status;
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(status < 300 ? { received: true } : { error: 'receiver is down for maintenance' }));
      };
      const record = { path: req.url, headers: req.headers, body, raw, answered: null };
      requests.push(record);
      if (delay > 0) {
        setTimeout(() => answer(record), delay);
      } else {
        answer(record);
      }
      arrivals.emit('request', record);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    answerWith(code) {
      status = code;
    },
    /** Answers each request `ms` later from now on (0: at once). */
    answerAfter(ms) {
      delay = ms;
    },
    /** The first request (already received or still to come) that matches. */
    waitFor(matches, what, ms = 15_000) {
      const found = requests.find(matches);
      if (found) return Promise.resolve(found);
      let listener;
      return deadline(new Promise((resolve) => {
        listener = (record) => {
          if (matches(record)) resolve(record);
        };
        arrivals.on('request', listener);
      }), ms, `the receiver did not get ${what} within ${ms / 1000} s`)
        .finally(() => arrivals.off('request', listener));
    },
    async close() {
      server.closeAllConnections(); // labelhook keeps connections alive
      server.close();
    },
  };
}

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Debian's Chromium (or CHROMIUM_PATH); a clear error when it is not installed. */
export function chromiumPath() {
  const candidates = process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) {
    throw new Error(`Chromium not found (looked at ${candidates.join(', ')}): install it with \`apt-get install -y chromium\` or set CHROMIUM_PATH.`);
  }
  return found;
}

/** Launches Debian's Chromium headless. */
export function launchChromium() {
  return chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
}

/**
 * A new page in a context of its own with `options` (a viewport of 1280 × 800 unless
 * told otherwise); each wait on it gives up after `timeout` ms.
 */
export async function newPage(browser, { timeout = 15_000, ...options } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  context.setDefaultTimeout(timeout);
  return context.newPage();
}

/**
 * Calls `report` with each uncaught exception and console error of `page`, each line
 * starting with `prefix`, but the console errors `expected` (given their text) accepts.
 * Chromium logs "Failed to load resource" for every non-2xx answer; the tests cause some
 * (400, 401, the streams' last 404) on purpose, so those are never reported.
 */
export function reportProblems(page, report, { prefix = '', expected = () => false } = {}) {
  page.on('pageerror', (error) => report(`${prefix}uncaught: ${error.message}`));
  page.on('console', (message) => {
    const text = message.text();
    if (message.type() === 'error' && !text.startsWith('Failed to load resource') && !expected(text)) {
      report(`${prefix}console: ${text}`);
    }
  });
}

/** Fails when `problems` holds anything, and empties it for the next test. */
export function assertNoProblems(problems, message = 'the page reported errors') {
  assert.deepEqual(problems.splice(0), [], message);
}

/** Waits until the locator is visible; returns it. */
export async function see(locator) {
  await locator.first().waitFor({ state: 'visible' });
  return locator;
}

/** Loads `base` + `address` in `page` afresh (a blank page first, so the app starts over). */
export async function openAfresh(page, base, address) {
  await page.goto('about:blank');
  await page.goto(`${base}${address}`);
}

/**
 * Where screenshots go, made if missing: docs/screenshots/ with UPDATE_SCREENSHOTS (the
 * README shows them), otherwise target/browser-screenshots/, so a run leaves the tree clean.
 */
export function screenshotFolder() {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const folder = path.join(root, process.env.UPDATE_SCREENSHOTS ? 'docs/screenshots' : 'target/browser-screenshots');
  mkdirSync(folder, { recursive: true });
  return folder;
}

/** Saves the whole of `page` as `name` in the screenshot folder. */
export async function screenshotPage(page, name) {
  await page.screenshot({ path: path.join(screenshotFolder(), name), fullPage: true });
}

/** `page`'s content fits the viewport's width: nothing makes the page scroll sideways. */
export async function assertFitsWidth(page, where) {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  assert.ok(scrollWidth <= innerWidth, `${where}: the page is ${scrollWidth}px wide in a ${innerWidth}px window`);
}

/**
 * On the labeling page: waits until the image whose address ends with `/${file}` has
 * loaded, picks the label `label`, and drags a box over the image from a quarter to a half
 * of its width and a quarter to three quarters of its height, each leg in `steps` moves.
 */
export async function drawBox(page, file, label, steps) {
  const selector = `img[src$="/${file}"]`;
  const image = page.locator(selector).first();
  await image.waitFor();
  await page.waitForFunction((found) => {
    const img = document.querySelector(found);
    return img && img.complete && img.naturalWidth > 0;
  }, selector);
  await page.getByText(label, { exact: true }).first().click();
  const box = await image.boundingBox();
  await page.mouse.move(box.x + box.width * 0.25, box.y + box.height * 0.25);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.5, { steps });
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.75, { steps });
  await page.mouse.up();
}

/** Waits until the labeling page in `page` shows `task` ready to label (it marks <body>). */
export async function readyToLabel(page, task) {
  await page.waitForFunction(
    (id) => document.body.dataset.ready === 'true' && document.body.dataset.task === String(id),
    task,
    { timeout: 20_000 },
  );
}
