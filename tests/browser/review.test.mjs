// Reviews in a browser: an annotator and a reviewer sign in with email and password. The
// annotator labels in the stream; the reviewer opens "Review Annotations" (Label Studio's
// editor with the annotation waiting for review), rejects one with a comment, fixes and
// accepts another; the rejected task is back in the annotator's stream, they change it, and
// the reviewer accepts it. A real loopback receiver gets each review as REVIEW_CREATED.
//
// Run: `cargo test --test browser`, or by hand in this folder after `npm ci`:
//   LABELHOOK_BIN=../../target/debug/labelhook node --test review.test.mjs

import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, startReceiver, assertNoProblems, screenshotFolder, launchChromium, newPage, reportProblems, readyToLabel } from './harness.mjs';

const shots = screenshotFolder();
const LABEL_CONFIG = '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="positive"/><Choice value="negative"/></Choices></View>';
// On PostgreSQL the test files share a database: names of our own.
const suffix = Date.now().toString(36);
const ANNOTATOR = { email: `ann-${suffix}@example.com`, password: 'annotator-pass-123' };
const REVIEWER = { email: `rev-${suffix}@example.com`, password: 'reviewer-pass-123' };

let server;
let receiver;
let browser;
let project;
let tasks;
let reviewerId;
let problems = [];

async function personIn(who) {
  const page = await newPage(browser, { timeout: 20_000 });
  // The streams' last GETs answer 404 ("no more tasks", "nothing to review").
  reportProblems(page, (line) => problems.push(line), { prefix: `${who.email}: ` });
  await page.goto(`${server.base}/user/login`);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByLabel('Password').press('Enter');
  await page.waitForURL(/\/projects$/);
  return page;
}

const ready = readyToLabel;

async function done(page) {
  await page.waitForFunction(() => document.body.dataset.ready === 'done', null, { timeout: 20_000 });
}

/** The REVIEW_CREATED delivery whose review is about `annotation`, the `nth` (0-based). */
async function reviewEvent(annotation, nth = 0) {
  const matches = (r) => r.body && r.body.action === 'REVIEW_CREATED' && r.body.annotation && r.body.annotation.id === annotation;
  await receiver.waitFor((r) => receiver.requests.filter(matches).length > nth && matches(r), `REVIEW_CREATED #${nth + 1} of annotation ${annotation}`);
  return receiver.requests.filter(matches)[nth];
}

const choices = (annotation) => annotation.result.map((r) => r.value.choices);

describe('reviews in a browser', () => {
  let annotator;
  let reviewer;
  let annotations;

  before(async () => {
    server = await startServer();
    receiver = await startReceiver();
    const created = await server.api('POST', '/api/projects/', { title: `Reviewed ${suffix}`, label_config: LABEL_CONFIG, review_required: true });
    project = created.id;
    await server.api('POST', '/api/webhooks/', {
      project, url: `${receiver.url}/hook`, send_payload: true, send_for_all_actions: false,
      actions: ['REVIEW_CREATED', 'ANNOTATION_UPDATED'],
    });
    await server.api('POST', `/api/projects/${project}/import`, [{ text: 'Lovely, would come again.' }, { text: 'Cold soup and a long wait.' }]);
    tasks = (await server.api('GET', `/api/tasks/?project=${project}`)).tasks.map((t) => t.id).sort((a, b) => a - b);
    await server.api('POST', '/api/users/', { email: ANNOTATOR.email, password: ANNOTATOR.password, role: 'AN' });
    reviewerId = (await server.api('POST', '/api/users/', { email: REVIEWER.email, first_name: 'Rita', password: REVIEWER.password, role: 'RE' })).id;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await receiver?.close();
    await server?.stop();
  });

  afterEach(() => assertNoProblems(problems, 'the pages reported errors'));

  test('the annotator labels both tasks; the review stream is not offered to them', async () => {
    annotator = await personIn(ANNOTATOR);
    await annotator.goto(`${server.base}/projects/${project}/data`);
    await annotator.getByRole('link', { name: 'Label All Tasks' }).waitFor();
    assert.equal(await annotator.getByRole('link', { name: 'Review Annotations' }).count(), 0, 'annotators do not review');
    await annotator.getByRole('link', { name: 'Label All Tasks' }).click();
    for (const task of tasks) {
      await ready(annotator, task);
      await annotator.getByRole('checkbox', { name: /positive/ }).click();
      await annotator.getByRole('button', { name: 'Submit' }).click();
    }
    await done(annotator);
    annotations = [];
    for (const task of tasks) annotations.push((await server.api('GET', `/api/tasks/${task}/annotations/`))[0].id);
    const stats = await server.api('GET', `/api/projects/${project}/`);
    assert.equal(stats.finished_task_number, 0, 'review is required before a task counts as finished');
  });

  test('the reviewer rejects one with a comment and fixes the other; each arrives as REVIEW_CREATED', async () => {
    reviewer = await personIn(REVIEWER);
    await reviewer.goto(`${server.base}/projects/${project}/data`);
    await reviewer.getByRole('link', { name: 'Review Annotations' }).click();
    await ready(reviewer, tasks[0]);
    const positive = reviewer.getByRole('checkbox', { name: /positive/ });
    assert.equal(await positive.isChecked(), true, "the annotator's choice is shown");
    // Only the review bar saves: the editor's own Submit is not offered.
    assert.equal(await reviewer.getByRole('button', { name: 'Submit' }).count(), 0);
    await reviewer.getByLabel('Comment').fill('The visit was a good one: check the second sentence.');
    await reviewer.screenshot({ path: path.join(shots, 'review-page.png') });
    await reviewer.getByRole('button', { name: 'Reject', exact: true }).click();

    const rejected = await reviewEvent(annotations[0]);
    assert.equal(rejected.body.review.accepted, false);
    assert.equal(rejected.body.review.state, 'rejected');
    assert.equal(rejected.body.review.comment, 'The visit was a good one: check the second sentence.');
    assert.equal(rejected.body.review.created_by, reviewerId);
    assert.equal(rejected.body.acted_by, reviewerId);
    assert.equal(rejected.body.task.id, tasks[0]);
    assert.equal(rejected.body.project.id, project);
    assert.ok(rejected.headers['webhook-signature'] || rejected.headers['webhook-id'], 'a signed delivery');

    // The next annotation opens; the reviewer changes the choice and saves it as a fix.
    await ready(reviewer, tasks[1]);
    await reviewer.locator('#lh-status', { hasText: 'rejected' }).waitFor();
    await reviewer.getByRole('checkbox', { name: /positive/ }).click();
    await reviewer.getByRole('checkbox', { name: /negative/ }).click();
    await reviewer.getByRole('button', { name: 'Fix and accept' }).click();
    const fixed = await reviewEvent(annotations[1]);
    assert.equal(fixed.body.review.accepted, true);
    assert.deepEqual(choices(fixed.body.annotation), [['negative']], 'the fix is the annotation now');
    const [review] = await server.api('GET', `/api/annotation-reviews/?annotation=${annotations[1]}`);
    assert.deepEqual(choices({ result: review.previous_annotation_result }), [['positive']], "the annotator's result is kept");
    await done(reviewer);
    await reviewer.getByRole('heading', { name: 'Nothing to review' }).waitFor();
    const stats = await server.api('GET', `/api/projects/${project}/`);
    assert.equal(stats.finished_task_number, 1);
  });

  test('the rejected task is back in the annotator\'s stream; changed, it is accepted', async () => {
    await annotator.goto(`${server.base}/projects/${project}/data?labeling=1`);
    await ready(annotator, tasks[0]);
    await annotator.locator('#lh-status', { hasText: 'check the second sentence' }).waitFor();
    assert.equal(await annotator.getByRole('checkbox', { name: /positive/ }).isChecked(), true, 'their annotation, to change');
    await annotator.screenshot({ path: path.join(shots, 'review-rejected-back.png') });
    await annotator.getByRole('checkbox', { name: /positive/ }).click();
    await annotator.getByRole('checkbox', { name: /negative/ }).click();
    await annotator.locator('.lsf-controls button', { hasText: 'Update' }).click();
    await done(annotator);
    const updated = await receiver.waitFor((r) => r.body && r.body.action === 'ANNOTATION_UPDATED' && r.body.annotation.id === annotations[0], 'ANNOTATION_UPDATED');
    assert.deepEqual(choices(updated.body.annotation), [['negative']]);

    await reviewer.goto(`${server.base}/projects/${project}/data?review=1`);
    await ready(reviewer, tasks[0]);
    await reviewer.getByRole('button', { name: 'Accept', exact: true }).click();
    const accepted = await reviewEvent(annotations[0], 1);
    assert.equal(accepted.body.review.accepted, true);
    await done(reviewer);
    const stats = await server.api('GET', `/api/projects/${project}/`);
    assert.equal(stats.finished_task_number, 2);
  });
});
