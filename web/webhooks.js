// Webhook lists (a project's, or the organization's) and the add/edit form.

import { api } from './api.js';
import { h, time, statusBadge, pageHeader, projectTabs, navigate, flash, notice, confirmDialog, errorSlot, formAlert, showErrors, busy, onSubmit, redraw } from './dom.js';

let catalogue = null;
/** The action catalogue (`/api/webhooks/info/`), fetched once. */
export function actionCatalogue() {
  catalogue ??= api('/api/webhooks/info/').catch((error) => {
    catalogue = null;
    throw error;
  });
  return catalogue;
}

/**
 * Where a webhook belongs: its list page and the breadcrumb trail that leads to it.
 * `projectId` null is the organization.
 */
export async function scopeOf(projectId) {
  if (projectId === null || projectId === undefined) {
    return { project: null, listHref: '/webhooks', trail: [['Organization webhooks', '/webhooks']] };
  }
  const project = await api(`/api/projects/${projectId}/`);
  const name = project.title || `Project ${project.id}`;
  const listHref = `/projects/${project.id}/settings/webhooks`;
  return {
    project: project.id, name, listHref,
    trail: [['Projects', '/projects'], [name, `/projects/${project.id}/data`], ['Webhooks', listHref]],
  };
}

/** On, or off and why. */
export function stateBadge(webhook) {
  if (webhook.is_active) return h('span', { class: 'badge badge-ok' }, 'On');
  const [label, look] = {
    failures: ['Off after failures', 'bad'],
    gone: ['Off: receiver gone (410)', 'bad'],
  }[webhook.disabled_reason] || ['Off', 'off'];
  return h('span', { class: `badge badge-${look}` }, label);
}

function lastDelivery({ last_success_at: ok, last_failure_at: bad, pending, held }) {
  if (!ok && !bad) return h('span', { class: 'muted' }, 'None yet');
  const failed = bad && (!ok || Date.parse(bad) > Date.parse(ok));
  // A failure with deliveries still waiting is not the end of the story.
  if (failed && pending + held > 0) {
    return [h('span', { class: 'badge badge-wait' }, 'Failed, retrying'), ' ', time(bad)];
  }
  return [statusBadge(failed ? 'failed' : 'succeeded'), ' ', time(failed ? bad : ok)];
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The last part of an error chain ("…: tcp connect error: Connection refused (os error 111)"). */
export function errorCause(text) {
  if (!text) return text;
  const parts = text.split(': ').map((part) => part.trim()).filter(Boolean);
  const cause = parts.at(-1) || text;
  return cause.replace(/\s*\(os error \d+\)$/, '');
}

/** The breaker in words: "Failing since 14:02, next probe 14:07, 312 waiting". */
export function healthWords(webhook) {
  const stats = webhook.delivery_stats;
  const waiting = stats.pending + stats.held;
  const clock = (at) => (at ? new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }) : '—');
  if (!webhook.is_active) {
    return webhook.disabled_reason === 'user'
      ? 'Switched off: events are not sent to it and not kept.'
      : `Switched off after failing${stats.failing_since ? ` since ${clock(stats.failing_since)}` : ''}; ${plural(stats.held, 'delivery', 'deliveries')} kept until it is switched on.`;
  }
  if (stats.breaker === 'open') {
    const probe = stats.probing ? 'probing now' : `next probe ${clock(stats.next_probe_at)}`;
    return `Failing since ${clock(stats.failing_since)}, ${probe}, ${waiting} waiting.`;
  }
  if (webhook.consecutive_failures > 0) {
    return waiting
      ? `Retrying: ${plural(webhook.consecutive_failures, 'failed attempt')} in a row, ${waiting} waiting.`
      : `Failing: ${plural(webhook.consecutive_failures, 'failed attempt')} in a row; nothing waiting.`;
  }
  return waiting ? `Delivering: ${waiting} on the way.` : 'Healthy: the last attempt succeeded.';
}

/** A bar segment `share` of its bar's height (set through the CSSOM: the pages' CSP
 * allows no style attributes). */
function sized(segment, share) {
  segment.style.height = `${share * 100}%`;
  return segment;
}

/** Attempts per hour for 24 hours as small stacked bars, with the success rate. */
export function healthChart(hourly) {
  if (!hourly) return null;
  const max = Math.max(1, ...hourly.hours.map((hour) => hour.succeeded + hour.failed));
  const rate = hourly.success_rate === null
    ? 'No attempts in the last 24 hours.'
    : `${(hourly.success_rate * 100).toFixed(hourly.success_rate === 1 || hourly.success_rate === 0 ? 0 : 1)}% of ${plural(hourly.succeeded + hourly.failed, 'attempt')} succeeded in 24 hours.`;
  const label = `Attempts per hour, last 24 hours: ${hourly.succeeded} succeeded, ${hourly.failed} failed.`;
  return h('figure', { class: 'health-chart' },
    h('div', { class: 'bars', role: 'img', 'aria-label': label },
      hourly.hours.map((hour) => {
        const start = new Date(hour.start).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
        return h('div', {
          class: 'bar', title: `${start}: ${hour.succeeded} succeeded, ${hour.failed} failed`,
          'data-succeeded': hour.succeeded, 'data-failed': hour.failed,
        },
        sized(h('span', { class: 'bar-failed' }), hour.failed / max),
        sized(h('span', { class: 'bar-ok' }), hour.succeeded / max));
      })),
    h('figcaption', { class: 'success-rate' }, rate));
}

/** The health panel of a webhook: the breaker in words, the chart, the success rate. */
export function healthPanel(webhook, hourly) {
  const stats = webhook.delivery_stats;
  const failing = stats.breaker === 'open' || !webhook.is_active || webhook.consecutive_failures > 0;
  return h('div', { class: 'health', 'data-breaker': stats.breaker },
    h('p', { class: `health-words ${failing ? 'bad' : 'ok'}` }, healthWords(webhook)),
    stats.last_error && failing && h('p', { class: 'hint health-error', title: stats.last_error }, 'Last error: ', errorCause(stats.last_error)),
    healthChart(hourly));
}

function eventsSummary(webhook, actions) {
  if (webhook.format === 'labelbox') return `Labelbox format · ${webhook.topics.join(', ')}`;
  const body = webhook.send_payload ? 'full payload' : 'action name only';
  if (webhook.send_for_all_actions) return `All events · ${body}`;
  if (!webhook.actions.length) return `No events selected (tests only) · ${body}`;
  return `${webhook.actions.map((a) => actions[a]?.name || a).join(', ')} · ${body}`;
}

// ---- List -------------------------------------------------------------------------------

export async function webhookListPage(ctx, { project }) {
  const [scope, actions] = await Promise.all([scopeOf(project), actionCatalogue()]);
  // What the user opened or was told stays across redraws of the list.
  const notes = new Map();
  const openSecrets = new Set();
  const revealed = new Map();
  const region = h('div', { class: 'webhook-list' });
  // Messages about the page as a whole (a card that was deleted cannot carry its own).
  const pageNotes = h('div', { class: 'page-notes' });
  const newHref = project === null ? '/webhooks/new' : `${scope.listHref}/new`;

  const hourly = new Map();

  async function refresh() {
    const webhooks = await api('/api/webhooks/', { query: { project: project ?? 'null' } });
    await Promise.all(webhooks.map(async (w) => {
      hourly.set(w.id, await api(`/api/webhooks/${w.id}/hourly`).catch(() => hourly.get(w.id) ?? null));
    }));
    if (!ctx.active()) return;
    poll.recovered();
    redraw(region, webhooks.length
      ? webhooks.map(card)
      : h('div', { class: 'card empty' },
        h('p', {}, project === null ? 'No organization webhooks yet.' : 'This project has no webhooks yet.'),
        h('p', {}, h('a', { class: 'btn btn-primary', href: newHref }, 'Add webhook'))));
    // Keep the queue counts and the last result current while something is on its way,
    // or while a breaker waits for its next probe.
    if (webhooks.some((w) => w.delivery_stats.pending > 0 || (w.is_active && w.delivery_stats.held > 0))) {
      ctx.later(poll);
    }
  }

  const poll = ctx.retrying(refresh, pageNotes);

  /** Runs one button's request; any error is shown on the webhook's card. Messages of
   * earlier actions go: they describe what is no longer on screen. */
  function act(button, webhook, work) {
    notes.clear();
    pageNotes.replaceChildren();
    return busy(button, async () => {
      try {
        await work();
      } catch (error) {
        if (error.status === 401) return;
        notes.set(webhook.id, [error.message, 'error']);
      }
      await refresh();
    });
  }

  function card(webhook) {
    const id = webhook.id;
    const urlId = `webhook-${id}-url`;
    const key = (name) => ({ 'data-key': `${id}:${name}`, 'aria-describedby': urlId });
    const stats = webhook.delivery_stats;
    const queue = [`${stats.pending} pending`];
    if (stats.held) queue.push(`${stats.held} held ${webhook.is_active ? 'until a probe succeeds' : 'until switched on'}`);
    if (webhook.consecutive_failures) queue.push(`${plural(webhook.consecutive_failures, 'failed attempt')} in a row`);
    const waiting = stats.pending + stats.held;
    const headerNames = Object.keys(webhook.headers || {});
    const secretId = `webhook-${id}-secret`;
    const secretOpen = openSecrets.has(id);
    const note = notes.get(id);

    return h('article', { class: 'card webhook', 'aria-labelledby': urlId, 'data-webhook': id },
      h('div', { class: 'webhook-head' },
        h('h2', { id: urlId, class: 'webhook-url' }, webhook.url),
        stateBadge(webhook)),
      h('dl', { class: 'facts' },
        h('div', {}, h('dt', {}, 'Events'), h('dd', {}, eventsSummary(webhook, actions))),
        h('div', {}, h('dt', {}, 'Last delivery'), h('dd', { class: 'last-delivery' }, lastDelivery(stats))),
        h('div', {}, h('dt', {}, 'Queue'), h('dd', {}, queue.join(' · '))),
        headerNames.length > 0 && h('div', {}, h('dt', {}, 'Headers'), h('dd', {}, headerNames.join(', ')))),
      healthPanel(webhook, hourly.get(id)),
      note && notice(note[0], note[1]),
      h('div', { class: 'toolbar' },
        h('a', { class: 'btn', href: `/webhooks/${id}/deliveries`, ...key('log') }, 'Delivery log'),
        webhook.is_active && waiting > 0 && h('button', {
          type: 'button', class: 'btn', ...key('retry'),
          onclick: (e) => act(e.currentTarget, webhook, async () => {
            notes.set(id, [retryMessage(await api(`/api/webhooks/${id}/retry`, { method: 'POST' })), 'ok']);
          }),
        }, 'Retry now'),
        h('button', {
          type: 'button', class: 'btn', ...key('test'),
          onclick: (e) => act(e.currentTarget, webhook, async () => {
            const delivery = await api(`/api/webhooks/${id}/test`, { method: 'POST' });
            notes.set(id, [[`Test event queued as delivery ${delivery.id}. `,
              h('a', { href: `/webhooks/${id}/deliveries/${delivery.id}` }, 'Open it in the log')], 'ok']);
          }),
        }, 'Send test'),
        h('a', { class: 'btn', href: `/webhooks/${id}/edit`, ...key('edit') }, 'Edit'),
        h('button', {
          type: 'button', class: 'btn', ...key('switch'),
          onclick: (e) => act(e.currentTarget, webhook, async () => {
            await api(`/api/webhooks/${id}/`, { method: 'PATCH', body: { is_active: !webhook.is_active } });
            notes.set(id, [webhook.is_active
              ? 'Switched off: events from now on are not sent to it, and not kept for later. (Send test still reaches it.)'
              : 'Switched on.', 'ok']);
          }),
        }, webhook.is_active ? 'Switch off' : 'Switch on'),
        h('button', {
          type: 'button', class: 'btn', 'aria-expanded': String(secretOpen), 'aria-controls': secretId, ...key('secret'),
          onclick: () => {
            if (secretOpen) openSecrets.delete(id);
            else openSecrets.add(id);
            refresh();
          },
        }, 'Secret'),
        h('button', {
          type: 'button', class: 'btn btn-danger', ...key('delete'),
          onclick: async (e) => {
            const button = e.currentTarget; // events forget it once the handler awaits
            const yes = await confirmDialog({
              title: 'Delete this webhook?',
              message: `${webhook.url} will receive nothing more, and its delivery log is deleted with it.`,
              confirm: 'Delete webhook',
              danger: true,
            });
            if (!yes || !ctx.active()) return;
            await act(button, webhook, async () => {
              await api(`/api/webhooks/${id}/`, { method: 'DELETE' });
              pageNotes.replaceChildren(notice(`Webhook ${webhook.url} deleted.`));
            });
            // The card is gone; give the focus somewhere sensible.
            document.querySelector('main h1')?.focus();
          },
        }, 'Delete')),
      secretOpen && secretPanel(webhook, secretId));
  }

  function secretPanel(webhook, panelId) {
    const id = webhook.id;
    const shown = revealed.get(id);
    const labelId = `${panelId}-label`;
    return h('div', { class: 'secret-panel', id: panelId },
      h('p', { class: 'secret-line' },
        h('span', { id: labelId, class: 'label' }, 'Signing secret'),
        h('code', { class: 'secret', 'aria-labelledby': labelId }, shown ? shown.secret : '••••••••••••••••••••••••')),
      h('p', { class: 'hint' }, 'Receivers verify the webhook-signature header with it (Standard Webhooks).'),
      shown?.previous_secret_expires_at && h('p', { class: 'hint' },
        'The previous secret also signs until ', time(shown.previous_secret_expires_at), ', so receivers can switch over.'),
      h('div', { class: 'toolbar' },
        h('button', {
          type: 'button', class: 'btn', 'data-key': `${id}:reveal`,
          onclick: (e) => act(e.currentTarget, webhook, async () => {
            if (shown) revealed.delete(id);
            else revealed.set(id, await api(`/api/webhooks/${id}/secret`));
          }),
        }, shown ? 'Hide' : 'Reveal'),
        h('button', {
          type: 'button', class: 'btn', 'data-key': `${id}:rotate`,
          onclick: async (e) => {
            const button = e.currentTarget;
            const yes = await confirmDialog({
              title: 'Rotate the signing secret?',
              message: 'A new secret signs from now on. The current one keeps signing too for a grace period, so receivers can be updated without losing a delivery.',
              confirm: 'Rotate secret',
            });
            if (!yes || !ctx.active()) return;
            await act(button, webhook, async () => {
              revealed.set(id, await api(`/api/webhooks/${id}/secret/rotate`, { method: 'POST' }));
              notes.set(id, ['Secret rotated. Update your receiver with the new secret.', 'ok']);
            });
          },
        }, 'Rotate secret')));
  }

  const isOrg = project === null;
  ctx.show(isOrg ? 'Organization webhooks' : `Webhooks · ${scope.name}`,
    pageHeader({
      trail: isOrg ? null : [...scope.trail.slice(0, -1), 'Webhooks'],
      title: isOrg ? 'Organization webhooks' : 'Webhooks',
      lead: isOrg
        ? 'These receive the events of every project of the organization, and project created and deleted.'
        : `Events of project “${scope.name}” are sent to these URLs, signed, and retried until they succeed.`,
      actions: h('a', { class: 'btn btn-primary', href: newHref }, 'Add webhook'),
    }),
    !isOrg && projectTabs(project, 'settings', 'webhooks'),
    pageNotes,
    region);
  await refresh();
}

/** What "Retry now" did, in words. */
export function retryMessage({ waiting, probe }) {
  if (probe) {
    return `The receiver is failing: one probe goes now; if it succeeds, the other ${waiting > 1 ? waiting - 1 : 0} follow at once.`;
  }
  return waiting ? `${plural(waiting, 'waiting delivery', 'waiting deliveries')} sent now.` : 'Nothing is waiting.';
}

// ---- Add / edit form --------------------------------------------------------------------

/** Labelbox's topics, in words (docs/delivery.md has what each is made from). */
const LABELBOX_TOPICS = [
  ['LABEL_CREATED', 'Label created'],
  ['LABEL_UPDATED', 'Label updated'],
  ['LABEL_DELETED', 'Label deleted'],
  ['REVIEW_CREATED', 'Review created'],
  ['REVIEW_UPDATED', 'Review updated'],
  ['REVIEW_DELETED', 'Review deleted'],
  ['WORKFLOW_ACTION', 'Workflow action (approved, rejected)'],
];

export async function webhookFormPage(ctx, { project, webhook: webhookId }) {
  const webhook = webhookId ? await api(`/api/webhooks/${webhookId}/`) : null;
  const projectId = webhook ? webhook.project : project;
  const [scope, builtIn, customTypes] = await Promise.all([
    scopeOf(projectId), actionCatalogue(),
    // The organization's custom event types (docs/delivery.md#custom-events).
    api('/api/webhooks/event-types/').catch(() => []),
  ]);
  const catalogue = { ...builtIn };
  for (const type of customTypes) {
    catalogue[type.name] ??= { name: type.description || type.name, description: type.description, key: 'payload', 'organization-only': false };
  }
  const isOrg = projectId === null;
  // Organization-only actions (project created/deleted) cannot reach a project webhook.
  const choices = Object.entries(catalogue).filter(([, info]) => isOrg || !info['organization-only']);

  const url = h('input', {
    id: 'wh-url', name: 'url', type: 'url', inputmode: 'url', autocomplete: 'url', spellcheck: 'false',
    placeholder: 'https://example.com/hooks/labeling', value: webhook?.url ?? '',
    'data-field': 'url', 'aria-describedby': 'wh-url-hint wh-url-error',
  });

  const allRadio = h('input', { type: 'radio', name: 'scope', id: 'wh-all', value: 'all', checked: webhook ? webhook.send_for_all_actions : true });
  const someRadio = h('input', { type: 'radio', name: 'scope', id: 'wh-some', value: 'some', checked: webhook ? !webhook.send_for_all_actions : false });
  const boxes = choices.map(([action, info]) => h('input', {
    type: 'checkbox', id: `wh-action-${action}`, value: action, 'data-field': 'actions',
    checked: webhook?.actions.includes(action),
  }));
  const syncBoxes = () => {
    for (const box of boxes) box.disabled = allRadio.checked;
  };
  allRadio.addEventListener('change', syncBoxes);
  someRadio.addEventListener('change', syncBoxes);
  syncBoxes();

  const payload = h('input', { type: 'checkbox', id: 'wh-payload', 'data-field': 'send_payload', checked: webhook ? webhook.send_payload : true, 'aria-describedby': 'wh-payload-hint wh-payload-error' });
  const active = h('input', { type: 'checkbox', id: 'wh-active', 'data-field': 'is_active', checked: webhook ? webhook.is_active : true, 'aria-describedby': 'wh-active-hint wh-active-error' });

  // Labelbox's requests (topics instead of events, a secret the receiver has): chosen when
  // the webhook is added.
  const format = webhook ? null : h('select', { id: 'wh-format', 'data-field': 'format', 'aria-describedby': 'wh-format-hint wh-format-error' },
    h('option', { value: 'label_studio' }, 'Label Studio (Standard Webhooks signatures)'),
    h('option', { value: 'labelbox' }, 'Labelbox (X-Hub-Signature, X-Labelbox-Event)'));
  const isLabelbox = () => (webhook ? webhook.format === 'labelbox' : format.value === 'labelbox');
  const topicBoxes = LABELBOX_TOPICS.map(([topic]) => h('input', {
    type: 'checkbox', id: `wh-topic-${topic}`, value: topic, 'data-field': 'topics',
    checked: webhook?.topics?.includes(topic),
  }));

  // The signing secret is chosen once, when the webhook is added (Rotate secret changes it).
  const secret = webhook ? null : h('input', {
    id: 'wh-secret', name: 'secret', type: 'text', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'Leave empty for a random whsec_… secret',
    'data-field': 'secret', 'aria-describedby': 'wh-secret-hint wh-secret-error',
  });

  // Conditions on the event body, as JSON (docs/delivery.md#filters).
  const filter = h('textarea', {
    id: 'wh-filter', rows: 3, spellcheck: 'false', 'data-field': 'filter',
    placeholder: '[{"path": "task.data.split", "in": ["train"]}, {"result_contains_label": "Cat"}]',
    'aria-describedby': 'wh-filter-hint wh-filter-error',
  });
  filter.value = webhook?.filter ? JSON.stringify(webhook.filter) : '';

  const rows = h('div', { class: 'header-rows' });
  function addHeader(name = '', value = '') {
    const n = rows.children.length + 1;
    const row = h('div', { class: 'header-row' },
      h('input', { type: 'text', class: 'header-name', 'aria-label': `Header ${n} name`, placeholder: 'Name', value: name, spellcheck: 'false', 'data-field': 'headers', 'aria-describedby': 'wh-headers-error' }),
      h('input', { type: 'text', class: 'header-value', 'aria-label': `Header ${n} value`, placeholder: 'Value', value, spellcheck: 'false', 'data-field': 'headers', 'aria-describedby': 'wh-headers-error' }),
      h('button', {
        type: 'button', class: 'btn btn-quiet', 'aria-label': `Remove header ${n}`,
        onclick: () => {
          const next = row.nextElementSibling || row.previousElementSibling;
          row.remove();
          (next?.querySelector('input') || addButton).focus();
        },
      }, 'Remove'));
    rows.append(row);
    return row;
  }
  for (const [name, value] of Object.entries(webhook?.headers || {})) addHeader(name, value);
  const addButton = h('button', {
    type: 'button', class: 'btn', id: 'wh-add-header',
    onclick: () => addHeader().querySelector('input').focus(),
  }, '+ Add header');

  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, webhook ? 'Save changes' : 'Add webhook');
  const form = h('form', { class: 'card form', novalidate: true },
    formAlert(),
    h('div', { class: 'field' },
      h('label', { for: 'wh-url' }, 'URL'),
      url,
      h('p', { class: 'hint', id: 'wh-url-hint' }, 'Where events are POSTed: an absolute http:// or https:// address.'),
      errorSlot('url', 'wh-url-error')),
    format && h('div', { class: 'field' },
      h('label', { for: 'wh-format' }, 'Format'),
      format,
      h('p', { class: 'hint', id: 'wh-format-hint' }, 'Labelbox: for a receiver written for Labelbox. Fixed once the webhook is added.'),
      errorSlot('format', 'wh-format-error')),
    h('fieldset', { class: 'field', id: 'wh-topics' },
      h('legend', {}, 'Labelbox topics'),
      errorSlot('topics', 'wh-topics-error'),
      h('ul', { class: 'checks', 'aria-label': 'Topics to send' }, LABELBOX_TOPICS.map(([topic, words], i) => h('li', { class: 'choice' },
        topicBoxes[i],
        h('label', { for: topicBoxes[i].id }, words, ' ', h('code', {}, topic)))))),
    h('fieldset', { class: 'field', id: 'wh-events' },
      h('legend', {}, 'Events'),
      errorSlot('actions', 'wh-actions-error'),
      h('div', { class: 'choice' }, allRadio, h('label', { for: 'wh-all' }, 'All events')),
      h('div', { class: 'choice' }, someRadio, h('label', { for: 'wh-some' }, 'Only the events selected below')),
      h('ul', { class: 'checks', 'aria-label': 'Events to send' }, choices.map(([action, info], i) => h('li', { class: 'choice' },
        boxes[i],
        h('label', { for: boxes[i].id }, info.name, ' ', h('code', {}, action)))))),
    secret && h('div', { class: 'field' },
      h('label', { for: 'wh-secret' }, 'Signing secret (optional)'),
      secret,
      h('p', { class: 'hint', id: 'wh-secret-hint' }, 'To share a secret your receiver already has: at least 16 characters, whsec_ + base64 or a plain secret.'),
      errorSlot('secret', 'wh-secret-error')),
    h('div', { class: 'field' },
      h('label', { for: 'wh-filter' }, 'Filter (optional)'),
      filter,
      h('p', { class: 'hint', id: 'wh-filter-hint' }, 'Only events whose body meets every condition are sent: {"path": …, "equals": …}, {"path": …, "in": […]}, {"result_contains_label": …}.'),
      errorSlot('filter', 'wh-filter-error')),
    h('fieldset', { class: 'field' },
      h('legend', {}, 'Headers'),
      h('p', { class: 'hint' }, 'Sent with every request, for example a token your receiver checks. At most 10.'),
      errorSlot('headers', 'wh-headers-error'),
      rows,
      addButton),
    h('div', { class: 'field' },
      h('div', { class: 'choice' }, payload, h('label', { for: 'wh-payload' }, 'Send payload')),
      h('p', { class: 'hint', id: 'wh-payload-hint' }, 'Without it the body is only {"action": "…"}.'),
      errorSlot('send_payload', 'wh-payload-error')),
    h('div', { class: 'field' },
      h('div', { class: 'choice' }, active, h('label', { for: 'wh-active' }, 'Active')),
      h('p', { class: 'hint', id: 'wh-active-hint' }, 'While off, events are not sent to it and not kept for later; Send test still reaches it.'),
      errorSlot('is_active', 'wh-active-error')),
    h('div', { class: 'toolbar' },
      submit,
      h('a', { class: 'btn btn-quiet', href: scope.listHref }, 'Cancel')));

  onSubmit(form, submit, async () => {
    const headers = {};
    const problems = [];
    for (const row of rows.children) {
      const name = row.querySelector('.header-name').value.trim();
      const value = row.querySelector('.header-value').value;
      if (!name && !value) continue;
      if (name in headers) problems.push(`Header "${name}" is given twice.`);
      headers[name] = value;
    }
    const body = {
      url: url.value.trim(),
      send_for_all_actions: allRadio.checked,
      actions: boxes.filter((b) => b.checked).map((b) => b.value),
      send_payload: payload.checked,
      headers,
      is_active: active.checked,
    };
    if (secret?.value.trim()) body.secret = secret.value.trim();
    let filterProblem = null;
    if (filter.value.trim()) {
      try {
        body.filter = JSON.parse(filter.value);
      } catch {
        filterProblem = 'Write the conditions as JSON: a list of objects.';
      }
    } else if (webhook?.filter) {
      body.filter = null;
    }
    if (isLabelbox()) {
      delete body.send_for_all_actions;
      delete body.actions;
      body.topics = topicBoxes.filter((b) => b.checked).map((b) => b.value);
      if (format) body.format = 'labelbox';
    }
    const local = {};
    if (problems.length) local.headers = problems;
    if (filterProblem) local.filter = [filterProblem];
    if (isLabelbox() && !body.topics.length) local.topics = ['Select at least one topic.'];
    if (isLabelbox() && !webhook && !body.secret) local.secret = ['A Labelbox receiver checks signatures with its secret: enter it.'];
    if (!isLabelbox() && !body.send_for_all_actions && !body.actions.length) local.actions = ['Select at least one event, or choose All events.'];
    if (Object.keys(local).length) {
      showErrors(form, { fields: local });
      return;
    }
    try {
      if (webhook) {
        await api(`/api/webhooks/${webhook.id}/`, { method: 'PATCH', body });
        flash('Changes saved.');
      } else {
        const created = await api('/api/webhooks/', { method: 'POST', body: { ...body, project: projectId } });
        flash([h('strong', {}, 'Webhook added. '), 'Its signing secret is ', h('code', { class: 'secret' }, created.secret),
          '; you can reveal it again under Secret.']);
      }
      navigate(scope.listHref);
    } catch (error) {
      if (error.status === 401) return;
      // `actions` errors are indexed by position in the list sent: name the action instead.
      showErrors(form, error, {
        actions: (i) => catalogue[body.actions[i]]?.name || body.actions[i] || i,
        filter: (i) => `Condition ${Number(i) + 1}`,
      });
    }
  });

  // One of the two subscriptions shows: events (Label Studio) or topics (Labelbox).
  const syncFormat = () => {
    form.querySelector('#wh-topics').hidden = !isLabelbox();
    form.querySelector('#wh-events').hidden = isLabelbox();
    // Labelbox's bodies are always whole: "Send payload" does not apply.
    payload.closest('.field').hidden = isLabelbox();
  };
  format?.addEventListener('change', syncFormat);
  syncFormat();

  const title = webhook ? 'Edit webhook' : 'Add webhook';
  ctx.show(title,
    h('div', { class: 'form-page' },
      pageHeader({
        trail: [...scope.trail, title],
        title,
        lead: isOrg ? 'An organization webhook receives the events of every project.' : `For project “${scope.name}”.`,
      }),
      form));
  url.focus();
}
