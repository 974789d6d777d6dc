// labelhook's web pages: a hash router, the sign-in page and the projects list. The
// webhook pages live in webhooks.js and deliveries.js.

import { api, token, session, signedIn, probeSession, signOutSession, whenUnauthorized } from './api.js';
import { h, pageHeader, pager, flash, takeFlash, notice, errorSlot, formAlert, showErrors, clearErrors, busy } from './dom.js';
import { webhookListPage, webhookFormPage } from './webhooks.js';
import { deliveryLogPage, deliveryDetailPage } from './deliveries.js';
import { exportPage } from './export.js';

const main = document.getElementById('main');
const RETURN_KEY = 'labelhook.return';

const routes = [
  [/^\/sign-in$/, signInPage, { public: true }],
  [/^\/projects$/, projectsPage],
  [/^\/projects\/(\d+)\/webhooks$/, (ctx, id) => webhookListPage(ctx, { project: Number(id) })],
  [/^\/projects\/(\d+)\/export$/, (ctx, id) => exportPage(ctx, Number(id))],
  [/^\/projects\/(\d+)\/webhooks\/new$/, (ctx, id) => webhookFormPage(ctx, { project: Number(id) })],
  [/^\/webhooks$/, (ctx) => webhookListPage(ctx, { project: null })],
  [/^\/webhooks\/new$/, (ctx) => webhookFormPage(ctx, { project: null })],
  [/^\/webhooks\/(\d+)\/edit$/, (ctx, id) => webhookFormPage(ctx, { webhook: Number(id) })],
  [/^\/webhooks\/(\d+)\/deliveries$/, (ctx, id) => deliveryLogPage(ctx, Number(id))],
  [/^\/webhooks\/(\d+)\/deliveries\/(\d+)$/, (ctx, id, delivery) => deliveryDetailPage(ctx, Number(id), Number(delivery))],
];

// Each navigation gets a number; a page whose number is no longer current stops drawing
// (its requests may finish after the user has moved on).
let generation = 0;
let timer = null;

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, search = ''] = raw.split('?');
  return { path, query: new URLSearchParams(search) };
}

async function route() {
  const current = ++generation;
  clearTimeout(timer);
  const { path, query } = parseHash();
  const match = routes.map(([pattern, page, options]) => [path.match(pattern), page, options || {}])
    .find(([found]) => found);
  // Signed in with email and password: the session cookie is the credential.
  if (!signedIn()) await probeSession();
  if (current !== generation) return;
  if (!match) {
    location.replace(signedIn() ? '#/projects' : '#/sign-in');
    return;
  }
  const [found, page, options] = match;
  if (!options.public && !signedIn()) {
    sessionStorage.setItem(RETURN_KEY, location.hash);
    location.replace('#/sign-in');
    return;
  }
  document.getElementById('nav').hidden = !signedIn();
  for (const link of document.querySelectorAll('[data-nav]')) {
    const here = path === link.getAttribute('href').slice(1) ||
      (link.dataset.nav === 'projects' && path.startsWith('/projects'));
    if (here) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  let focused = false;
  const ctx = {
    query,
    active: () => current === generation,
    /** Draws the page; the first draw after a navigation moves focus to its heading. */
    show(title, ...nodes) {
      if (current !== generation) return;
      document.title = `${title} · labelhook`;
      main.replaceChildren(...takeFlash(), ...nodes.filter((node) => node !== null && node !== undefined && node !== false));
      if (!focused) {
        focused = true;
        (main.querySelector('h1') || main).focus({ preventScroll: false });
      }
    },
    /** Calls `refresh` again in a moment (while something is still being delivered). */
    later(refresh, ms = 1000) {
      if (current !== generation) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        // Not while a dialog asks something: the answer refers to what is on screen.
        if (document.querySelector('dialog[open]')) ctx.later(refresh, ms);
        else if (current === generation) refresh();
      }, ms);
    },
  };
  try {
    await page(ctx, ...found.slice(1));
  } catch (error) {
    if (error.status === 401 || current !== generation) return;
    ctx.show('Error', pageHeader({ title: error.status === 404 ? 'Not found' : 'Something went wrong' }),
      notice(error.message, 'error'),
      h('p', {}, h('button', { type: 'button', class: 'btn', onclick: () => route() }, 'Try again'),
        ' ', h('a', { href: '#/projects' }, 'Back to projects')));
  }
}

whenUnauthorized(() => {
  token.clear();
  session.clear();
  if (parseHash().path === '/sign-in') return; // the sign-in form reports it itself
  sessionStorage.setItem(RETURN_KEY, location.hash);
  flash('Your session has ended or the token was not accepted. Please sign in again.', 'error');
  location.hash = '#/sign-in';
});

// ---- Sign in ----------------------------------------------------------------------------

async function signInPage(ctx) {
  const field = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false',
    required: true, 'data-field': 'token', 'aria-describedby': 'token-hint token-error',
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in');
  const form = h('form', { class: 'card form narrow', novalidate: true },
    formAlert(),
    h('div', { class: 'field' },
      h('label', { for: 'token' }, 'API token'),
      field,
      h('p', { class: 'hint', id: 'token-hint' },
        'The token printed when the server first started, or your user\'s token. ',
        'It is kept only in this browser tab and sent as "Authorization: Token …".'),
      errorSlot('token', 'token-error')),
    h('div', { class: 'toolbar' }, submit));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(submit, async () => {
      clearErrors(form);
      const key = field.value.trim();
      if (!key) {
        showErrors(form, { fields: { token: ['Enter your API token.'] } });
        return;
      }
      token.set(key);
      try {
        await api('/api/projects/', { query: { page_size: 1 } });
      } catch (error) {
        token.clear();
        const fields = error.status === 401 ? { token: ['This token was not accepted.'] } : {};
        showErrors(form, { fields, message: error.message });
        return;
      }
      const back = sessionStorage.getItem(RETURN_KEY);
      sessionStorage.removeItem(RETURN_KEY);
      location.hash = back && !back.startsWith('#/sign-in') ? back : '#/projects';
    });
  });
  ctx.show('Sign in',
    h('div', { class: 'narrow' },
      pageHeader({ title: 'Sign in', lead: 'Manage webhooks and see what was delivered.' }),
      h('p', {}, h('a', { href: '/user/login?next=/ui/', class: 'btn' }, 'Sign in with email and password')),
      form));
  field.focus();
}

// ---- Projects ---------------------------------------------------------------------------

const PROJECT_PAGE_SIZE = 20;

async function projectsPage(ctx) {
  const page = Math.max(1, Number(ctx.query.get('page')) || 1);
  const [projects, webhooks] = await Promise.all([
    api('/api/projects/', { query: { page, page_size: PROJECT_PAGE_SIZE } }),
    api('/api/webhooks/'),
  ]);
  const perProject = new Map();
  for (const webhook of webhooks) {
    if (webhook.project !== null) perProject.set(webhook.project, (perProject.get(webhook.project) || 0) + 1);
  }
  const rows = projects.results.map((project) => {
    const count = perProject.get(project.id) || 0;
    return h('tr', {},
      h('td', { 'data-label': 'Project' }, h('a', { href: `#/projects/${project.id}/webhooks`, class: 'strong' }, project.title || `Project ${project.id}`)),
      h('td', { 'data-label': 'ID', class: 'num' }, project.id),
      h('td', { 'data-label': 'Tasks', class: 'num' }, project.task_number ?? 0),
      h('td', { 'data-label': 'Webhooks' },
        h('a', { href: `#/projects/${project.id}/webhooks`, 'aria-label': `Webhooks of ${project.title || project.id}` },
          count ? `${count} webhook${count === 1 ? '' : 's'}` : 'Add a webhook')),
      h('td', { 'data-label': 'Export' },
        h('a', { href: `#/projects/${project.id}/export`, 'aria-label': `Export ${project.title || project.id}` }, 'Export')));
  });
  ctx.show('Projects',
    pageHeader({
      title: 'Projects',
      lead: 'Choose a project to set up its webhooks or export its labels. Organization webhooks receive the events of every project.',
      actions: h('a', { class: 'btn', href: '#/webhooks' }, 'Organization webhooks'),
    }),
    projects.count === 0
      ? h('div', { class: 'card empty' }, h('p', {}, 'No projects yet. Create one with the API (POST /api/projects/) or the Label Studio SDK.'))
      : h('div', { class: 'card table-card' },
        h('table', { class: 'table stack' },
          h('caption', { class: 'visually-hidden' }, 'Projects'),
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col' }, 'Project'), h('th', { scope: 'col', class: 'num' }, 'ID'),
            h('th', { scope: 'col', class: 'num' }, 'Tasks'), h('th', { scope: 'col' }, 'Webhooks'),
            h('th', { scope: 'col' }, 'Export'))),
          h('tbody', {}, rows))),
    pager({ page, size: PROJECT_PAGE_SIZE, count: projects.count, href: (p) => `#/projects?page=${p}` }));
}

// ---- Start ------------------------------------------------------------------------------

document.getElementById('sign-out').addEventListener('click', async () => {
  sessionStorage.removeItem(RETURN_KEY);
  if (session.get()) {
    await signOutSession();
    location.assign('/user/login');
    return;
  }
  token.clear();
  flash('Signed out.');
  location.hash = '#/sign-in';
});
// The skip link must not change the hash: the hash is the router's.
document.querySelector('.skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener('hashchange', route);
route();
