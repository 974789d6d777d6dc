// The organization's event stream, read-only: the newest events (`/api/events/?newest=true`),
// filters by project and action, each event's body, and links to its deliveries.

import { api } from './api.js';
import { h, time, statusBadge, pageHeader, navigate, notice, redraw } from './dom.js';
import { actionCatalogue } from './webhooks.js';

const PAGE_SIZE = 50;

export async function eventsPage(ctx) {
  const filters = {
    project: ctx.query.get('project') || '',
    action: ctx.query.get('action') || '',
  };
  const [projects, catalogue] = await Promise.all([
    api('/api/projects/', { query: { page_size: 1000 } }), actionCatalogue(),
  ]);
  const projectList = projects.results || projects;
  const titles = new Map(projectList.map((p) => [p.id, p.title]));
  const region = h('div', { class: 'events-region' });

  async function refresh() {
    const query = { newest: 'true', limit: PAGE_SIZE };
    if (filters.project) query.project = filters.project;
    if (filters.action) query.action = filters.action;
    const page = await api('/api/events/', { query });
    if (!ctx.active()) return;
    redraw(region, page.events.length
      ? h('div', { class: 'card table-card' }, table(page.events.slice().reverse()))
      : h('div', { class: 'card empty' }, h('p', {}, 'No events yet for these filters.')));
  }

  function deliveriesCell(event) {
    if (!event.deliveries.length) return h('span', { class: 'muted' }, 'none');
    return h('ul', { class: 'plain-list' }, event.deliveries.map((d) => h('li', {},
      h('a', { href: `/webhooks/${d.webhook}/deliveries/${d.id}`, 'aria-label': `Delivery ${d.id} to webhook ${d.webhook}` },
        `Webhook ${d.webhook}`), ' ', statusBadge(d.status))));
  }

  function table(events) {
    return h('table', { class: 'table stack log' },
      h('caption', { class: 'visually-hidden' }, 'Events, newest first'),
      h('thead', {}, h('tr', {},
        ['Sequence', 'Time', 'Action', 'Project', 'Deliveries', 'Body'].map((label) =>
          h('th', { scope: 'col', class: label === 'Sequence' ? 'num' : null }, label)))),
      h('tbody', {}, events.map((e) => h('tr', { 'data-event': e.sequence },
        h('td', { 'data-label': 'Sequence', class: 'num' }, String(e.sequence)),
        h('td', { 'data-label': 'Time' }, time(e.created_at, { short: true })),
        h('td', { 'data-label': 'Action' }, h('code', {}, e.action)),
        h('td', { 'data-label': 'Project' }, e.project === null
          ? h('span', { class: 'muted' }, 'organization')
          : h('a', { href: `/projects/${e.project}/data` }, titles.get(e.project) || `Project ${e.project}`)),
        h('td', { 'data-label': 'Deliveries' }, deliveriesCell(e)),
        h('td', { 'data-label': 'Body' }, h('details', {},
          h('summary', {}, 'Body'),
          h('pre', { class: 'code', tabindex: '0', 'aria-label': `Body of event ${e.sequence}` },
            JSON.stringify(e.body, null, 2))))))));
  }

  const projectSelect = h('select', { id: 'events-project', name: 'project' },
    h('option', { value: '' }, 'All projects'),
    h('option', { value: 'null', selected: filters.project === 'null' }, 'Organization only'),
    projectList.map((p) => h('option', { value: String(p.id), selected: String(p.id) === filters.project }, p.title)));
  const actionSelect = h('select', { id: 'events-action', name: 'action' },
    h('option', { value: '' }, 'All actions'),
    Object.keys(catalogue).map((action) =>
      h('option', { value: action, selected: action === filters.action }, action)));
  const filterForm = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter events' },
    h('div', { class: 'field' }, h('label', { for: 'events-project' }, 'Project'), projectSelect),
    h('div', { class: 'field' }, h('label', { for: 'events-action' }, 'Action'), actionSelect),
    h('button', { type: 'submit', class: 'btn' }, 'Filter'));
  filterForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    if (projectSelect.value) params.set('project', projectSelect.value);
    if (actionSelect.value) params.set('action', actionSelect.value);
    const search = params.toString();
    navigate(`/events${search ? `?${search}` : ''}`);
  });
  const refreshButton = h('button', { type: 'button', class: 'btn', onclick: () => refresh().catch((error) => {
    if (error.status !== 401) region.prepend(notice(error.message, 'error'));
  }) }, 'Refresh');

  await refresh();
  ctx.show('Events',
    pageHeader({
      title: 'Events',
      lead: `The organization's newest ${PAGE_SIZE} events, as GET /api/events/ serves them to receivers that pull, with the body webhooks get.`,
      actions: refreshButton,
    }),
    filterForm,
    region);
}
