// End-to-end: a webhook whose receiver fails, as a person sees it in the pages (issue 17):
// its health in words, a chart and a success rate; "Retry now"; the delivery log's
// columns, filters and focus; dialogs and notices that describe what is on screen.
// Its own server and receivers; the tests run in order and continue from each other.

import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { TOKEN, startServer, startReceiver, assertNoProblems, openAfresh, screenshotPage, see, launchChromium, newPage, reportProblems } from './harness.mjs';

const WIDE = { width: 1280, height: 800 };
const LABEL_CONFIG = '<View><Text name="text" value="$text"/></View>';

let server;
let good;
let down; // answers 503 until told otherwise
let browser;
let page;
let project;
let problems = [];
const hooks = {};

/** Polls `check` (async, truthy when done) until it holds or `ms` pass. */
async function until(check, what, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** An address on loopback where nothing listens: connections are refused. */
async function refusingUrl() {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await new Promise((resolve) => probe.once('listening', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}/gone`;
}

const card = (url) => page.locator('article.webhook', { has: page.locator('.webhook-url', { hasText: url }) });

const open = (address) => openAfresh(page, server.base, address);
const screenshot = (name) => screenshotPage(page, name);

describe('webhook health in a browser', () => {
  before(async () => {
    [server, good, down] = await Promise.all([startServer(), startReceiver(), startReceiver()]);
    down.answerWith(503);
    project = await server.api('POST', '/api/projects/', { title: 'Health checks', label_config: LABEL_CONFIG });
    browser = await launchChromium();
    page = await newPage(browser, { viewport: WIDE });
    // Signed in already (the sign-in page has its own tests); not on about:blank.
    await page.addInitScript((token) => {
      if (location.protocol.startsWith('http')) sessionStorage.setItem('labelhook.token', token);
    }, TOKEN);
    reportProblems(page, (line) => problems.push(line));
  });

  after(async () => {
    await browser?.close();
    await Promise.all([server?.stop(), good?.close(), down?.close()]);
  });

  afterEach(() => assertNoProblems(problems));

  test('a failing webhook shows its breaker in words, a chart and a success rate; Retry now recovers it', async () => {
    hooks.down = `${down.url}/events`;
    const webhook = await server.api('POST', '/api/webhooks/', { url: hooks.down, project: project.id });
    hooks.downId = webhook.id;
    for (let i = 0; i < 6; i++) {
      await server.api('POST', `/api/projects/${project.id}/import`, [{ text: `before ${i}` }]);
    }
    await until(async () => (await server.api('GET', `/api/webhooks/${webhook.id}/`)).delivery_stats.breaker === 'open', 'the breaker to open');

    await open(`/projects/${project.id}/settings/webhooks`);
    const failing = card(hooks.down);
    const words = failing.locator('.health-words');
    await see(words);
    // (The harness has no retry schedule: the first failures failed for good; the rest wait.)
    const stats = (await server.api('GET', `/api/webhooks/${webhook.id}/`)).delivery_stats;
    hooks.waiting = stats.pending + stats.held;
    assert.ok(hooks.waiting >= 1);
    assert.match(await words.innerText(), new RegExp(`^Failing since \\d\\d:\\d\\d, next probe \\d\\d:\\d\\d, ${hooks.waiting} waiting\\.$`));
    await see(failing.locator('.health-error', { hasText: 'HTTP 503' }));
    assert.match(await failing.locator('.success-rate').innerText(), /^0% of [5-6] attempts succeeded in 24 hours\.$/);
    const lastBar = failing.locator('.health-chart .bar').last();
    assert.equal(await failing.locator('.health-chart .bar').count(), 24);
    assert.ok(Number(await lastBar.getAttribute('data-failed')) >= 5, 'the current hour shows the failures');
    // Still trying: not "Failed" for good.
    await see(failing.locator('.last-delivery', { hasText: 'Failed, retrying' }));
    const facts = await failing.locator('.facts').innerText();
    assert.match(facts, /[5-6] failed attempts in a row/);
    assert.match(facts, /held until a probe succeeds/);
    assert.doesNotMatch(facts, /\b1 failed attempts\b/);
    await screenshot('webhook-health.png');

    // A failed refresh does not stop the page from following the webhook.
    let failures = 0;
    const list = (url) => url.pathname.replace(/\/$/, '') === '/api/webhooks' && url.searchParams.has('project');
    await page.route(list, (route) => {
      failures += 1;
      return route.abort();
    });
    const problem = page.locator('.notice', { hasText: 'Could not refresh' });
    await see(problem);
    await page.unroute(list);
    assert.ok(failures >= 1);
    await problem.waitFor({ state: 'detached' });

    // The receiver is back, slowly: Retry now sends the probe at once; while it is under
    // way the card says so (not a "next probe" time that is only a safety net); then the
    // rest follow.
    down.answerWith(200);
    down.answerAfter(4000);
    await failing.getByRole('button', { name: 'Retry now' }).click();
    await see(failing.locator('.notice', { hasText: 'one probe goes now' }));
    const probing = failing.locator('.health-words', { hasText: 'probing now' });
    await see(probing);
    assert.match(await probing.innerText(),
      new RegExp(`^Failing since \\d\\d:\\d\\d, probing now, ${hooks.waiting} waiting\\.$`));
    down.answerAfter(0);
    await until(() => new Set(down.requests.filter((r) => r.answered === 200).map((r) => r.headers['webhook-id'])).size === hooks.waiting, 'the waiting deliveries');
    await see(failing.locator('.health-words', { hasText: 'Healthy' }));
    await see(failing.locator('.last-delivery', { hasText: 'Succeeded' }));
  });

  test('the log shows ids and causes, counts attempts like the detail, and keeps the focus on Redeliver', async () => {
    hooks.gone = await refusingUrl();
    const webhook = await server.api('POST', '/api/webhooks/', { url: hooks.gone, project: project.id, send_for_all_actions: false, actions: ['TASKS_DELETED'] });
    hooks.goneId = webhook.id;
    const ping = await server.api('POST', `/api/webhooks/${webhook.id}/test`);
    await until(async () => (await server.api('GET', `/api/webhooks/${webhook.id}/deliveries/${ping.id}`)).status === 'failed', 'the test to fail');

    await open(`/webhooks/${webhook.id}/deliveries`);
    const row = page.locator(`tbody tr[data-delivery="${ping.id}"]`);
    await see(row);
    // The log has the webhook's health too: words (one attempt: "attempt", not
    // "attempts"), the chart, the success rate; no Retry now, as nothing waits.
    await see(page.locator('.health-words', { hasText: 'Failing: 1 failed attempt in a row; nothing waiting.' }));
    assert.equal(await page.locator('.health-chart .bar').count(), 24);
    assert.equal(await page.locator('.success-rate').innerText(), '0% of 1 attempt succeeded in 24 hours.');
    assert.equal(await page.getByRole('button', { name: 'Retry now' }).count(), 0);
    assert.equal(await row.locator('td[data-label="ID"]').innerText(), String(ping.id));
    assert.equal(await row.locator('.cell-error').innerText(), 'Connection refused');
    assert.equal(await row.locator('td[data-label="Attempts"]').innerText(), '1');
    // The button is whole, inside its card.
    const button = row.getByRole('button', { name: `Redeliver delivery ${ping.id}` });
    const [box, cardBox] = await Promise.all([button.boundingBox(), page.locator('.table-card').boundingBox()]);
    assert.ok(box.x + box.width <= cardBox.x + cardBox.width, `the Redeliver button ends at ${box.x + box.width}, the card at ${cardBox.x + cardBox.width}`);
    const fits = await page.locator('.table-card').evaluate((el) => el.scrollWidth <= el.clientWidth);
    assert.ok(fits, 'the table is not wider than its card');
    await screenshot('delivery-log-errors.png');

    await button.click();
    await see(page.locator('.notice', { hasText: `Delivery ${ping.id} queued again.` }));
    await until(async () => (await row.locator('td[data-label="Attempts"]').innerText()) === '2', 'the second attempt in the list');
    const focused = await page.evaluate(() => document.activeElement?.dataset?.key ?? document.activeElement?.tagName);
    assert.ok([`redeliver:${ping.id}`, `details:${ping.id}`].includes(focused), `the focus went to ${focused}`);
    await row.getByRole('link', { name: `Details of delivery ${ping.id}` }).click();
    await see(page.getByRole('heading', { name: 'Attempts (2)' }));
  });

  test('the log filters say what is wrong with them', async () => {
    const log = `/webhooks/${hooks.goneId}/deliveries`;
    await open(`${log}?status=bogus`);
    await see(page.locator('.notice', { hasText: '“bogus” is not a delivery status' }));
    await see(page.locator('tbody tr'));
    // A project webhook's log does not offer organization-only actions.
    const options = await page.locator('#log-action option').allInnerTexts();
    assert.ok(options.includes('TASKS_CREATED'));
    assert.ok(!options.includes('PROJECT_CREATED'), `offered: ${options}`);

    // Dates: a later Since empties the list; Until before Since is refused at the field.
    const local = (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
    await page.getByLabel('Since', { exact: true }).fill(local(Date.now() + 3600_000));
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/since=/);
    await see(page.getByText('No deliveries match these filters.'));
    await page.getByLabel('Until', { exact: true }).fill(local(Date.now() - 3600_000));
    await page.getByRole('button', { name: 'Filter' }).click();
    await see(page.locator('#log-until-error', { hasText: 'Must be later than Since.' }));

    // Past the end: said so, with the way back.
    await open(`${log}?page=99`);
    await see(page.getByText(/Page 99 is past the end: \d+ deliver(y fits|ies fit) on 1 page\./));
    assert.equal(await page.locator('.pager').count(), 0);
    await page.getByRole('link', { name: 'Go to page 1' }).click();
    await see(page.locator('tbody tr'));

    // Recover: Until before Failed since is refused next to the field.
    const hour = (ms) => local(ms);
    await page.getByLabel('Failed since').fill(hour(Date.now() - 3600_000));
    await page.getByLabel('Until (optional)').fill(hour(Date.now() - 7200_000));
    await page.getByRole('button', { name: 'Recover' }).click();
    await see(page.locator('#recover-until-error', { hasText: 'Must be later than Failed since.' }));
  });

  test('a dialog left open does not survive Back; notices follow the last action', async () => {
    hooks.good = `${good.url}/ok`;
    const webhook = await server.api('POST', '/api/webhooks/', { url: hooks.good, project: project.id });
    // From the webhook's log to the project's webhooks by the breadcrumb: Back returns.
    await open(`/webhooks/${webhook.id}/deliveries`);
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Webhooks' }).click();
    await page.waitForURL(new RegExp(`/projects/${project.id}/settings/webhooks$`));
    const ok = card(hooks.good);
    await see(ok);
    const secret = (await server.api('GET', `/api/webhooks/${webhook.id}/secret`)).secret;

    await ok.getByRole('button', { name: 'Secret' }).click();
    await ok.getByRole('button', { name: 'Rotate secret' }).click();
    const dialog = page.getByRole('dialog', { name: 'Rotate the signing secret?' });
    await see(dialog);
    await page.goBack();
    await dialog.waitFor({ state: 'detached' });
    await page.keyboard.press('Enter');
    assert.equal((await server.api('GET', `/api/webhooks/${webhook.id}/secret`)).secret, secret, 'Back did not rotate the secret');

    await page.goForward();
    await see(ok);
    await ok.getByRole('button', { name: 'Delete' }).click();
    await see(page.getByRole('dialog', { name: 'Delete this webhook?' }));
    await page.goBack();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    assert.equal((await server.api('GET', `/api/webhooks/${webhook.id}/`)).id, webhook.id, 'Back did not delete the webhook');

    // Switching off says the events are not kept; a later action replaces that message.
    await page.goForward();
    await see(ok);
    await ok.getByRole('button', { name: 'Switch off' }).click();
    const offNote = ok.locator('.notice', { hasText: 'not kept for later' });
    await see(offNote);
    await ok.getByRole('button', { name: 'Send test' }).click();
    await see(ok.locator('.notice', { hasText: /Test event queued as delivery \d+/ }));
    assert.equal(await offNote.count(), 0, 'the switch-off notice is gone after the next action');
    // As the form says: Send test reaches a webhook that is off.
    await good.waitFor((r) => r.body?.action === 'PING', 'the PING sent while off');
    await ok.getByRole('link', { name: 'Edit' }).click();
    await see(page.getByText('While off, events are not sent to it and not kept for later; Send test still reaches it.'));
  });
});
