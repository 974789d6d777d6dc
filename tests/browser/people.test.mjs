// People in a browser: an annotator signs in with email and password (typed, submitted
// with the keyboard), sees what an annotator may do and nothing more, and signs out; a
// wrong password is answered without saying whether the email exists.
//
// Run: `cargo test --test browser`, or by hand in this folder after `npm ci`:
//   LABELHOOK_BIN=../../target/debug/labelhook node --test people.test.mjs

import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { TOKEN, CHROMIUM_ARGS, chromiumPath, startServer } from './harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shots = process.env.UPDATE_SCREENSHOTS
  ? path.join(root, 'docs/screenshots')
  : path.join(root, 'target/browser-screenshots');
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

async function see(locator) {
  await locator.first().waitFor({ state: 'visible' });
  return locator;
}

describe('people in a browser', () => {
  before(async () => {
    mkdirSync(shots, { recursive: true });
    server = await startServer();
    await server.api('POST', '/api/projects/', { title: PROJECT, label_config: LABEL_CONFIG });
    await server.api('POST', '/api/users/', { email: EMAIL, first_name: 'Ana', password: PASSWORD, role: 'AN' });
    browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
        problems.push(`console: ${message.text()}`);
      }
    });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  afterEach(() => {
    const seen = problems;
    problems = [];
    assert.deepEqual(seen, [], 'the page reported errors');
  });

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
    await page.screenshot({ path: path.join(shots, 'sign-in-refused.png'), fullPage: true });
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
    await page.screenshot({ path: path.join(shots, 'annotator-projects.png'), fullPage: true });

    await page.goto(`${server.base}/webhooks`);
    await see(page.getByRole('heading', { name: 'Not allowed' }));
    await see(page.getByText(`you are signed in as ${EMAIL} (annotator)`));
    await page.screenshot({ path: path.join(shots, 'annotator-not-allowed.png'), fullPage: true });
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
