// End-to-end, the whole journey of a labeling project through the pages, as a person does
// it: create a text-classification project from its template, import a file, Label All
// Tasks (click a choice and Submit, twice; Skip one), open a task from the table and
// Update it; a real receiver gets ANNOTATION_CREATED / ANNOTATION_UPDATED with exactly the
// results clicked, and the pages and the API show the right statistics. Then an image
// project from its template, with a bounding box drawn by mouse.
//
// The labeling page itself (shortcuts, locks, predictions, HTML) is tested in
// label.test.mjs; this file goes through the project pages to get there.

import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { TOKEN, startServer, startReceiver, assertNoProblems, launchChromium, newPage, reportProblems, see, drawBox, readyToLabel } from './harness.mjs';


let server;
let receiver;
let pictures; // another origin on loopback that serves the image task's picture
let browser;
let page;
let files;
let problems = [];

const ready = (task) => readyToLabel(page, task);

/** The delivery of `action` about the annotation of `task`. */
function event(action, task) {
  return receiver.waitFor(
    (r) => r.body?.action === action && r.body.annotation?.task === task,
    `${action} for task ${task}`,
  );
}

/** Creates a project from a template on /projects/new; its id. */
async function createFromTemplate(title, template) {
  await page.goto(`${server.base}/projects`);
  // Once the list is drawn (the page draws after its requests answer).
  await page.locator('table.projects, .card.empty').first().waitFor();
  await page.locator('.page-header').getByRole('link', { name: 'Create project' }).click();
  await page.waitForURL(/\/projects\/new$/);
  await page.getByLabel('Title').fill(title);
  await page.getByRole('radio', { name: new RegExp(template) }).check();
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.waitForURL(/\/projects\/\d+\/data$/);
  return Number(page.url().match(/projects\/(\d+)\/data/)[1]);
}

/** Imports one file through the Import panel of the data page. */
async function importFile(file, count) {
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByLabel('Files').setInputFiles(file);
  await page.getByRole('button', { name: 'Upload' }).click();
  await see(page.getByText(new RegExp(`^Imported ${count} tasks?\\b`)));
}

const taskIds = async (project) => (await server.api('GET', `/api/tasks/?project=${project}`)).tasks.map((t) => t.id);

describe('a labeling project, start to finish, in the pages', () => {
  before(async () => {
    files = mkdtempSync(path.join(os.tmpdir(), 'labelhook-journey-'));
    [server, receiver] = await Promise.all([startServer(), startReceiver()]);
    const picture = '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300"><rect width="400" height="300" fill="#e1ebf5"/><rect x="100" y="75" width="100" height="150" fill="#785028"/></svg>';
    pictures = http.createServer((req, res) => {
      res.writeHead(req.url === '/car.svg' ? 200 : 404, { 'Content-Type': 'image/svg+xml', 'Access-Control-Allow-Origin': '*' });
      res.end(req.url === '/car.svg' ? picture : '');
    });
    pictures.listen(0, '127.0.0.1');
    await once(pictures, 'listening');
    browser = await launchChromium();
    page = await newPage(browser);
    reportProblems(page, (line) => problems.push(line));
    await page.goto(`${server.base}/sign-in`);
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByLabel('API token').press('Enter');
    await page.waitForURL(/\/projects$/);
  });

  after(async () => {
    await browser?.close();
    pictures?.closeAllConnections();
    pictures?.close();
    await Promise.all([server?.stop(), receiver?.close()]);
    if (files) rmSync(files, { recursive: true, force: true });
  });

  afterEach(() => assertNoProblems(problems));

  test('text classification: template, import, label two, skip one, update one', async () => {
    const project = await createFromTemplate('Store reviews', 'Text classification');
    // A real receiver for the project's annotation events.
    await server.api('POST', '/api/webhooks/', {
      project, url: `${receiver.url}/hook`, send_payload: true, send_for_all_actions: false,
      actions: ['ANNOTATION_CREATED', 'ANNOTATION_UPDATED'],
    });
    const file = path.join(files, 'reviews.csv');
    writeFileSync(file, 'text\n"Friendly staff, quick delivery."\n"The box arrived crushed."\n"It is a kettle."\n"Would buy again."\n');
    await importFile(file, 4);
    const [first, second, third, fourth] = await taskIds(project);

    await page.getByRole('link', { name: 'Label All Tasks' }).click();
    await page.waitForURL(new RegExp(`/projects/${project}/data\\?labeling=1$`));
    await ready(first);
    await page.getByRole('checkbox', { name: /Positive/ }).click();
    await page.getByRole('button', { name: 'Submit' }).click();
    await ready(second);
    await page.getByRole('checkbox', { name: /Negative/ }).click();
    await page.getByRole('button', { name: 'Submit' }).click();
    await ready(third);
    await page.getByRole('button', { name: 'Skip' }).click();
    await ready(fourth);

    const created = await Promise.all([first, second, third].map((task) => event('ANNOTATION_CREATED', task)));
    const results = created.map((d) => d.body.annotation.result.map((r) => [r.from_name, r.to_name, r.type, r.value.choices]));
    assert.deepEqual(results[0], [['sentiment', 'text', 'choices', ['Positive']]]);
    assert.deepEqual(results[1], [['sentiment', 'text', 'choices', ['Negative']]]);
    assert.deepEqual(results[2], [], 'a skip has no result');
    assert.deepEqual(created.map((d) => d.body.annotation.was_cancelled), [false, false, true]);
    assert.equal(receiver.requests.filter((r) => r.body?.action === 'ANNOTATION_CREATED').length, 3, 'one event per click');

    // Back to the table: it shows what was done; a row opens its task to change it.
    await page.goto(`${server.base}/projects/${project}/data`);
    await see(page.locator('.counts', { hasText: '4 tasks · 2 annotations' }));
    const row = (id) => page.locator(`tbody tr[data-task="${id}"]`);
    assert.deepEqual((await row(first).locator('td').allInnerTexts()).slice(3, 7).map((t) => t.trim()), ['1', '0', '0', 'Done']);
    assert.deepEqual((await row(third).locator('td').allInnerTexts()).slice(3, 5).map((t) => t.trim()), ['0', '1']);
    await page.getByRole('group', { name: 'Show' }).getByRole('link', { name: 'Skipped' }).click();
    await see(page.locator('.counts', { hasText: '1 task skipped' }));
    await page.getByRole('group', { name: 'Show' }).getByRole('link', { name: 'All' }).click();
    await row(first).locator('td.data-cell').click();
    await page.waitForURL(new RegExp(`/projects/${project}/data\\?task=${first}$`));
    await ready(first);
    assert.equal(await page.getByRole('checkbox', { name: /Positive/ }).isChecked(), true);
    await page.getByRole('checkbox', { name: /Neutral/ }).click();
    await page.locator('.lsf-controls button', { hasText: 'Update' }).click();
    const updated = await event('ANNOTATION_UPDATED', first);
    assert.deepEqual(updated.body.annotation.result.map((r) => r.value.choices), [['Neutral']]);
    assert.equal(updated.body.annotation.id, created[0].body.annotation.id, 'the same annotation');

    // The statistics: in the API, the table and the projects list.
    const stats = await server.api('GET', `/api/projects/${project}/`);
    assert.equal(stats.task_number, 4);
    assert.equal(stats.total_annotations_number, 2);
    assert.equal(stats.skipped_annotations_number, 1);
    assert.equal(stats.num_tasks_with_annotations, 2);
    await page.goto(`${server.base}/projects`);
    const listed = page.getByRole('row', { name: /Store reviews/ });
    await see(listed);
    const cells = (await listed.locator('td').allInnerTexts()).map((t) => t.trim());
    assert.equal(cells[2], '4', 'tasks');
    assert.equal(cells[3], `${stats.finished_task_number} / 4`, 'finished');
    assert.equal(cells[4], '2', 'annotations');
    assert.equal(cells[5], '1', 'skipped');
  });

  test('image bounding boxes: template, import, a box drawn by mouse', async () => {
    const project = await createFromTemplate('Street photos', 'Image bounding boxes');
    await server.api('POST', '/api/webhooks/', {
      project, url: `${receiver.url}/images`, send_payload: true, send_for_all_actions: false, actions: ['ANNOTATION_CREATED'],
    });
    const file = path.join(files, 'photos.json');
    writeFileSync(file, JSON.stringify([{ image: `http://127.0.0.1:${pictures.address().port}/car.svg` }]));
    await importFile(file, 1);
    const [task] = await taskIds(project);
    await page.getByRole('link', { name: 'Label All Tasks' }).click();
    await ready(task);
    // From a quarter to a half of the width, a quarter to three quarters of the height.
    await drawBox(page, 'car.svg', 'Car', 5);
    await page.getByRole('button', { name: 'Submit' }).click();
    const created = await event('ANNOTATION_CREATED', task);
    const [region] = created.body.annotation.result;
    assert.equal(region.type, 'rectanglelabels');
    assert.deepEqual(region.value.rectanglelabels, ['Car']);
    const near = (actual, expected) => assert.ok(Math.abs(actual - expected) < 3, `${actual} is not about ${expected}`);
    near(region.value.x, 25);
    near(region.value.y, 25);
    near(region.value.width, 25);
    near(region.value.height, 50);
  });
});
