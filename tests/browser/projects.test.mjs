// End-to-end: a user creates a project from a template, imports files, works the task
// table (filter, sort, select, delete) and changes the project's settings, in headless
// Chromium against the real server. The tests run in order on one server.
//
// Run: `cargo test --test browser`, or by hand in this folder after `npm ci`:
//   LABELHOOK_BIN=../../target/debug/labelhook node --test projects.test.mjs

import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TOKEN, startServer, startReceiver, assertFitsWidth, assertNoProblems, openAfresh, screenshotPage, see, launchChromium, newPage, reportProblems } from './harness.mjs';

const WIDE = { width: 1280, height: 800 };
const NARROW = { width: 390, height: 844 };

let server;
let receiver;
let browser;
let page;
let files; // a folder of files to import
let problems = [];
const state = {};

const taskIds = async () => (await server.api('GET', `/api/tasks/?project=${state.project}&page_size=1000`)).tasks.map((t) => t.id);
const rowOf = (id) => page.locator(`tbody tr[data-task="${id}"]`);

const open = (address) => openAfresh(page, server.base, address);
const screenshot = (name) => screenshotPage(page, name);

describe('project pages in a browser', () => {
  before(async () => {
    files = mkdtempSync(path.join(os.tmpdir(), 'labelhook-import-'));
    writeFileSync(path.join(files, 'reviews.csv'), 'text,source\n"Great battery life",shop\n"Broke after a week",forum\n"Does what it says",shop\n');
    writeFileSync(path.join(files, 'more.json'), JSON.stringify([{ text: 'Arrived early' }, { data: { text: 'Too loud' } }]));
    writeFileSync(path.join(files, 'lines.txt'), 'Nice colour\nSmaller than expected\n');
    writeFileSync(path.join(files, 'broken.json'), '[{"text": "unfinished"');
    writeFileSync(path.join(files, 'notes.md'), '# not a task file\n');
    [server, receiver] = await Promise.all([startServer(), startReceiver()]);
    browser = await launchChromium();
    page = await newPage(browser, { viewport: WIDE });
    // The live preview draws whatever the config field holds: the broken config this
    // test types on purpose makes the editor in the preview frame log its complaint.
    const expected = (text) => text.includes('Tag with name <b>missing</b> does not exist');
    reportProblems(page, (line) => problems.push(line), { expected });
    await page.goto(`${server.base}/sign-in`);
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/projects$/);
  });

  after(async () => {
    await browser?.close();
    await Promise.all([server?.stop(), receiver?.close()]);
    if (files) rmSync(files, { recursive: true, force: true });
  });

  afterEach(() => assertNoProblems(problems));

  test('creates a project from a template', async () => {
    // (On PostgreSQL the browser test files share a database: other projects may be listed.)
    await page.locator('.page-header').getByRole('link', { name: 'Create project' }).click();
    await page.waitForURL(/\/projects\/new$/);
    const config = page.getByLabel('Labeling interface');
    assert.match(await config.inputValue(), /<Choices name="sentiment"/, 'text classification is the first template');
    // Another template replaces the config; the keyboard moves between them.
    await page.getByRole('radio', { name: /Image bounding boxes/ }).check();
    assert.match(await config.inputValue(), /<RectangleLabels/);
    await page.getByRole('radio', { name: /Image bounding boxes/ }).press('ArrowRight');
    assert.match(await config.inputValue(), /<TextArea name="transcription"/);
    await page.getByRole('radio', { name: /Text classification/ }).check();

    // No title: said at the field, nothing sent.
    await page.getByRole('button', { name: 'Create project' }).click();
    await see(page.locator('#p-title-error', { hasText: 'Give the project a title.' }));
    // A config the server refuses: its message at the config.
    await page.getByLabel('Title').fill('Reviews');
    await config.fill('<View><Choices name="c" toName="missing"><Choice value="a"/></Choices></View>');
    await page.getByRole('button', { name: 'Create project' }).click();
    await see(page.locator('#p-config-error:not([hidden])'));
    assert.equal((await server.api('GET', '/api/projects/?page_size=1000')).results.filter((p) => p.title === 'Reviews').length, 0);

    await page.getByRole('radio', { name: /Named entities/ }).check();
    await page.getByRole('radio', { name: /Text classification/ }).check();
    await page.getByLabel('Description').fill('Sentiment of product reviews');
    // The live preview: Label Studio's editor draws the config on a sample task.
    const preview = page.frameLocator('iframe.preview-frame');
    await see(preview.getByText('Neutral'));
    await page.getByRole('radio', { name: /Named entities/ }).check();
    await see(preview.getByText('Organization'));
    await page.getByRole('radio', { name: /Text classification/ }).check();
    await see(preview.getByText('Positive'));
    await screenshot('project-create.png');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.waitForURL(/\/projects\/\d+\/data$/);
    state.project = Number(page.url().match(/projects\/(\d+)\/data/)[1]);
    await see(page.getByText('Project “Reviews” created.'));
    await see(page.getByText('No tasks yet.'));
    const project = await server.api('GET', `/api/projects/${state.project}/`);
    assert.equal(project.title, 'Reviews');
    assert.equal(project.description, 'Sentiment of product reviews');
    assert.match(project.label_config, /<Choice value="Positive"\/>/);
  });

  test('imports CSV, JSON and TXT files with progress, and says what is wrong with a bad file', async () => {
    await page.getByRole('button', { name: 'Import' }).click();
    const chooser = page.getByLabel('Files');
    await see(chooser);
    // A file of another type is refused before anything is sent.
    await chooser.setInputFiles(path.join(files, 'notes.md'));
    await page.getByRole('button', { name: 'Upload' }).click();
    await see(page.getByText('notes.md: not a JSON, CSV, TSV or TXT file.'));
    // A broken file: the server's message names it; nothing is imported.
    await chooser.setInputFiles([path.join(files, 'reviews.csv'), path.join(files, 'broken.json')]);
    await page.getByRole('button', { name: 'Upload' }).click();
    await see(page.locator('.import-errors', { hasText: 'Nothing was imported' }));
    await see(page.locator('.import-errors', { hasText: 'broken.json' }));
    await screenshot('project-import.png');
    assert.equal((await taskIds()).length, 0);

    await chooser.setInputFiles([path.join(files, 'reviews.csv'), path.join(files, 'more.json'), path.join(files, 'lines.txt')]);
    await page.getByRole('button', { name: 'Upload' }).click();
    await see(page.getByText(/^Imported 7 tasks from/));
    assert.equal(await page.locator('#import-panel').isHidden(), true, 'the panel closes');
    await see(page.locator('.counts', { hasText: '7 tasks' }));
    const ids = await taskIds();
    assert.equal(ids.length, 7);
    state.ids = ids;
    await see(rowOf(ids[0]).getByText('Great battery life'));
    await see(rowOf(ids[6]).getByText('Smaller than expected'));
    // The upload's progress is shown while it runs: record what the status line says.
    writeFileSync(path.join(files, 'large.txt'), Array.from({ length: 20_000 }, (_, i) => `review number ${i} of a large file`).join('\n'));
    await page.getByRole('button', { name: 'Import' }).click();
    await page.evaluate(() => {
      window.seenStatus = [];
      const status = document.querySelector('.import-status');
      new MutationObserver(() => window.seenStatus.push(status.textContent)).observe(status, { childList: true, characterData: true, subtree: true });
    });
    await chooser.setInputFiles(path.join(files, 'large.txt'));
    await page.getByRole('button', { name: 'Upload' }).click();
    // 20,000 tasks: on a busy machine (a PostgreSQL run beside other builds) this takes
    // longer than the page's usual 15 s wait.
    await page.getByText(/^Imported 20000 tasks/).first().waitFor({ state: 'visible', timeout: 90_000 });
    await see(page.locator('.counts', { hasText: '20007 tasks' }));
    const seen = await page.evaluate(() => window.seenStatus);
    assert.match(seen[0], /^Uploading large\.txt \(\d+ KB\)…$/);
    assert.ok(seen.includes('Uploaded; creating tasks…'), `status lines: ${seen}`);
    // Back to a small project for the table's tests.
    await server.api('POST', `/api/dm/actions?id=delete_tasks&project=${state.project}`, { selectedItems: { all: true, excluded: ids } });
  });

  test('filters, sorts and pages the task table; a row opens its task', async () => {
    const [first, second, third] = state.ids;
    // An annotation, a skip and a prediction, made through the API.
    const result = [{ from_name: 'sentiment', to_name: 'text', type: 'choices', value: { choices: ['Positive'] } }];
    await server.api('POST', `/api/tasks/${second}/annotations/`, { result });
    await server.api('POST', `/api/tasks/${third}/annotations/`, { result: [], was_cancelled: true });
    await server.api('POST', '/api/predictions/', { task: first, result, model_version: 'v1', score: 0.9 });
    await open(`/projects/${state.project}/data`);
    await see(rowOf(second));
    const cells = async (id) => (await rowOf(id).locator('td').allInnerTexts()).map((t) => t.trim());
    const row2 = await cells(second);
    assert.deepEqual(row2.slice(3, 6), ['1', '0', '0'], 'annotations, skips, predictions');
    assert.equal(row2[6], 'Done');
    assert.match(row2[7], /@|User/, 'the annotator');
    assert.deepEqual((await cells(third)).slice(3, 6), ['0', '1', '0']);
    assert.deepEqual((await cells(first)).slice(3, 6), ['0', '0', '1']);
    await screenshot('project-data.png');

    const filters = page.getByRole('group', { name: 'Show' });
    await filters.getByRole('link', { name: 'Labeled', exact: true }).click();
    await page.waitForURL(/\?filter=labeled$/);
    await see(page.locator('.counts', { hasText: /^\d+ tasks? labeled/ }));
    const labeled = await page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.dataset.task)));
    assert.ok(labeled.includes(second) && !labeled.includes(first), `labeled: ${labeled}`);
    await filters.getByRole('link', { name: 'Skipped' }).click();
    await page.waitForURL(/\?filter=skipped$/);
    await see(page.locator('.counts', { hasText: '1 task skipped' }));
    assert.deepEqual(await page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.dataset.task))), [third]);
    await filters.getByRole('link', { name: 'Not labeled' }).click();
    await page.waitForURL(/\?filter=unlabeled$/);
    await see(rowOf(first));
    assert.equal(await rowOf(second).count(), 0);
    await filters.getByRole('link', { name: 'All' }).click();
    await page.waitForURL(/\/data$/);

    // Sorting by a column header, by keyboard: twice reverses.
    const header = page.getByRole('link', { name: /^Annotations/ });
    await header.focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/sort=annotations/);
    await see(page.locator('th[aria-sort="ascending"]', { hasText: 'Annotations' }));
    await page.getByRole('link', { name: /^Annotations/ }).press('Enter');
    await page.waitForURL(/sort=-annotations/);
    await see(page.locator('th[aria-sort="descending"]', { hasText: 'Annotations' }));
    assert.equal(await page.locator('tbody tr').first().getAttribute('data-task'), String(second));
    // Back and forward keep the address and the page in step.
    await page.goBack();
    await page.waitForURL(/sort=annotations$/);
    await see(page.locator('th[aria-sort="ascending"]', { hasText: 'Annotations' }));

    // A task's link and Label All Tasks go to the labeling page.
    await open(`/projects/${state.project}/data`);
    assert.equal(await page.getByRole('link', { name: `Open task ${first}` }).getAttribute('href'), `/projects/${state.project}/data?task=${first}`);
    assert.equal(await page.getByRole('link', { name: 'Label All Tasks' }).getAttribute('href'), `/projects/${state.project}/data?labeling=1`);
  });

  test('pages through many tasks', async () => {
    const many = Array.from({ length: 230 }, (_, i) => ({ text: `bulk ${i}` }));
    await server.api('POST', `/api/projects/${state.project}/import`, many);
    await open(`/projects/${state.project}/data`);
    await see(page.getByText('1–100 of 237'));
    await page.getByRole('link', { name: 'Next' }).click();
    await page.waitForURL(/page=2$/);
    await see(page.getByText('101–200 of 237'));
    assert.equal(await page.locator('tbody tr').count(), 100);
    await page.getByRole('link', { name: 'Next' }).click();
    await see(page.getByText('201–237 of 237'));
    assert.equal(await page.locator('tbody tr').count(), 37);
    // Select the whole page and delete it: the table shows the last page there is.
    await page.getByRole('checkbox', { name: 'Select all tasks on this page' }).check();
    await see(page.getByText('37 selected'));
    await page.getByRole('button', { name: 'Delete tasks' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete 37 tasks?' });
    await see(dialog);
    await dialog.getByRole('button', { name: 'Delete tasks' }).click();
    await see(page.getByText('Deleted 37 tasks.'));
    await see(page.getByText('101–200 of 200'));
    assert.equal((await taskIds()).length, 200);

    // Every task at once: tick the page, then all 200; the selection stays across pages.
    await page.getByRole('link', { name: 'Previous' }).click();
    await see(page.getByText('1–100 of 200'));
    await page.getByRole('checkbox', { name: 'Select all tasks on this page' }).check();
    await see(page.getByText('100 selected'));
    await page.getByRole('button', { name: 'Select all 200 tasks' }).click();
    await see(page.getByText('All 200 tasks selected'));
    await page.getByRole('link', { name: 'Next' }).click();
    await see(page.getByText('101–200 of 200'));
    assert.equal(await page.getByRole('checkbox', { name: 'Select all tasks on this page' }).isChecked(), true);
    await page.getByRole('link', { name: 'Previous' }).click();
    await see(page.getByText('1–100 of 200'));
    // Untick the tasks the next tests need: every other one goes.
    for (const id of state.ids) await page.getByRole('checkbox', { name: `Select task ${id}`, exact: true }).uncheck();
    await see(page.getByText('193 selected'));
    await page.getByRole('button', { name: 'Delete tasks' }).click();
    await page.getByRole('dialog', { name: 'Delete 193 tasks?' }).getByRole('button', { name: 'Delete tasks' }).click();
    await see(page.getByText('Deleted 193 tasks.'));
    assert.deepEqual((await taskIds()).sort((a, b) => a - b), [...state.ids].sort((a, b) => a - b));
    await see(page.locator('.counts', { hasText: '7 tasks' }));
  });

  test('deletes the annotations of selected tasks, then the tasks; webhooks hear of it', async () => {
    await server.api('POST', '/api/webhooks/', { url: `${receiver.url}/hook`, project: state.project, send_for_all_actions: true });
    const [, second, third, fourth] = state.ids;
    await open(`/projects/${state.project}/data`);
    await see(rowOf(second));
    await rowOf(second).getByRole('checkbox').check();
    await rowOf(third).getByRole('checkbox').check();
    await see(page.getByText('2 selected'));
    // Cancel asks nothing of the server.
    await page.getByRole('button', { name: 'Delete annotations' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await server.api('GET', `/api/tasks/${second}/`)).annotations.length, 1);
    await page.getByRole('button', { name: 'Delete annotations' }).click();
    await page.getByRole('dialog', { name: 'Delete the annotations of 2 tasks?' }).getByRole('button', { name: 'Delete annotations' }).click();
    await see(page.getByText('Deleted 2 annotations.'));
    const deleted = await receiver.waitFor((r) => r.body?.action === 'ANNOTATIONS_DELETED', 'ANNOTATIONS_DELETED');
    assert.equal(deleted.body.annotations.length, 2);
    assert.deepEqual((await server.api('GET', `/api/tasks/${second}/`)).annotations, []);
    assert.deepEqual(await rowOf(second).locator('td').nth(3).innerText(), '0');

    await rowOf(fourth).getByRole('checkbox').check();
    await see(page.getByText('1 selected'));
    await page.getByRole('button', { name: 'Delete tasks' }).click();
    await page.getByRole('dialog', { name: 'Delete 1 task?' }).getByRole('button', { name: 'Delete tasks' }).click();
    await see(page.getByText('Deleted 1 tasks.'));
    await rowOf(fourth).waitFor({ state: 'detached' });
    const gone = await receiver.waitFor((r) => r.body?.action === 'TASKS_DELETED', 'TASKS_DELETED');
    assert.deepEqual(gone.body.tasks.map((t) => t.id), [fourth]);
    state.ids = state.ids.filter((id) => id !== fourth);
  });

  test('changes the settings; bad values are named at their field', async () => {
    await page.getByRole('navigation', { name: 'Project' }).getByRole('link', { name: 'Settings' }).click();
    await page.waitForURL(/\/settings$/);
    await see(page.getByRole('heading', { name: 'General' }));
    await page.getByLabel('Annotations per task (overlap)').fill('0');
    await page.getByRole('button', { name: 'Save' }).click();
    await see(page.locator('#s-overlap-error', { hasText: 'A whole number, 1 or more.' }));

    await page.getByLabel('Title').fill('Reviews (batch 1)');
    await page.getByLabel('Instructions', { exact: true }).fill('Positive if the reviewer would buy again.');
    await page.getByLabel('Annotations per task (overlap)').fill('2');
    await page.getByLabel('Annotators may skip tasks').uncheck();
    await page.getByLabel('Show the annotation history').check();
    await page.getByRole('button', { name: 'Save' }).click();
    await see(page.getByText('Settings saved.'));
    const project = await server.api('GET', `/api/projects/${state.project}/`);
    assert.equal(project.title, 'Reviews (batch 1)');
    assert.equal(project.expert_instruction, 'Positive if the reviewer would buy again.');
    assert.equal(project.maximum_annotations, 2);
    assert.equal(project.show_skip_button, false);
    assert.equal(project.show_annotation_history, true);

    // An ML backend: a bad URL is named, a good one is listed and can be removed.
    await page.getByLabel('URL').fill('not a url');
    await page.getByRole('button', { name: 'Add ML backend' }).click();
    await see(page.locator('#ml-url-error:not([hidden])'));
    await page.getByLabel('URL').fill(`${receiver.url}/model`);
    await page.getByLabel('Name').fill('Sentiment model');
    await page.getByRole('button', { name: 'Add ML backend' }).click();
    await see(page.locator('.ml-item', { hasText: 'Sentiment model' }));
    assert.equal((await server.api('GET', `/api/ml/?project=${state.project}`)).length, 1);
    await screenshot('project-settings.png');
    await page.getByRole('button', { name: 'Remove ML backend Sentiment model' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
    await see(page.getByText('ML backend removed.'));
    assert.deepEqual(await server.api('GET', `/api/ml/?project=${state.project}`), []);

    // Settings → Webhooks is the project's webhook list.
    await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Webhooks' }).click();
    await page.waitForURL(/\/settings\/webhooks$/);
    await see(page.locator('article.webhook'));
  });

  test('the projects list shows progress; pages fit narrow screens', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).click();
    await page.waitForURL(/\/projects$/);
    const row = page.getByRole('row', { name: /Reviews \(batch 1\)/ });
    await see(row);
    const bar = row.getByRole('progressbar', { name: 'Finished tasks' });
    const ids = await taskIds();
    assert.equal(await bar.getAttribute('aria-valuemax'), String(ids.length));
    const project = await server.api('GET', `/api/projects/${state.project}/`);
    assert.equal(await bar.getAttribute('aria-valuenow'), String(project.finished_task_number));
    await screenshot('projects.png');

    for (const size of [WIDE, NARROW]) {
      await page.setViewportSize(size);
      for (const [name, address, ready] of [
        ['projects', '/projects', 'table'],
        ['create', '/projects/new', '#p-config'],
        ['data', `/projects/${state.project}/data`, 'tbody tr'],
        ['settings', `/projects/${state.project}/settings`, '#s-title'],
      ]) {
        await open(address);
        await see(page.locator(ready));
        await assertFitsWidth(page, `${name} at ${size.width}×${size.height}`);
        if (size === NARROW && name === 'data') await screenshot('project-data-narrow.png');
      }
    }
    await page.setViewportSize(WIDE);
  });

  test('an address that is no page says so', async () => {
    await open('/projects/999999/data');
    await see(page.getByRole('heading', { name: 'Not found' }));
    await open('/webhooks/not-a-number');
    await see(page.getByText('There is no page at this address.'));
  });
});
