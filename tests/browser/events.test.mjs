// The Events page in headless Chromium: the organization's newest events from the event
// stream, filtered by action and project, a body opened, and a delivered event's link to
// its delivery in the log.
//
// Run: `cargo test --test browser`, or by hand in this folder after `npm ci`:
//   LABELHOOK_BIN=../../target/debug/labelhook node --test events.test.mjs
// With UPDATE_SCREENSHOTS=1 the screenshot goes to docs/screenshots/.

import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { TOKEN, startServer, startReceiver, launchChromium, newPage, reportProblems, assertNoProblems, see, screenshotPage } from './harness.mjs';

const CONFIG = '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="positive"/><Choice value="negative"/></Choices></View>';

let server;
let receiver;
let browser;
let page;
let project;
const problems = [];

describe('the Events page', () => {
  before(async () => {
    [server, receiver] = await Promise.all([startServer(), startReceiver()]);
    project = await server.api('POST', '/api/projects/', { title: 'Product reviews', label_config: CONFIG });
    await server.api('POST', '/api/projects/', { title: 'Support tickets', label_config: CONFIG });
    // Events without any webhook, then one delivered to a webhook.
    await server.api('POST', `/api/projects/${project.id}/import`, [{ text: 'Great battery life' }, { text: 'Broke after a week' }]);
    await server.api('POST', '/api/webhooks/', { url: `${receiver.url}/hook`, project: project.id, send_for_all_actions: false, actions: ['TASKS_CREATED'] });
    await server.api('POST', '/api/tasks/', { project: project.id, data: { text: 'Does what it says' } });
    await receiver.waitFor((r) => r.body?.action === 'TASKS_CREATED', 'the delivery');
    browser = await launchChromium();
    page = await newPage(browser);
    reportProblems(page, (line) => problems.push(line));
  });

  after(async () => {
    await browser?.close();
    await Promise.all([server?.stop(), receiver?.close()]);
  });

  afterEach(() => assertNoProblems(problems));

  test('lists the newest events, filters them and links a delivery', async () => {
    await page.goto(`${server.base}/sign-in`);
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByLabel('API token').press('Enter');
    await page.waitForURL(/\/projects$/);
    await page.getByRole('link', { name: 'Events', exact: true }).click();
    await page.waitForURL(/\/events$/);
    await see(page.getByRole('heading', { name: 'Events' }));
    const rows = page.locator('tr[data-event]');
    await see(rows);
    // Two projects created, an import, one task: four events, newest first.
    assert.equal(await rows.count(), 4);
    const first = await rows.first().innerText();
    assert.match(first, /TASKS_CREATED/);
    assert.match(first, /Product reviews/);
    // The newest was delivered: its row links to the delivery.
    const delivery = rows.first().getByRole('link', { name: /^Delivery \d+ to webhook \d+$/ });
    await see(delivery);
    // A body opens.
    await rows.first().getByText('Body', { exact: true }).click();
    await see(rows.first().locator('pre', { hasText: '"action": "TASKS_CREATED"' }));
    await screenshotPage(page, 'events.png');

    await page.getByLabel('Action').selectOption('PROJECT_CREATED');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/\/events\?action=PROJECT_CREATED$/);
    await page.waitForFunction(() => document.querySelectorAll('tr[data-event]').length === 2);
    await page.getByLabel('Action').selectOption('');
    await page.getByLabel('Project').selectOption({ label: 'Product reviews' });
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(new RegExp(`/events\\?project=${project.id}$`));
    // Its PROJECT_CREATED, the import and the task: three rows (the action filter showed
    // two, so this cannot pass on the rows it replaces), none of the other project.
    await page.waitForFunction(() => document.querySelectorAll('tr[data-event]').length === 3);
    for (const text of await page.locator('tr[data-event]').allInnerTexts()) assert.match(text, /Product reviews/);

    await page.locator('tr[data-event]').first().getByRole('link', { name: /^Delivery \d+/ }).click();
    await page.waitForURL(/\/webhooks\/\d+\/deliveries\/\d+$/);
    await see(page.getByText('TASKS_CREATED'));
  });
});
