// A webhook's delivery log (filters, redeliver, recover a period) and one delivery's detail.

import { api } from './api.js';
import { h, time, duration, statusBadge, pageHeader, pager, navigate, notice, errorSlot, formAlert, showErrors, clearErrors, busy, onSubmit, redraw } from './dom.js';
import { actionCatalogue, scopeOf, stateBadge, healthPanel, errorCause, retryMessage } from './webhooks.js';

const PAGE_SIZE = 25;
const STATUSES = [['', 'All statuses'], ['failed', 'Failed'], ['pending', 'Pending'], ['held', 'Held'], ['succeeded', 'Succeeded']];
const logHref = (webhookId) => `/webhooks/${webhookId}/deliveries`;
const detailHref = (webhookId, deliveryId) => `${logHref(webhookId)}/${deliveryId}`;
/** A delivery that has been answered or given up on, or waits for its next retry, can be
 * sent (again) now; one being sent this moment cannot. */
const canRedeliver = (delivery) => delivery.status === 'failed' || delivery.status === 'succeeded'
  || (delivery.status === 'pending' && !delivery.in_flight);
/** datetime-local has no zone: the browser's is meant, and the API wants RFC 3339. */
const rfc3339 = (value) => (value ? new Date(value).toISOString() : undefined);
/** An RFC 3339 time as a datetime-local value, in the browser's zone. */
const localValue = (iso) => {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '';
  return new Date(at.getTime() - at.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
};

function labelled(id, label, control) {
  return h('div', { class: 'field' }, h('label', { for: id }, label), control);
}

function redeliverButton(webhookId, delivery, onDone) {
  return h('button', {
    type: 'button', class: 'btn', 'data-key': `redeliver:${delivery.id}`,
    'aria-label': `Redeliver delivery ${delivery.id}`,
    onclick: (e) => busy(e.currentTarget, async () => {
      let outcome;
      try {
        await api(`/api/webhooks/${webhookId}/deliveries/${delivery.id}/redeliver`, { method: 'POST' });
        outcome = notice(`Delivery ${delivery.id} queued again.`);
      } catch (error) {
        if (error.status === 401) return;
        outcome = notice(error.message, 'error');
      }
      await onDone(outcome, `redeliver:${delivery.id}`);
    }),
  }, 'Redeliver');
}

// ---- Log --------------------------------------------------------------------------------

export async function deliveryLogPage(ctx, webhookId) {
  const filters = {
    status: ctx.query.get('status') || '',
    action: ctx.query.get('action') || '',
    since: ctx.query.get('since') || '',
    until: ctx.query.get('until') || '',
    page: Math.max(1, Math.floor(Number(ctx.query.get('page'))) || 1),
  };
  let webhook = await api(`/api/webhooks/${webhookId}/`);
  const [scope, catalogue] = await Promise.all([scopeOf(webhook.project), actionCatalogue()]);
  const notes = h('div', { class: 'page-notes' });
  const region = h('div', { class: 'log-region' });
  const health = h('div', { class: 'card health-card' });
  // Filters from the address that make no sense are named, then left out.
  const filterProblems = [];
  if (filters.status && !STATUSES.some(([value]) => value === filters.status)) {
    filterProblems.push(`“${filters.status}” is not a delivery status (${STATUSES.slice(1).map(([v]) => v).join(', ')}); showing every status.`);
    filters.status = '';
  }
  for (const name of ['since', 'until']) {
    if (filters[name] && Number.isNaN(Date.parse(filters[name]))) {
      filterProblems.push(`“${filters[name]}” is not a time; the ${name} filter is left out.`);
      filters[name] = '';
    }
  }
  if (filters.since && filters.until && Date.parse(filters.until) <= Date.parse(filters.since)) {
    filterProblems.push('“Until” is not later than “Since”; the until filter is left out.');
    filters.until = '';
  }
  // Last attempt durations by `id:updated_at`, so refreshing does not fetch them again.
  const durations = new Map();

  const href = (changes) => {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries({ ...filters, ...changes })) {
      if (value && !(name === 'page' && Number(value) === 1)) query.set(name, value);
    }
    const text = query.toString();
    return logHref(webhookId) + (text ? `?${text}` : '');
  };

  // The list gives no duration: take it from the last attempt of each answered delivery.
  async function fillDurations(rows) {
    await Promise.all(rows.map(async (row) => {
      const key = `${row.id}:${row.updated_at}`;
      if ('last_duration_ms' in row || durations.has(key) || (row.attempts === 0 && !canRedeliver(row))) return;
      const detail = await api(`/api/webhooks/${webhookId}/deliveries/${row.id}`).catch(() => null);
      durations.set(key, detail?.attempts.at(-1)?.duration_ms ?? null);
    }));
  }

  async function refresh() {
    const [found, fresh, hourly] = await Promise.all([
      api(`/api/webhooks/${webhookId}/deliveries`, {
        query: {
          status: filters.status, action: filters.action, since: filters.since, until: filters.until,
          page: filters.page, page_size: PAGE_SIZE,
        },
      }),
      api(`/api/webhooks/${webhookId}/`),
      api(`/api/webhooks/${webhookId}/hourly`),
    ]);
    await fillDurations(found.results);
    if (!ctx.active()) return;
    webhook = fresh;
    poll.recovered();
    redraw(health, h('h2', { class: 'visually-hidden' }, 'Health'), healthPanel(webhook, hourly), retryButton());
    const filtered = filters.status || filters.action || filters.since || filters.until;
    const pages = Math.max(1, Math.ceil(found.count / PAGE_SIZE));
    let content;
    if (found.count === 0) {
      content = h('div', { class: 'card empty' }, h('p', {}, filtered
        ? 'No deliveries match these filters.'
        : 'Nothing delivered yet. Send a test event to see one here.'));
    } else if (found.results.length === 0) {
      // An address past the end (a bookmark, deliveries pruned meanwhile).
      content = h('div', { class: 'card empty past-end' },
        h('p', {}, `Page ${filters.page} is past the end: ${found.count} ${found.count === 1 ? 'delivery fits' : 'deliveries fit'} on ${pages} ${pages === 1 ? 'page' : 'pages'}.`),
        h('p', {}, h('a', { class: 'btn', href: href({ page: pages }) }, `Go to page ${pages}`)));
    } else {
      content = [h('div', { class: 'card table-card' }, table(found.results)),
        pager({ page: filters.page, size: PAGE_SIZE, count: found.count, href: (page) => href({ page }) })];
    }
    redraw(region, content);
    const waiting = webhook.delivery_stats.pending + (webhook.is_active ? webhook.delivery_stats.held : 0);
    if (waiting > 0 || found.results.some((d) => d.status === 'pending')) ctx.later(poll);
  }

  const poll = ctx.retrying(refresh, notes);

  const after = async (message, focusKey) => {
    notes.replaceChildren(message);
    await refresh();
    // The control used is redrawn: the focus goes to its successor, not to the page.
    if (focusKey) {
      const [kind, id] = focusKey.split(':');
      const target = region.querySelector(`[data-key="${kind}:${id}"]`) || region.querySelector(`[data-key="details:${id}"]`);
      target?.focus();
    }
  };

  function retryButton() {
    const stats = webhook.delivery_stats;
    if (!webhook.is_active || stats.pending + stats.held === 0) return null;
    return h('div', { class: 'toolbar' }, h('button', {
      type: 'button', class: 'btn', 'data-key': 'retry-now',
      onclick: (e) => busy(e.currentTarget, async () => {
        try {
          await after(notice(retryMessage(await api(`/api/webhooks/${webhookId}/retry`, { method: 'POST' }))));
        } catch (error) {
          if (error.status !== 401) await after(notice(error.message, 'error'));
        }
      }),
    }, 'Retry now'));
  }

  function table(rows) {
    return h('table', { class: 'table stack log' },
      h('caption', { class: 'visually-hidden' }, 'Deliveries, newest first; the time opens the details'),
      h('thead', {}, h('tr', {},
        ['ID', 'Time', 'Action', 'Status', 'Code', 'Duration', 'Attempts', 'Next retry'].map((label) =>
          h('th', { scope: 'col', class: ['ID', 'Code', 'Duration', 'Attempts'].includes(label) ? 'num' : null }, label)),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      h('tbody', {}, rows.map((d) => h('tr', { 'data-delivery': d.id, 'data-status': d.status },
        h('td', { 'data-label': 'ID', class: 'num' }, String(d.id)),
        h('td', { 'data-label': 'Time' }, h('a', { href: detailHref(webhookId, d.id), 'data-key': `details:${d.id}`, 'aria-label': `Details of delivery ${d.id}` }, time(d.created_at, { short: true }))),
        h('td', { 'data-label': 'Action' }, h('code', {}, d.action)),
        h('td', { 'data-label': 'Status' }, statusBadge(d.status, d.in_flight),
          d.last_error && h('span', { class: 'cell-error', title: d.last_error }, errorCause(d.last_error))),
        h('td', { 'data-label': 'Code', class: 'num' }, d.last_status_code ?? '—'),
        h('td', { 'data-label': 'Duration', class: 'num' }, duration(d.last_duration_ms ?? durations.get(`${d.id}:${d.updated_at}`))),
        // Every attempt in the log, as the detail page lists them.
        h('td', { 'data-label': 'Attempts', class: 'num' }, d.attempts_logged ?? d.attempts),
        h('td', { 'data-label': 'Next retry' }, d.in_flight ? 'Sending now' : time(d.next_attempt_at, { short: true })),
        h('td', { class: 'row-actions' }, canRedeliver(d) && redeliverButton(webhookId, d, after))))));
  }

  // Filters live in the address, so a filtered log can be bookmarked and reloaded.
  const statusSelect = h('select', { id: 'log-status', name: 'status' },
    STATUSES.map(([value, label]) => h('option', { value, selected: value === filters.status }, label)));
  // A project webhook never gets the organization-only actions: do not offer them.
  const actions = Object.entries(catalogue)
    .filter(([, info]) => webhook.project === null || !info['organization-only'])
    .map(([action]) => action);
  const actionSelect = h('select', { id: 'log-action', name: 'action' },
    h('option', { value: '' }, 'All actions'),
    [...actions, 'PING'].map((action) =>
      h('option', { value: action, selected: action === filters.action }, action === 'PING' ? 'PING (test)' : action)));
  const sinceFilter = h('input', { type: 'datetime-local', id: 'log-since', step: '1', value: filters.since ? localValue(filters.since) : '', 'data-field': 'since', 'aria-describedby': 'log-since-error' });
  const untilFilter = h('input', { type: 'datetime-local', id: 'log-until', step: '1', value: filters.until ? localValue(filters.until) : '', 'data-field': 'until', 'aria-describedby': 'log-until-error' });
  const filterForm = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter deliveries', novalidate: true },
    labelled('log-status', 'Status', statusSelect),
    labelled('log-action', 'Action', actionSelect),
    h('div', { class: 'field' }, h('label', { for: 'log-since' }, 'Since'), sinceFilter, errorSlot('since', 'log-since-error')),
    h('div', { class: 'field' }, h('label', { for: 'log-until' }, 'Until'), untilFilter, errorSlot('until', 'log-until-error')),
    h('button', { type: 'submit', class: 'btn' }, 'Filter'));
  filterForm.addEventListener('submit', (event) => {
    event.preventDefault();
    clearErrors(filterForm);
    const since = rfc3339(sinceFilter.value);
    const until = rfc3339(untilFilter.value);
    if (since && until && Date.parse(until) <= Date.parse(since)) {
      showErrors(filterForm, { fields: { until: ['Must be later than Since.'] } });
      return;
    }
    navigate(href({ status: statusSelect.value, action: actionSelect.value, since: since ?? '', until: until ?? '', page: 1 }));
  });

  const since = h('input', { type: 'datetime-local', id: 'recover-since', step: '1', 'data-field': 'since', 'aria-describedby': 'recover-since-error' });
  const until = h('input', { type: 'datetime-local', id: 'recover-until', step: '1', 'data-field': 'until', 'aria-describedby': 'recover-until-hint recover-until-error' });
  const withPending = h('input', { type: 'checkbox', id: 'recover-pending' });
  const recoverButton = h('button', { type: 'submit', class: 'btn' }, 'Recover');
  const recoverForm = h('form', { class: 'card form recover', novalidate: true, 'aria-labelledby': 'recover-title' },
    h('h2', { id: 'recover-title' }, 'Recover failed deliveries'),
    h('p', { class: 'hint' }, 'Queue again every failed delivery created in a period, for example after a receiver was down. Times are in your time zone.'),
    formAlert(),
    h('div', { class: 'row' },
      h('div', { class: 'field' }, h('label', { for: 'recover-since' }, 'Failed since'), since, errorSlot('since', 'recover-since-error')),
      h('div', { class: 'field' }, h('label', { for: 'recover-until' }, 'Until (optional)'), until,
        h('p', { class: 'hint', id: 'recover-until-hint' }, 'Empty: up to now.'), errorSlot('until', 'recover-until-error')),
      h('div', { class: 'field end' }, recoverButton)),
    h('div', { class: 'choice' }, withPending, h('label', { for: 'recover-pending' }, 'Also pending deliveries waiting for a retry (sent now)')));
  onSubmit(recoverForm, recoverButton, async () => {
    const from = rfc3339(since.value);
    const to = rfc3339(until.value);
    if (from && to && Date.parse(to) <= Date.parse(from)) {
      showErrors(recoverForm, { fields: { until: ['Must be later than Failed since.'] } });
      return;
    }
    try {
      const { recovered } = await api(`/api/webhooks/${webhookId}/recover`, {
        method: 'POST', body: { since: from ?? '', until: to, include_pending: withPending.checked },
      });
      const what = withPending.checked ? 'failed or pending' : 'failed';
      await after(notice(recovered === 0
        ? `No ${what} deliveries in that period.`
        : `${recovered} ${what} ${recovered === 1 ? 'delivery' : 'deliveries'} queued again.`));
    } catch (error) {
      if (error.status !== 401) showErrors(recoverForm, error);
    }
  });

  const testButton = h('button', {
    type: 'button', class: 'btn', 'data-key': 'send-test',
    onclick: (e) => busy(e.currentTarget, async () => {
      try {
        const delivery = await api(`/api/webhooks/${webhookId}/test`, { method: 'POST' });
        await after(notice(`Test event queued as delivery ${delivery.id}.`));
      } catch (error) {
        if (error.status !== 401) await after(notice(error.message, 'error'));
      }
    }),
  }, 'Send test');

  ctx.show(`Delivery log · ${webhook.url}`,
    pageHeader({
      trail: [...scope.trail, 'Delivery log'],
      title: 'Delivery log',
      lead: h('span', { class: 'lead-line' }, h('code', { class: 'url' }, webhook.url), ' ', stateBadge(webhook)),
      actions: [
        testButton,
        h('button', { type: 'button', class: 'btn', onclick: (e) => busy(e.currentTarget, poll) }, 'Refresh'),
        h('a', { class: 'btn', href: `/webhooks/${webhookId}/edit` }, 'Edit webhook'),
      ],
    }),
    health,
    filterForm,
    filterProblems.length > 0 && h('div', { class: 'page-notes' }, filterProblems.map((text) => notice(text, 'error'))),
    notes,
    region,
    recoverForm);
  await refresh();
}

// ---- One delivery -----------------------------------------------------------------------

/** Pretty JSON when the text is JSON, else the text as it came. */
function pretty(value) {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value !== 'string') return JSON.stringify(value, null, 2);
  try {
    return JSON.stringify(JSON.parse(value), null, 2);
  } catch {
    return value;
  }
}

function codeBlock(text, label) {
  return text === null
    ? h('p', { class: 'muted' }, 'Empty.')
    : h('pre', { class: 'code', tabindex: '0', 'aria-label': label }, text);
}

function headerList(headers) {
  const entries = Object.entries(headers || {});
  if (!entries.length) return h('p', { class: 'muted' }, 'None.');
  return h('dl', { class: 'headers' }, entries.map(([name, value]) =>
    h('div', {}, h('dt', {}, name), h('dd', {}, Array.isArray(value) ? value.join(', ') : String(value)))));
}

function outcome(attempt) {
  if (attempt.status_code !== null && attempt.status_code !== undefined) {
    const ok = attempt.status_code >= 200 && attempt.status_code < 300;
    return h('span', { class: `badge badge-${ok ? 'ok' : 'bad'}` }, `HTTP ${attempt.status_code}`);
  }
  return h('span', { class: 'badge badge-bad' }, `${attempt.error_class || 'error'} error`);
}

export async function deliveryDetailPage(ctx, webhookId, deliveryId) {
  const webhook = await api(`/api/webhooks/${webhookId}/`);
  const scope = await scopeOf(webhook.project);
  const notes = h('div', { class: 'page-notes' });
  const region = h('div', { class: 'delivery' });

  async function refresh() {
    const d = await api(`/api/webhooks/${webhookId}/deliveries/${deliveryId}`);
    if (!ctx.active()) return;
    redraw(region, render(d));
    if (d.status === 'pending') ctx.later(poll);
  }

  /** A refresh that failed is tried again, not given up. */
  async function poll() {
    try {
      await refresh();
    } catch (error) {
      if (error.status !== 401 && ctx.active()) ctx.later(poll, 3000);
    }
  }

  const after = async (message, focusKey) => {
    notes.replaceChildren(message);
    await refresh();
    if (focusKey) (region.querySelector(`[data-key="${focusKey}"]`) || region.querySelector('h2'))?.focus();
  };

  function render(d) {
    const attempts = [...d.attempts].map((a, i) => [a, i + 1]).reverse();
    return [
      h('section', { class: 'card', 'aria-labelledby': 'summary-title' },
        h('div', { class: 'section-head' },
          h('h2', { id: 'summary-title' }, 'Summary'),
          canRedeliver(d) && redeliverButton(webhookId, d, after)),
        h('dl', { class: 'facts grid' },
          h('div', {}, h('dt', {}, 'Status'), h('dd', { class: 'delivery-status' }, statusBadge(d.status, d.in_flight))),
          h('div', {}, h('dt', {}, 'Action'), h('dd', {}, h('code', {}, d.action))),
          h('div', {}, h('dt', {}, 'Created'), h('dd', {}, time(d.created_at))),
          h('div', {}, h('dt', {}, 'Next retry'), h('dd', {}, d.in_flight ? 'Sending now' : time(d.next_attempt_at))),
          h('div', {}, h('dt', {}, 'Last status code'), h('dd', {}, d.last_status_code ?? '—')),
          h('div', {}, h('dt', {}, 'webhook-id'), h('dd', {}, h('code', { class: 'wrap' }, d.message_id))),
          h('div', {}, h('dt', {}, 'Sequence'), h('dd', {}, String(d.sequence))),
          d.last_error && h('div', { class: 'wide' }, h('dt', {}, 'Last error'), h('dd', { class: 'error-text', title: d.last_error }, errorCause(d.last_error))))),
      h('section', { class: 'card', 'aria-labelledby': 'request-title' },
        h('h2', { id: 'request-title' }, 'Request'),
        h('p', {}, h('code', { class: 'wrap' }, `${d.request.method} ${d.request.url}`)),
        h('p', { class: 'hint' }, 'webhook-timestamp and webhook-signature are added to each attempt when it is sent.'),
        h('h3', {}, 'Headers'),
        headerList(d.request.headers),
        h('h3', {}, 'Body'),
        codeBlock(pretty(d.request.body), 'Request body')),
      h('section', { class: 'attempts', 'aria-labelledby': 'attempts-title' },
        h('h2', { id: 'attempts-title' }, `Attempts (${d.attempts.length})`),
        attempts.length === 0
          ? h('p', { class: 'card muted' }, d.status === 'held'
            ? (webhook.is_active ? 'Held: the receiver is failing; it goes when a probe succeeds.' : 'Held: the webhook is switched off; it goes when it is switched on.')
            : 'Not attempted yet.')
          : attempts.map(([a, n]) => h('article', { class: 'card attempt', 'aria-labelledby': `attempt-${a.id}` },
            h('div', { class: 'section-head' },
              h('h3', { id: `attempt-${a.id}` }, `Attempt ${n}`),
              outcome(a)),
            h('p', { class: 'meta' }, time(a.started_at), ` · ${duration(a.duration_ms)}`),
            a.error && h('p', { class: 'error-text' }, a.error),
            h('h4', {}, 'Response headers'),
            headerList(a.response_headers),
            h('h4', {}, 'Response body'),
            codeBlock(pretty(a.response_body), `Response body of attempt ${n}`)))),
    ];
  }

  ctx.show(`Delivery ${deliveryId}`,
    pageHeader({
      trail: [...scope.trail, ['Delivery log', logHref(webhookId)], `Delivery ${deliveryId}`],
      title: `Delivery ${deliveryId}`,
      lead: h('span', { class: 'lead-line' }, 'To ', h('code', { class: 'url' }, webhook.url)),
    }),
    notes,
    region);
  await refresh();
}
