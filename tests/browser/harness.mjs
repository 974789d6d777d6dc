// What the browser tests run against: the real labelhook binary on port 0 with a
// temporary database, receivers on loopback that record what they get, and Chromium.
// Every wait has a deadline; nothing sleeps for a fixed time.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { once, EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

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
