// Benchmark: opening the next task on the labeling page, with 100,000 tasks in the
// project (issue 14: "request → editor ready, p95 ≤ 300 ms").
//
// It starts the real labelhook binary (a release build unless LABELHOOK_BIN names
// another) with a temporary SQLite database, makes a text-classification project of
// LH_TASKS tasks (imported in requests of 5,000), and drives Label Studio's editor on
// `/projects/{id}/data?labeling=1` in headless Chromium as a person would:
//
// - next task: LH_SUBMITS times, click a choice, click Submit; the time is from the
//   Submit click (which sends the annotation, then asks for the next task) until the page
//   marks the next task ready (`<body data-ready="true" data-task="ID">`, set when the
//   editor's store is up with a fresh annotation selected; the browser tests wait on it).
//   Both ends are stamped inside the page with performance.now(), so the polling of the
//   test driver adds nothing.
// - cold load: LH_COLD times, a new browser context (empty cache), sign in, open the
//   page; the time is from navigation start to ready.
// - warm load: LH_COLD times, reload the page in the same context (cached scripts).
//
// Run from the repository root (playwright-core comes from tests/browser, `npm ci` there):
//   cargo build --release && node bench/label-next.mjs
// Variants: LH_LABELED=50000 (the first half already labeled), LH_SAMPLING="Uniform sampling".
// Results: a table on stdout and bench/results/label-next[.labeled<N>][.uniform].json.

import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TASKS = Number(process.env.LH_TASKS || 100_000);
const SUBMITS = Number(process.env.LH_SUBMITS || 100);
const COLD = Number(process.env.LH_COLD || 5);
const BATCH = 5_000;
// Variants: the first LH_LABELED tasks come with an annotation already (the stream must
// pass them), and LH_SAMPLING sets the project's sampling (e.g. "Uniform sampling").
const LABELED = Number(process.env.LH_LABELED || 0);
const SAMPLING = process.env.LH_SAMPLING || 'Sequential sampling';

if (!process.env.LABELHOOK_BIN) {
  const release = path.join(root, 'target/release/labelhook');
  console.error('building the server: cargo build --release');
  execFileSync('cargo', ['build', '--release'], { cwd: root, stdio: 'inherit' });
  process.env.LABELHOOK_BIN = release;
}
const browserTests = path.join(root, 'tests/browser');
if (!existsSync(path.join(browserTests, 'node_modules/playwright-core'))) {
  throw new Error('playwright-core is missing: run `npm ci` in tests/browser first.');
}
const { chromium } = createRequire(path.join(browserTests, 'package.json'))('playwright-core');
const { TOKEN, CHROMIUM_ARGS, chromiumPath, startServer, deadline } = await import('../tests/browser/harness.mjs');

const CONFIG = '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text" choice="single" showInLine="true"><Choice value="positive"/><Choice value="negative"/><Choice value="neutral"/></Choices></View>';
const WORDS = ['soup', 'staff', 'wait', 'kind', 'cold', 'price', 'room', 'view', 'noise', 'bed', 'late', 'clean'];

/** A review of 20-40 words, different for every task. */
function review(n) {
  const words = [];
  for (let i = 0; i < 20 + (n % 21); i += 1) words.push(WORDS[(n * 7 + i * 3) % WORDS.length]);
  return `Review ${n}: ${words.join(' ')}.`;
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const tenth = (v) => (v === null ? null : Math.round(v * 10) / 10);

function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const round = tenth;
  return {
    n: sorted.length,
    p50_ms: round(percentile(sorted, 50)),
    p95_ms: round(percentile(sorted, 95)),
    max_ms: round(sorted[sorted.length - 1] ?? null),
  };
}

// Installed in every page before its scripts run: stamps the moment the page marks a
// task ready, and the last click on the editor's Submit button (capture phase, so before
// the editor's own handler sends anything).
function stamps() {
  window.__lh = { readyAt: [], submitAt: null };
  const watch = () => {
    new MutationObserver(() => {
      const { ready, task } = document.body.dataset;
      if (ready === 'true') {
        const last = window.__lh.readyAt[window.__lh.readyAt.length - 1];
        if (!last || last.task !== task) window.__lh.readyAt.push({ task, at: performance.now() });
      }
    }).observe(document.body, { attributes: true, attributeFilter: ['data-ready', 'data-task'] });
  };
  if (document.body) watch();
  else document.addEventListener('DOMContentLoaded', watch);
  document.addEventListener('click', (event) => {
    const button = event.target instanceof Element && event.target.closest('button');
    if (button && /^\s*Submit\s*$/.test(button.textContent)) window.__lh.submitAt = performance.now();
  }, true);
}

async function signedInPage(context, base) {
  const page = await context.newPage();
  await page.addInitScript(stamps);
  await page.goto(`${base}/ui/icon.svg`);
  await page.evaluate((token) => sessionStorage.setItem('labelhook.token', token), TOKEN);
  return page;
}

async function waitReady(page, task) {
  await page.waitForFunction(
    (id) => document.body.dataset.ready === 'true' && (id === null || document.body.dataset.task === String(id)),
    task,
    { timeout: 30_000 },
  );
  return page.evaluate(() => Number(document.body.dataset.task));
}

const load = () => os.loadavg().map((v) => Math.round(v * 100) / 100);
const loadBefore = load();
const server = await startServer();
let browser;
try {
  // The project and its tasks.
  const project = await server.api('POST', '/api/projects/', { title: 'Reviews (bench)', label_config: CONFIG, sampling: SAMPLING });
  const importStart = performance.now();
  for (let start = 0; start < TASKS; start += BATCH) {
    const batch = [];
    for (let n = start; n < Math.min(TASKS, start + BATCH); n += 1) {
      batch.push(n < LABELED
        ? { data: { text: review(n) }, annotations: [{ result: [{ from_name: 'sentiment', to_name: 'text', type: 'choices', value: { choices: ['neutral'] } }] }] }
        : { text: review(n) });
    }
    await server.api('POST', `/api/projects/${project.id}/import`, batch);
  }
  const importSeconds = (performance.now() - importStart) / 1000;
  const stats = await server.api('GET', `/api/projects/${project.id}/`);
  if (stats.task_number !== TASKS) throw new Error(`the project has ${stats.task_number} tasks, not ${TASKS}`);
  console.error(`imported ${TASKS} tasks in ${importSeconds.toFixed(1)} s`);

  browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  const url = `${server.base}/projects/${project.id}/data?labeling=1`;
  const problems = [];

  // Cold loads: a fresh context each time, so nothing is cached.
  const cold = [];
  for (let i = 0; i < COLD; i += 1) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await signedInPage(context, server.base);
    await page.goto(url);
    const task = await waitReady(page, null);
    cold.push(await page.evaluate((id) => window.__lh.readyAt.find((r) => r.task === String(id)).at, task));
    await context.close();
  }

  // The stream, in one tab: warm reloads first, then the submits.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await signedInPage(context, server.base);
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  await page.goto(url);
  await waitReady(page, null);
  const warm = [];
  for (let i = 0; i < COLD; i += 1) {
    await page.reload();
    const task = await waitReady(page, null);
    warm.push(await page.evaluate((id) => window.__lh.readyAt.find((r) => r.task === String(id)).at, task));
  }

  const next = [];
  const network = []; // of each step: the POST of the annotation and the GET of /next/
  let current = await waitReady(page, null);
  const firstId = (await server.api('GET', `/api/tasks/?project=${project.id}&page=1&page_size=1`)).tasks[0].id;
  const seen = new Set([current]);
  for (let i = 0; i < SUBMITS; i += 1) {
    await page.evaluate(() => performance.clearResourceTimings());
    await page.getByRole('checkbox', { name: ['positive', 'negative', 'neutral'][i % 3] }).click();
    await page.getByRole('button', { name: 'Submit' }).click();
    await page.waitForFunction(
      (previous) => document.body.dataset.ready === 'true' && document.body.dataset.task !== String(previous),
      current,
      { timeout: 30_000 },
    );
    const step = await page.evaluate(() => {
      const { readyAt, submitAt } = window.__lh;
      const ready = readyAt[readyAt.length - 1];
      const requests = performance.getEntriesByType('resource')
        .filter((r) => /\/api\/(tasks\/\d+\/annotations\/|projects\/\d+\/next\/)/.test(r.name))
        .map((r) => ({ next: /\/next\//.test(r.name), ms: r.responseEnd - r.startTime }));
      return { task: Number(ready.task), ms: ready.at - submitAt, requests };
    });
    if (seen.has(step.task)) throw new Error(`task ${step.task} came twice`);
    if (step.task <= LABELED + firstId - 1) throw new Error(`task ${step.task} was labeled already`);
    seen.add(step.task);
    current = step.task;
    next.push(step.ms);
    network.push({
      task: step.task,
      post_ms: step.requests.find((r) => !r.next)?.ms ?? null,
      next_ms: step.requests.find((r) => r.next)?.ms ?? null,
    });
  }
  await context.close();

  const after = await server.api('GET', `/api/projects/${project.id}/`);
  if (after.total_annotations_number !== LABELED + SUBMITS) {
    throw new Error(`${after.total_annotations_number} annotations stored, ${LABELED} imported and ${SUBMITS} submitted`);
  }

  const results = {
    name: 'label-next',
    when: new Date().toISOString(),
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim(),
    binary: process.env.LABELHOOK_BIN,
    backend: 'sqlite',
    machine: {
      cpu: os.cpus()[0]?.model,
      cores: os.cpus().length,
      memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      load_average_before: loadBefore,
      load_average_after: load(),
    },
    chromium: browser.version(),
    tasks: TASKS,
    labeled_before: LABELED,
    sampling: SAMPLING,
    import_seconds: Math.round(importSeconds * 10) / 10,
    rows: {
      next_task: summary(next),
      next_task_post_annotation: summary(network.map((n) => n.post_ms).filter((v) => v !== null)),
      next_task_get_next: summary(network.map((n) => n.next_ms).filter((v) => v !== null)),
      cold_load: summary(cold),
      warm_reload: summary(warm),
    },
    samples: {
      next_task_ms: next.map(tenth),
      network: network.map((n) => ({ task: n.task, post_ms: tenth(n.post_ms), next_ms: tenth(n.next_ms) })),
      cold_load_ms: cold.map(tenth),
      warm_reload_ms: warm.map(tenth),
    },
    problems,
  };
  mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  const variant = `${LABELED ? `.labeled${LABELED}` : ''}${SAMPLING === 'Sequential sampling' ? '' : `.${SAMPLING.split(' ')[0].toLowerCase()}`}`;
  const quick = TASKS === 100_000 && SUBMITS >= 100 ? '' : '.quick';
  const out = path.join(root, `bench/results/label-next${variant}${quick}.json`);
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);

  console.log(`${TASKS} tasks (${LABELED} labeled before), ${SAMPLING}, ${SUBMITS} submits, load average ${loadBefore.join(' ')} → ${results.machine.load_average_after.join(' ')}`);
  console.log('| what | n | p50 ms | p95 ms | max ms |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [name, row] of Object.entries(results.rows)) {
    console.log(`| ${name} | ${row.n} | ${row.p50_ms} | ${row.p95_ms} | ${row.max_ms} |`);
  }
  if (problems.length) console.log(`page problems:\n  ${problems.join('\n  ')}`);
  console.log(`written: ${path.relative(root, out)}`);
} finally {
  await browser?.close();
  await deadline(server.stop(), 15_000, 'the server did not stop');
}
