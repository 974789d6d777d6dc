// People in a browser: an annotator signs in with email and password (typed, submitted
// with the keyboard), sees what an annotator may do and nothing more, and signs out; a
// wrong password is answered without saying whether the email exists.
//
// Run: `cargo test --test browser`, or by hand in this folder after `npm ci`:
//   LABELHOOK_BIN=../../target/debug/labelhook node --test people.test.mjs

import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { TOKEN, startServer, assertNoProblems, launchChromium, newPage, reportProblems, screenshotFolder, see, screenshotPage } from './harness.mjs';

const shots = screenshotFolder();
const LABEL_CONFIG = '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="positive"/><Choice value="negative"/></Choices></View>';
// On PostgreSQL the test files share a database: names of our own.
const suffix = Date.now().toString(36);
const EMAIL = `annotator-${suffix}@example.com`;
const PASSWORD = 'annotator-pass-123';
const PROJECT = `Annotators' queue ${suffix}`;

let server;
let browser;
let page;
let problems = [];

describe('people in a browser', () => {
  before(async () => {
    server = await startServer();
    await server.api('POST', '/api/projects/', { title: PROJECT, label_config: LABEL_CONFIG });
    await server.api('POST', '/api/users/', { email: EMAIL, first_name: 'Ana', password: PASSWORD, role: 'AN' });
    browser = await launchChromium();
    page = await newPage(browser);
    reportProblems(page, (line) => problems.push(line));
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  afterEach(() => assertNoProblems(problems));

  test('a wrong password is refused without saying whether the email exists', async () => {
    await page.goto(`${server.base}/projects`);
    await page.waitForURL(/\/sign-in$/);
    await page.getByRole('link', { name: 'Sign in with email and password' }).click();
    await page.waitForURL(/\/user\/login/);
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByLabel('Password').press('Enter');
    const alert = await see(page.getByRole('alert'));
    assert.equal((await alert.innerText()).trim(), "The email and password you entered don't match.");
    assert.equal(await page.getByLabel('Email').inputValue(), EMAIL, 'the email stays typed');
    assert.equal(await page.getByLabel('Password').inputValue(), '', 'the password does not');
    await screenshotPage(page, 'sign-in-refused.png');
  });

  test('an annotator signs in with the keyboard and sees the projects, not the webhooks', async () => {
    await page.getByLabel('Password').fill(PASSWORD);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/projects$/);
    await see(page.getByRole('link', { name: PROJECT }));
    await see(page.getByRole('link', { name: 'Projects' }));
    for (const name of ['Organization webhooks', 'Create project', `Settings of ${PROJECT}`, `Export ${PROJECT}`]) {
      assert.equal(await page.getByRole('link', { name, exact: true }).count(), 0, `no "${name}": an annotator cannot use it`);
    }
    // The owner, by contrast, is offered them (the same check would see them).
    const owner = await browser.newContext();
    const ownerPage = await owner.newPage();
    await ownerPage.goto(`${server.base}/sign-in`);
    await ownerPage.getByLabel('API token').fill(TOKEN);
    await ownerPage.getByLabel('API token').press('Enter');
    await ownerPage.waitForURL(/\/projects$/);
    await see(ownerPage.getByRole('link', { name: `Settings of ${PROJECT}`, exact: true }));
    assert.equal(await ownerPage.getByRole('link', { name: 'Create project', exact: true }).count(), 1);
    await owner.close();
    // The session cookie cannot be read by the page; the CSRF secret can.
    const cookies = await page.evaluate(() => document.cookie);
    assert.ok(!cookies.includes('sessionid'), cookies);
    assert.ok(cookies.includes('csrftoken='), cookies);
    await screenshotPage(page, 'annotator-projects.png');

    await page.goto(`${server.base}/webhooks`);
    await see(page.getByRole('heading', { name: 'Not allowed' }));
    await see(page.getByText(`you are signed in as ${EMAIL} (annotator)`));
    await screenshotPage(page, 'annotator-not-allowed.png');
  });

  test('every page is offered from its least role up and "Not allowed" below it', async () => {
    // The page table of docs/api.md, cell by cell: each page, signed in as each role.
    const project = (await server.api('GET', '/api/projects/')).results.find((p) => p.title === PROJECT).id;
    const task = (await server.api('POST', '/api/tasks/', { project, data: { text: 'a task' } })).id;
    const pages = [
      ['/projects', 'AN'],
      [`/projects/${project}/data`, 'AN'],
      [`/projects/${project}/data?labeling=1`, 'AN'],
      [`/projects/${project}/data?task=${task}`, 'AN'],
      [`/projects/${project}/data?review=1`, 'RE'],
      ['/projects/new', 'MA'],
      [`/projects/${project}/settings`, 'MA'],
      [`/projects/${project}/settings/webhooks`, 'MA'],
      [`/projects/${project}/export`, 'MA'],
      ['/webhooks', 'MA'],
      ['/events', 'MA'],
    ];
    const ROLES = ['OW', 'AD', 'MA', 'RE', 'AN'];
    let cells = 0;
    for (const role of ROLES) {
      const email = `page-${role.toLowerCase()}-${suffix}@example.com`;
      if (role !== 'OW') await server.api('POST', '/api/users/', { email, password: PASSWORD, role });
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      context.setDefaultTimeout(20_000);
      const person = await context.newPage();
      if (role === 'OW') {
        await person.goto(`${server.base}/sign-in`);
        await person.getByLabel('API token').fill(TOKEN);
        await person.getByLabel('API token').press('Enter');
      } else {
        await person.goto(`${server.base}/user/login`);
        await person.getByLabel('Email').fill(email);
        await person.getByLabel('Password').fill(PASSWORD);
        await person.getByLabel('Password').press('Enter');
      }
      await person.waitForURL(/\/projects$/);
      for (const [address, least] of pages) {
        await person.goto(`${server.base}${address}`);
        // Drawn: a page heading (the app, or the labeling page's messages) or the editor.
        await person.waitForFunction(() => {
          const heading = document.querySelector('h1');
          return (heading && heading.textContent.trim() !== '') || ['true', 'done'].includes(document.body.dataset.ready);
        });
        const refused = await person.getByRole('heading', { name: 'Not allowed' }).count();
        const allowed = ROLES.indexOf(role) <= ROLES.indexOf(least);
        assert.equal(refused === 0, allowed, `${role} at ${address} (least ${least})`);
        cells += 1;
      }
      // What the role may not open is not linked from the task table either.
      await person.goto(`${server.base}/projects/${project}/data`);
      await see(person.getByRole('link', { name: 'Label All Tasks' }));
      const reviewLinks = await person.getByRole('link', { name: 'Review Annotations' }).count();
      assert.equal(reviewLinks === 1, ROLES.indexOf(role) <= ROLES.indexOf('RE'), `${role}: Review Annotations`);
      const settingsLinks = await person.locator(`a[href="/projects/${project}/settings"]:visible`).count();
      assert.equal(settingsLinks > 0, ROLES.indexOf(role) <= ROLES.indexOf('MA'), `${role}: settings tab`);
      await context.close();
    }
    assert.equal(cells, pages.length * ROLES.length);
    // The labeling pages' expected 404s (no task for these people) are not the page's faults.
    problems = problems.filter((p) => !p.includes('404'));
  });

  test('signs out, and the session no longer opens the pages', async () => {
    await page.goto(`${server.base}/projects`);
    await see(page.getByRole('link', { name: PROJECT }));
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/user\/login$/);
    await page.goto(`${server.base}/projects`);
    await page.waitForURL(/\/sign-in$/);
    const status = await page.evaluate(async () => (await fetch('/api/current-user/whoami')).status);
    assert.equal(status, 401);
  });
});
