// End-to-end: a user exports a project's labels through the Export page in headless
// Chromium, against the real server: picks a format (seeing why others are not offered),
// downloads, and makes, downloads and deletes a snapshot. The downloaded files are read
// and checked. The tests run in order on one server, as a user would go. Its project has
// a title of its own: on PostgreSQL the webhook pages' test leaves its projects in the
// same database.
//
// Run: `cargo test --test browser`, or by hand in this folder after `npm ci`:
//   LABELHOOK_BIN=../../target/debug/labelhook node --test export.test.mjs
// With UPDATE_SCREENSHOTS=1 the screenshots go to docs/screenshots/.

import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOKEN, startServer, assertNoProblems, launchChromium, newPage, reportProblems, screenshotPage, see } from './harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const downloads = path.join(root, 'target/browser-downloads');
const WIDE = { width: 1280, height: 800 };
const NARROW = { width: 390, height: 844 };
const LABEL_CONFIG = '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="positive"/><Choice value="negative"/></Choices></View>';

let server;
let browser;
let page;
let project;
let tasks;
let problems = [];

/** Clicks `button` and returns the file the browser downloads: {name, text}. */
async function downloadBy(button) {
  const [file] = await Promise.all([page.waitForEvent('download'), button.click()]);
  const target = path.join(downloads, `${Date.now()}-${file.suggestedFilename()}`);
  await file.saveAs(target);
  return { name: file.suggestedFilename(), text: readFileSync(target, 'utf8') };
}

const choice = (value) => [{ from_name: 'sentiment', to_name: 'text', type: 'choices', value: { choices: [value] } }];

const screenshot = (name) => screenshotPage(page, name);

describe('the export page in a browser', () => {
  before(async () => {
    mkdirSync(downloads, { recursive: true });
    server = await startServer();
    project = await server.api('POST', '/api/projects/', { title: 'Movie reviews', label_config: LABEL_CONFIG });
    await server.api('POST', `/api/projects/${project.id}/import`,
      [{ text: 'Great battery life' }, { text: 'Broke after a week' }, { text: 'Does what it says' }]);
    tasks = (await server.api('GET', `/api/projects/${project.id}/tasks/`)).map((t) => t.id).sort((a, b) => a - b);
    await server.api('POST', `/api/tasks/${tasks[0]}/annotations/`, { result: choice('positive'), lead_time: 4.5 });
    await server.api('POST', `/api/tasks/${tasks[1]}/annotations/`, { result: [], was_cancelled: true });
    browser = await launchChromium();
    page = await newPage(browser, { viewport: WIDE, acceptDownloads: true });
    reportProblems(page, (line) => problems.push(line));
    // Signed in as the tab would be after the sign-in page.
    await page.goto(`${server.base}/sign-in`);
    await page.evaluate((key) => sessionStorage.setItem('labelhook.token', key), TOKEN);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  afterEach(() => assertNoProblems(problems));

  test('opens Export from the projects list and explains the formats it does not offer', async () => {
    await page.goto(`${server.base}/projects/`);
    await page.getByRole('link', { name: 'Export Movie reviews' }).click();
    await page.waitForURL(new RegExp(`/projects/${project.id}/export$`));
    await see(page.getByRole('heading', { name: 'Export', level: 1 }));
    const json = page.getByRole('radio', { name: /^JSON List of items/ });
    assert.equal(await json.isChecked(), true, 'JSON is chosen first');
    for (const name of ['JSON-MIN', 'CSV', 'TSV']) {
      assert.equal(await page.getByRole('radio', { name: new RegExp(`^${name} `) }).isEnabled(), true, name);
    }
    // The others are listed, disabled, each with the reason.
    await page.getByText(/Not available for this project \(\d+\)/).click();
    const coco = page.getByRole('radio', { name: /^COCO Needs an Image/ });
    await see(coco);
    assert.equal(await coco.isDisabled(), true);
    assert.match(await coco.getAttribute('aria-describedby').then((id) => page.locator(`#${id}`).innerText()),
      /^Needs an Image labeled with RectangleLabels, PolygonLabels or KeyPointLabels/);
    await screenshot('export.png');
  });

  test('downloads the annotated tasks as CSV and all tasks as JSON', async () => {
    await page.getByRole('radio', { name: /^CSV / }).check();
    const csv = await downloadBy(page.getByRole('button', { name: 'Download', exact: true }));
    assert.match(csv.name, new RegExp(`^project-${project.id}-at-\\d{4}-\\d\\d-\\d\\d-\\d\\d-\\d\\d-[0-9a-f]{8}\\.csv$`));
    const lines = csv.text.split('\r\n');
    assert.equal(lines[0], '"annotation_id","annotator","created_at","id","lead_time","sentiment","text","updated_at"');
    // The skipped task has no row (as in Label Studio); the untouched one is not exported.
    assert.equal(lines.length, 3, csv.text);
    assert.match(lines[1], new RegExp(`^\\d+,"1","[^"]+",${tasks[0]},4.5,"positive","Great battery life",`));
    await see(page.getByRole('status').filter({ hasText: `Downloaded ${csv.name}` }));

    await page.getByRole('radio', { name: /^JSON List of items/ }).check();
    await page.getByRole('radio', { name: /All tasks/ }).check();
    const json = await downloadBy(page.getByRole('button', { name: 'Download', exact: true }));
    const exported = JSON.parse(json.text);
    assert.deepEqual(exported.map((t) => t.id), tasks);
    assert.equal(exported[1].annotations[0].was_cancelled, true);
  });

  test('makes a snapshot, downloads it converted, and deletes it', async () => {
    await page.getByText(/Not available for this project/).click(); // folds the list again
    await page.getByRole('button', { name: 'Create snapshot' }).click();
    await see(page.getByRole('status').filter({ hasText: /is being built/ }));
    const row = page.locator('tr[data-snapshot]').first();
    await see(row.locator('.badge', { hasText: 'Ready' }));
    assert.match(await row.innerText(), /Movie-reviews-at-/);
    assert.match(await row.locator('td[data-label="Tasks"]').innerText(), /^3$/);

    await row.getByRole('combobox').selectOption('TSV');
    const tsv = await downloadBy(row.getByRole('button', { name: 'Download' }));
    assert.match(tsv.name, new RegExp(`^project-${project.id}-at-.*\\.csv$`), 'Label Studio names TSV files .csv');
    assert.ok(tsv.text.startsWith('"annotation_id"\t"annotator"'), tsv.text);
    assert.equal(tsv.text.split('\r\n').length, 4, 'snapshots hold all tasks: the untouched one has a row too');

    await row.getByRole('combobox').selectOption('JSON');
    const json = await downloadBy(row.getByRole('button', { name: 'Download' }));
    assert.deepEqual(JSON.parse(json.text).map((t) => t.id), tasks);
    await screenshot('export-snapshots.png');

    await row.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this snapshot?' });
    await see(dialog);
    await dialog.getByRole('button', { name: 'Delete snapshot' }).click();
    await see(page.getByText('No snapshots yet.'));
    assert.deepEqual(await server.api('GET', `/api/projects/${project.id}/exports/`), []);
  });

  test('a format that does not fit is refused with the reason, and the page fits a phone', async () => {
    // The API refuses what the page would not offer.
    const response = await page.evaluate(async ([id, key]) => {
      const answer = await fetch(`/api/projects/${id}/export?exportType=YOLO`, { headers: { Authorization: `Token ${key}` } });
      return { status: answer.status, body: await answer.json() };
    }, [project.id, TOKEN]);
    assert.equal(response.status, 400);
    assert.match(response.body.validation_errors.exportType[0], /YOLO does not fit/);

    await page.setViewportSize(NARROW);
    await page.goto('about:blank');
    await page.goto(`${server.base}/projects/${project.id}/export`);
    await see(page.getByRole('heading', { name: 'Export', level: 1 }));
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
    }));
    assert.ok(scrollWidth <= innerWidth, `the page is ${scrollWidth}px wide in a ${innerWidth}px window`);
    await page.setViewportSize(WIDE);
  });
});
