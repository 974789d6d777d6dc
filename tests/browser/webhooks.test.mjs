// End-to-end: a user manages webhooks through the web pages in headless Chromium, against
// the real server and real receivers. The tests run in order and share one server: each
// continues from what the previous one left (as a user would).
//
// Run: `cargo test --test browser`, or by hand in this folder after `npm ci`:
//   LABELHOOK_BIN=../../target/debug/labelhook npm test
// With UPDATE_SCREENSHOTS=1 the screenshots go to docs/screenshots/ (the README shows
// them); otherwise to target/browser-screenshots/, so a test run leaves the tree clean.

import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { TOKEN, startServer, startReceiver, assertFitsWidth, assertNoProblems, launchChromium, newPage, openAfresh, reportProblems, screenshotPage, see } from './harness.mjs';

const WIDE = { width: 1280, height: 800 };
const NARROW = { width: 390, height: 844 };
const ODD_TITLE = 'Support tickets <triage> & "urgent"';
const LABEL_CONFIG = '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="positive"/><Choice value="negative"/></Choices></View>';

let server;
let good; // a receiver that answers 200
let flaky; // a receiver that answers 500 until told otherwise
let browser;
let page;
let project;
let problems = []; // uncaught exceptions and console errors of the page

// State carried from test to test.
const hooks = {};

const card = (url) => page.locator('article.webhook', { has: page.locator('.webhook-url', { hasText: new RegExp(`^${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) });

const open = (address) => openAfresh(page, server.base, address);
const screenshot = (name) => screenshotPage(page, name);

describe('webhook pages in a browser', () => {
  before(async () => {
    [server, good, flaky] = await Promise.all([startServer(), startReceiver(), startReceiver()]);
    flaky.answerWith(500);
    project = await server.api('POST', '/api/projects/', { title: 'Product reviews', label_config: LABEL_CONFIG });
    await server.api('POST', `/api/projects/${project.id}/import`, [{ text: 'Great battery life' }, { text: 'Broke after a week' }, { text: 'Does what it says' }]);
    // A title with markup: it must show as text.
    await server.api('POST', '/api/projects/', { title: ODD_TITLE, label_config: LABEL_CONFIG });
    browser = await launchChromium();
    page = await newPage(browser, { viewport: WIDE });
    reportProblems(page, (line) => problems.push(line));
  });

  after(async () => {
    await browser?.close();
    await Promise.all([server?.stop(), good?.close(), flaky?.close()]);
  });

  afterEach(() => assertNoProblems(problems));

  test('signs in with the API token and lists the projects', async () => {
    await page.goto(`${server.base}/`);
    await page.waitForURL(/\/sign-in$/);
    const field = page.getByLabel('API token');
    await field.fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await see(page.locator('#token-error', { hasText: 'This token was not accepted.' }));
    assert.equal(await field.getAttribute('aria-invalid'), 'true');

    await field.fill(TOKEN);
    await field.press('Enter'); // the keyboard submits the form
    await page.waitForURL(/\/projects$/);
    const row = page.getByRole('row', { name: /Product reviews/ });
    await see(row);
    assert.match(await row.innerText(), /\b3\b/, 'the task count shows');
    const odd = page.getByRole('link', { name: ODD_TITLE, exact: true });
    await see(odd);
    assert.equal(await odd.locator('*').count(), 0, 'a title is text, never markup');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('labelhook.token')), TOKEN);
  });

  test('adds a webhook through the form, with a field error for a bad URL', async () => {
    await page.getByRole('link', { name: 'Product reviews', exact: true }).click();
    await page.waitForURL(new RegExp(`/projects/${project.id}/data$`));
    await page.getByRole('navigation', { name: 'Project' }).getByRole('link', { name: 'Settings' }).click();
    await page.waitForURL(new RegExp(`/projects/${project.id}/settings$`));
    await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Webhooks' }).click();
    await page.waitForURL(new RegExp(`/projects/${project.id}/settings/webhooks$`));
    await see(page.getByText('This project has no webhooks yet.'));
    await page.locator('.page-header').getByRole('link', { name: 'Add webhook' }).click();
    await page.waitForURL(/\/webhooks\/new$/);
    // Organization-only events cannot be picked for a project webhook.
    await see(page.getByRole('checkbox', { name: /Task created/ }));
    assert.equal(await page.getByRole('checkbox', { name: /Project created/ }).count(), 0);

    const url = page.getByLabel('URL');
    await url.fill('not a url');
    await page.getByRole('button', { name: 'Add webhook' }).click();
    const error = page.locator('#wh-url-error');
    await see(error);
    assert.equal(await error.innerText(), 'Enter a valid URL.');
    assert.equal(await url.getAttribute('aria-invalid'), 'true');
    assert.match(await url.getAttribute('aria-describedby'), /wh-url-error/);
    assert.ok(await url.evaluate((el) => el === document.activeElement), 'the field in error has the focus');
    assert.ok(await error.evaluate((el) => el.closest('.field') === document.getElementById('wh-url').closest('.field')),
      'the message is next to the URL field');

    hooks.good = `${good.url}/hooks/labeling`;
    await url.fill(hooks.good);
    assert.ok(await error.isHidden(), 'editing the field clears its message');
    await page.getByLabel('Only the events selected below').check();
    await page.getByRole('checkbox', { name: /Task created/ }).check();
    await page.getByRole('button', { name: '+ Add header' }).click();
    await page.getByLabel('Header 1 name').fill('X-Team');
    await page.getByLabel('Header 1 value').fill('labeling');
    await screenshot('webhook-form.png');
    await page.getByRole('button', { name: 'Add webhook' }).click();

    await page.waitForURL(new RegExp(`/projects/${project.id}/settings/webhooks$`));
    const secret = await see(page.locator('.notice code.secret'));
    assert.match(await secret.innerText(), /^whsec_/);
    const added = card(hooks.good);
    await see(added.getByText('On', { exact: true }));
    await see(added.getByText(/Task created · full payload/));
    const [webhook] = await server.api('GET', `/api/webhooks/?project=${project.id}`);
    hooks.goodId = webhook.id;
    assert.equal(webhook.url, hooks.good);
    assert.equal(webhook.send_for_all_actions, false);
    assert.deepEqual(webhook.actions, ['TASKS_CREATED']);
    assert.deepEqual(webhook.headers, { 'X-Team': 'labeling' });
  });

  test('sends a test event that reaches the receiver', async () => {
    const added = card(hooks.good);
    await added.getByRole('button', { name: 'Send test' }).click();
    await see(added.getByText(/Test event queued as delivery \d+/));
    const ping = await good.waitFor((r) => r.body?.action === 'PING', 'the PING test event');
    assert.equal(ping.path, '/hooks/labeling');
    assert.equal(ping.headers['x-team'], 'labeling');
    assert.match(ping.headers['webhook-signature'], /^v1,/);
    // The card follows the delivery until it is done.
    await see(added.locator('.last-delivery', { hasText: 'Succeeded' }));
  });

  test('a failing delivery shows in the log with the response, and is redelivered', async () => {
    // A second webhook, for all events, to a receiver that answers 500.
    await page.locator('.page-header').getByRole('link', { name: 'Add webhook' }).click();
    hooks.flaky = `${flaky.url}/labelstudio/events`;
    await page.getByLabel('URL').fill(hooks.flaky);
    await page.getByRole('button', { name: 'Add webhook' }).click();
    const failing = card(hooks.flaky);
    await see(failing);
    const all = await server.api('GET', `/api/webhooks/?project=${project.id}`);
    hooks.flakyId = all.find((w) => w.url === hooks.flaky).id;

    // Annotators import tasks: both webhooks get TASKS_CREATED; one receiver fails it.
    await server.api('POST', `/api/projects/${project.id}/import`, [{ text: 'Arrived late' }]);
    const first = await flaky.waitFor((r) => r.body?.action === 'TASKS_CREATED', 'TASKS_CREATED');
    await good.waitFor((r) => r.body?.action === 'TASKS_CREATED', 'TASKS_CREATED (selected action)');
    await failing.getByRole('button', { name: 'Send test' }).click();
    await flaky.waitFor((r) => r.body?.action === 'PING', 'the PING test event');
    await see(failing.locator('.last-delivery', { hasText: 'Failed' }));
    await see(card(hooks.good).locator('.last-delivery', { hasText: 'Succeeded' }));
    await screenshot('project-webhooks.png');

    await failing.getByRole('link', { name: 'Delivery log' }).click();
    await page.waitForURL(new RegExp(`/webhooks/${hooks.flakyId}/deliveries$`));
    const failedRows = page.locator('tbody tr[data-status="failed"]');
    await see(failedRows.filter({ hasText: 'TASKS_CREATED' }));
    await see(failedRows.filter({ hasText: 'PING' }));
    const tasksRow = failedRows.filter({ hasText: 'TASKS_CREATED' });
    assert.equal(await tasksRow.locator('td[data-label="Code"]').innerText(), '500');
    assert.equal(await tasksRow.locator('td[data-label="Attempts"]').innerText(), '1');
    assert.match(await tasksRow.locator('td[data-label="Duration"]').innerText(), /\d+ ms|\d\.\d s/);

    // Filter by status: the address keeps the filter.
    await page.getByLabel('Status').selectOption('succeeded');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/status=succeeded/);
    await see(page.getByText('No deliveries match these filters.'));
    await page.getByLabel('Status').selectOption('failed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/status=failed/);
    await see(page.locator('tbody tr'));
    assert.equal(await page.locator('tbody tr').count(), 2);
    assert.equal(await page.locator('tbody tr[data-status="failed"]').count(), 2);

    // The detail shows the request and the receiver's answer.
    await page.locator('tbody tr', { hasText: 'TASKS_CREATED' }).getByRole('link', { name: /Details of delivery/ }).click();
    await page.waitForURL(/\/deliveries\/\d+$/);
    await see(page.getByRole('heading', { name: 'Attempt 1' }));
    await see(page.locator('.attempt .badge', { hasText: 'HTTP 500' }));
    await see(page.locator('.attempt pre', { hasText: 'receiver is down for maintenance' }));
    await see(page.locator('pre[aria-label="Request body"]', { hasText: '"TASKS_CREATED"' }));
    await see(page.locator('.delivery-status', { hasText: 'Failed' }));

    // The receiver is fixed; redeliver: same webhook-id, and the log says succeeded.
    flaky.answerWith(200);
    await page.getByRole('button', { name: /Redeliver delivery/ }).click();
    const again = await flaky.waitFor((r) => r !== first && r.body?.action === 'TASKS_CREATED', 'the redelivered TASKS_CREATED');
    assert.equal(again.headers['webhook-id'], first.headers['webhook-id']);
    await see(page.locator('.delivery-status', { hasText: 'Succeeded' }));
    await see(page.getByRole('heading', { name: 'Attempt 2' }));
    await see(page.locator('.attempt .badge', { hasText: 'HTTP 200' }));
    await screenshot('delivery-detail.png');

    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Delivery log' }).click();
    await see(page.locator('tbody tr[data-status="succeeded"]', { hasText: 'TASKS_CREATED' }));
    await see(page.locator('tbody tr[data-status="failed"]', { hasText: 'PING' }));
    await screenshot('delivery-log.png');

    // Redeliver from the table as well.
    await page.locator('tbody tr', { hasText: 'PING' }).getByRole('button', { name: /Redeliver delivery/ }).click();
    await flaky.waitFor((r) => r.body?.action === 'PING' && r.answered === 200, 'the redelivered PING');
    await see(page.locator('tbody tr[data-status="succeeded"]', { hasText: 'PING' }));
  });

  test('recovers the failed deliveries of a period', async () => {
    flaky.answerWith(500);
    await page.getByRole('button', { name: 'Send test' }).click();
    await see(page.locator('tbody tr[data-status="failed"]', { hasText: 'PING' }));
    flaky.answerWith(200);

    // Without a start time the API's message shows next to the field.
    await page.getByRole('button', { name: 'Recover' }).click();
    await see(page.locator('#recover-since-error', { hasText: 'This field is required' }));

    const hourAgo = new Date(Date.now() - 3600_000);
    const local = new Date(hourAgo.getTime() - hourAgo.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
    const pings = () => flaky.requests.filter((r) => r.body?.action === 'PING').length;
    const sent = pings();
    await page.getByLabel('Failed since').fill(local);
    await page.getByRole('button', { name: 'Recover' }).click();
    await see(page.getByText('1 failed delivery queued again.'));
    assert.ok(await page.locator('#recover-since-error').isHidden(), 'the old error is gone');
    await flaky.waitFor((r) => r.body?.action === 'PING' && r.answered === 200 && pings() > sent, 'the recovered PING');
    await page.waitForFunction(() => !document.querySelector('tbody tr[data-status="pending"], tbody tr[data-status="failed"]'));
  });

  test('switches a webhook off and on with the keyboard', async () => {
    await open(`/projects/${project.id}/settings/webhooks`);
    const added = card(hooks.good);
    const off = added.getByRole('button', { name: 'Switch off' });
    await off.focus();
    await page.keyboard.press('Enter');
    await see(added.getByText('Off', { exact: true }));
    await see(added.getByText(/Switched off: events from now on are not sent to it, and not kept for later/));
    const on = added.getByRole('button', { name: 'Switch on' });
    assert.ok(await on.evaluate((el) => el === document.activeElement), 'the focus stays on the switch');
    assert.notEqual(await on.evaluate((el) => getComputedStyle(el).outlineStyle), 'none', 'the focus is visible');
    assert.equal((await server.api('GET', `/api/webhooks/${hooks.goodId}/`)).is_active, false);

    // Switched off by a user, it receives nothing; switched on, it receives again.
    await server.api('POST', `/api/projects/${project.id}/import`, [{ text: 'Imported while off' }]);
    await page.keyboard.press('Space');
    await see(added.getByText('On', { exact: true }));
    assert.equal((await server.api('GET', `/api/webhooks/${hooks.goodId}/`)).is_active, true);
    await server.api('POST', `/api/projects/${project.id}/import`, [{ text: 'Imported while on' }]);
    await good.waitFor((r) => r.raw.includes('Imported while on'), 'the event after switching on');
    assert.ok(!good.requests.some((r) => r.raw.includes('Imported while off')), 'nothing was sent while off');
  });

  test('reveals and rotates the signing secret', async () => {
    const added = card(hooks.good);
    await added.getByRole('button', { name: 'Secret' }).click();
    const code = added.locator('.secret-panel code.secret');
    await see(code);
    assert.doesNotMatch(await code.innerText(), /whsec_/, 'hidden until revealed');
    await added.getByRole('button', { name: 'Reveal' }).click();
    await see(added.locator('.secret-panel code.secret', { hasText: 'whsec_' }));
    const old = (await server.api('GET', `/api/webhooks/${hooks.goodId}/secret`)).secret;
    assert.equal(await code.innerText(), old);

    await added.getByRole('button', { name: 'Rotate secret' }).click();
    const dialog = page.getByRole('dialog', { name: 'Rotate the signing secret?' });
    await see(dialog);
    await dialog.getByRole('button', { name: 'Rotate secret' }).click();
    await see(added.getByText('Secret rotated.'));
    const now = (await server.api('GET', `/api/webhooks/${hooks.goodId}/secret`)).secret;
    assert.notEqual(now, old);
    await see(added.locator('.secret-panel code.secret', { hasText: now }));
    await see(added.getByText(/The previous secret also signs until/));
  });

  test('edits a webhook; the form keeps what was set', async () => {
    await card(hooks.good).getByRole('link', { name: 'Edit' }).click();
    await page.waitForURL(new RegExp(`/webhooks/${hooks.goodId}/edit$`));
    assert.equal(await page.getByLabel('URL').inputValue(), hooks.good);
    assert.ok(await page.getByRole('checkbox', { name: /Task created/ }).isChecked());
    assert.equal(await page.getByLabel('Header 1 value').inputValue(), 'labeling');
    await page.getByRole('checkbox', { name: /Annotation created/ }).check();
    await page.getByRole('button', { name: 'Remove header 1' }).click();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await see(page.getByText('Changes saved.'));
    const webhook = await server.api('GET', `/api/webhooks/${hooks.goodId}/`);
    assert.deepEqual(webhook.actions.sort(), ['ANNOTATION_CREATED', 'TASKS_CREATED']);
    assert.deepEqual(webhook.headers, {});
  });

  test('adds a Labelbox-format webhook with its own secret and a filter', async () => {
    await open(`/projects/${project.id}/settings/webhooks/new`);
    await see(page.getByLabel('URL'));
    // Label Studio's events show until the format is Labelbox; then its topics do.
    assert.equal(await page.getByRole('checkbox', { name: /Label created/ }).count(), 0);
    await page.getByLabel('Format').selectOption('labelbox');
    await see(page.getByRole('checkbox', { name: /Label created/ }));
    assert.equal(await page.getByRole('checkbox', { name: /Task created/ }).count(), 0);
    hooks.labelbox = `${good.url}/hooks/labelbox`;
    await page.getByLabel('URL').fill(hooks.labelbox);
    await page.getByRole('checkbox', { name: /Label created/ }).check();
    // Without the receiver's secret the form says what is missing.
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await see(page.locator('#wh-secret-error'));
    await page.getByLabel('Signing secret (optional)').fill('the-labelbox-receiver-secret');
    await page.getByLabel('Filter (optional)').fill('[{"path": "task.data.split", "in": "train"}]');
    await page.getByRole('button', { name: 'Add webhook' }).click();
    // The server names the condition at fault.
    const filterError = await see(page.locator('#wh-filter-error'));
    assert.match(await filterError.innerText(), /Condition 1/);
    await page.getByLabel('Filter (optional)').fill('[{"result_contains_label": "positive"}]');
    await screenshot('webhook-form-labelbox.png');
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await page.waitForURL(new RegExp(`/projects/${project.id}/settings/webhooks$`));
    await see(card(hooks.labelbox).getByText(/Labelbox format · LABEL_CREATED/));
    const webhooks = await server.api('GET', `/api/webhooks/?project=${project.id}`);
    const added = webhooks.find((w) => w.url === hooks.labelbox);
    assert.equal(added.format, 'labelbox');
    assert.deepEqual(added.topics, ['LABEL_CREATED']);
    assert.deepEqual(added.filter, [{ result_contains_label: 'positive' }]);
    const { secret } = await server.api('GET', `/api/webhooks/${added.id}/secret`);
    assert.equal(secret, 'the-labelbox-receiver-secret');
    await server.api('DELETE', `/api/webhooks/${added.id}/`);
  });

  test('manages organization webhooks', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Organization webhooks' }).click();
    await page.waitForURL(/\/webhooks$/);
    await see(page.getByText('No organization webhooks yet.'));
    await page.locator('.page-header').getByRole('link', { name: 'Add webhook' }).click();
    // Organization webhooks may pick the organization-only events.
    await see(page.getByRole('checkbox', { name: /Project created/ }));
    hooks.org = `${good.url}/org/events`;
    await page.getByLabel('URL').fill(hooks.org);
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await page.waitForURL(/\/webhooks$/);
    const org = card(hooks.org);
    await see(org);
    await server.api('POST', '/api/projects/', { title: 'Search relevance', label_config: LABEL_CONFIG });
    await good.waitFor((r) => r.path === '/org/events' && r.body?.action === 'PROJECT_CREATED', 'PROJECT_CREATED');
    await page.reload(); // the list follows deliveries it knows of; this one began elsewhere
    await see(org.locator('.last-delivery', { hasText: 'Succeeded' }));
    await screenshot('organization-webhooks.png');

    // Delete: Escape cancels, the confirm button deletes.
    await org.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this webhook?' });
    await see(dialog);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await see(org);
    await org.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete webhook' }).click();
    await see(page.getByText(/deleted\.$/));
    await org.waitFor({ state: 'detached' });
    assert.deepEqual(await server.api('GET', '/api/webhooks/?project=null'), []);
  });

  test('no page scrolls sideways at 1280×800 or 390×844', async () => {
    const log = await server.api('GET', `/api/webhooks/${hooks.flakyId}/deliveries?status=succeeded`);
    const pages = [
      ['projects', '/projects', 'table'],
      ['project webhooks', `/projects/${project.id}/settings/webhooks`, 'article.webhook'],
      ['webhook form', `/projects/${project.id}/settings/webhooks/new`, '#wh-url'],
      ['edit form', `/webhooks/${hooks.flakyId}/edit`, '#wh-url'],
      ['organization webhooks', '/webhooks', '.card.empty'],
      ['delivery log', `/webhooks/${hooks.flakyId}/deliveries`, 'tbody tr'],
      ['delivery detail', `/webhooks/${hooks.flakyId}/deliveries/${log.results.at(-1).id}`, '.attempt'],
    ];
    for (const size of [WIDE, NARROW]) {
      await page.setViewportSize(size);
      for (const [name, address, ready] of pages) {
        await open(address);
        await see(page.locator(ready));
        // Open the secret panel too: the secret is one long word.
        if (name === 'project webhooks') {
          const first = page.locator('article.webhook').first();
          await first.getByRole('button', { name: 'Secret' }).click();
          await first.getByRole('button', { name: 'Reveal' }).click();
          await see(first.locator('code.secret', { hasText: 'whsec_' }));
        }
        await assertFitsWidth(page, `${name} at ${size.width}×${size.height}`);
        // Tables scroll inside their card if they must; at these widths they need not.
        for (const table of await page.locator('.table-card').all()) {
          const fits = await table.evaluate((el) => el.scrollWidth <= el.clientWidth);
          assert.ok(fits, `${name} at ${size.width}×${size.height}: a table is wider than its card`);
        }
        if (name === 'projects' && size === WIDE) await screenshot('projects.png');
      }
      if (size === NARROW) {
        await open(`/webhooks/${hooks.flakyId}/deliveries`);
        await see(page.locator('tbody tr'));
        await screenshot('delivery-log-narrow.png');
      }
    }
    await page.setViewportSize(WIDE);
  });

  test('links of earlier versions (/ui/#/...) open the same page at its new address', async () => {
    await open(`/ui/#/projects/${project.id}/webhooks`);
    await page.waitForURL(new RegExp(`/projects/${project.id}/settings/webhooks$`));
    await see(page.locator('article.webhook'));
    await open(`/ui/#/webhooks/${hooks.flakyId}/deliveries?status=failed`);
    await page.waitForURL(new RegExp(`/webhooks/${hooks.flakyId}/deliveries\\?status=failed$`));
    assert.equal(await page.getByLabel('Status').inputValue(), 'failed');
    await open('/ui/');
    await page.waitForURL(/\/projects$/);
    await see(page.getByRole('heading', { name: 'Projects' }));
  });

  test('an unknown or expired token returns to the sign-in page', async () => {
    await page.evaluate(() => sessionStorage.setItem('labelhook.token', 'expired'));
    await open(`/webhooks/${hooks.flakyId}/deliveries`);
    await page.waitForURL(/\/sign-in$/);
    await see(page.getByText('Please sign in again.'));
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Back where the user was.
    await page.waitForURL(new RegExp(`/webhooks/${hooks.flakyId}/deliveries$`));
    await see(page.locator('tbody tr'));
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/sign-in$/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('labelhook.token')), null);
  });
});
