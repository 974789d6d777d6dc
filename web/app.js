// labelhook's web pages: the router (real addresses, History API) and the sign-in page.
// The projects list and form live in projects.js, a project's task table in data.js, its
// settings in settings.js, the webhook pages in webhooks.js and deliveries.js, the event
// stream in events.js.

import { api, token, session, signedIn, probeSession, signOutSession, whenUnauthorized, currentUser, forgetUser, roleAtLeast } from './api.js';
import { h, pageHeader, flash, takeFlash, notice, errorSlot, formAlert, showErrors, onSubmit, navigate, NAVIGATED } from './dom.js';
import { projectsPage, createProjectPage } from './projects.js';
import { dataPage } from './data.js';
import { settingsPage } from './settings.js';
import { webhookListPage, webhookFormPage } from './webhooks.js';
import { deliveryLogPage, deliveryDetailPage } from './deliveries.js';
import { exportPage } from './export.js';
import { eventsPage } from './events.js';

const main = document.getElementById('main');
const ROLE_NAMES = { OW: 'owner', AD: 'administrator', MA: 'manager', RE: 'reviewer', AN: 'annotator' };
const RETURN_KEY = 'labelhook.return';

// The pages' addresses are Label Studio's own (`/projects/3/data`), kept with the History
// API; the server answers the same index for each of them.
const routes = [
  [/^\/sign-in$/, signInPage, { public: true }],
  [/^\/projects$/, projectsPage],
  [/^\/projects\/new$/, createProjectPage, { needs: 'MA' }],
  [/^\/projects\/(\d+)$/, (ctx, id) => navigate(`/projects/${id}/data`, { replace: true })],
  [/^\/projects\/(\d+)\/data$/, (ctx, id) => dataPage(ctx, Number(id))],
  [/^\/projects\/(\d+)\/settings$/, (ctx, id) => settingsPage(ctx, Number(id)), { needs: 'MA' }],
  [/^\/projects\/(\d+)\/settings\/webhooks$/, (ctx, id) => webhookListPage(ctx, { project: Number(id) }), { needs: 'MA' }],
  [/^\/projects\/(\d+)\/settings\/webhooks\/new$/, (ctx, id) => webhookFormPage(ctx, { project: Number(id) }), { needs: 'MA' }],
  [/^\/projects\/(\d+)\/export$/, (ctx, id) => exportPage(ctx, Number(id)), { needs: 'MA' }],
  [/^\/webhooks$/, (ctx) => webhookListPage(ctx, { project: null }), { needs: 'MA' }],
  [/^\/webhooks\/new$/, (ctx) => webhookFormPage(ctx, { project: null }), { needs: 'MA' }],
  [/^\/webhooks\/(\d+)\/edit$/, (ctx, id) => webhookFormPage(ctx, { webhook: Number(id) }), { needs: 'MA' }],
  [/^\/webhooks\/(\d+)\/deliveries$/, (ctx, id) => deliveryLogPage(ctx, Number(id)), { needs: 'MA' }],
  [/^\/webhooks\/(\d+)\/deliveries\/(\d+)$/, (ctx, id, delivery) => deliveryDetailPage(ctx, Number(id), Number(delivery)), { needs: 'MA' }],
  [/^\/events$/, eventsPage, { needs: 'MA' }],
];

/** Hides the links to pages `role` may not use (the route table says which need more). */
function hideLinksBeyond(role) {
  for (const link of main.querySelectorAll('a[href]')) {
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin) continue;
    const path = currentAddress(normalize(url.pathname));
    const found = routes.find(([pattern]) => pattern.test(path));
    if (found && found[2]?.needs && !roleAtLeast(role, found[2].needs)) link.hidden = true;
  }
}

/** Addresses of earlier versions (`/ui/#/projects/3/webhooks`) and where they live now. */
function currentAddress(path) {
  return path
    .replace(/^\/projects\/(\d+)\/webhooks(\/new)?$/, '/projects/$1/settings/webhooks$2')
    .replace(/^\/?$/, '/projects');
}

/** Trailing slashes do not matter (`/projects/` is Label Studio's spelling; the app's is `/projects`). */
const normalize = (path) => (path.length > 1 ? path.replace(/\/+$/, '') : path);

/**
 * Whether the app draws this address itself. The labeling page is a page of its own
 * (`/projects/3/data?labeling=1` or `?task=7`), so links to it load it from the server.
 */
function isAppAddress(url) {
  const path = normalize(url.pathname);
  if (/^\/projects\/\d+\/data$/.test(path) && ['labeling', 'task', 'review'].some((name) => url.searchParams.has(name))) return false;
  return routes.some(([pattern]) => pattern.test(path)) || currentAddress(path) !== path;
}

// Each navigation gets a number; a page whose number is no longer current stops drawing
// (its requests may finish after the user has moved on).
let generation = 0;
let timer = null;

const here = () => location.pathname + location.search;

async function route() {
  const current = ++generation;
  clearTimeout(timer);
  const path = normalize(location.pathname);
  const query = new URLSearchParams(location.search);
  // Signed in with email and password: the session cookie is the credential.
  if (!signedIn()) await probeSession();
  if (current !== generation) return;
  if (currentAddress(path) !== location.pathname) {
    navigate(currentAddress(path) + location.search, { replace: true });
    return;
  }
  const match = routes.map(([pattern, page, options]) => [path.match(pattern), page, options || {}])
    .find(([found]) => found);
  if (!match) {
    if (signedIn()) {
      showNotFound();
      return;
    }
    navigate('/sign-in', { replace: true });
    return;
  }
  const [found, page, options] = match;
  if (!options.public && !signedIn()) {
    sessionStorage.setItem(RETURN_KEY, here());
    navigate('/sign-in', { replace: true });
    return;
  }
  document.getElementById('nav').hidden = !signedIn();
  // What the user's role cannot do is not offered: manager pages and their links.
  const user = signedIn() ? await currentUser() : null;
  if (current !== generation) return;
  const role = user?.organization_membership?.role || 'OW';
  for (const link of document.querySelectorAll('[data-needs]')) link.hidden = !roleAtLeast(role, link.dataset.needs);
  if (options.needs && !roleAtLeast(role, options.needs)) {
    document.title = 'Not allowed · labelhook';
    main.replaceChildren(pageHeader({ title: 'Not allowed' }),
      notice(`This page is for managers; you are signed in as ${user?.email || 'a member'} (${ROLE_NAMES[role] || role}).`, 'error'),
      h('p', {}, h('a', { href: '/projects' }, 'Back to projects')));
    main.querySelector('h1').focus();
    return;
  }
  for (const link of document.querySelectorAll('[data-nav]')) {
    const isHere = path.startsWith(link.getAttribute('href'));
    if (isHere) link.setAttribute('aria-current', 'page');
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
      hideLinksBeyond(role);
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
    /** `refresh` as a poll that a failure (the server restarting, say) does not end: it
     * is tried again every 3 s, with a notice in `notes` until `poll.recovered()` (which
     * `refresh` calls once its data came) takes it away. */
    retrying(refresh, notes) {
      let problem = null;
      const poll = async () => {
        try {
          await refresh();
        } catch (error) {
          if (error.status === 401 || current !== generation) return;
          if (!problem) {
            problem = notice(`Could not refresh (${error.message}); trying again.`, 'error');
            notes.append(problem);
          }
          ctx.later(poll, 3000);
        }
      };
      poll.recovered = () => {
        problem?.remove();
        problem = null;
      };
      return poll;
    },
  };
  try {
    await page(ctx, ...found.slice(1));
  } catch (error) {
    if (error.status === 401 || current !== generation) return;
    ctx.show('Error', pageHeader({ title: error.status === 404 ? 'Not found' : 'Something went wrong' }),
      notice(error.message, 'error'),
      h('p', {}, h('button', { type: 'button', class: 'btn', onclick: () => route() }, 'Try again'),
        ' ', h('a', { href: '/projects' }, 'Back to projects')));
  }

  function showNotFound() {
    document.title = 'Not found · labelhook';
    document.getElementById('nav').hidden = false;
    main.replaceChildren(pageHeader({ title: 'Not found' }),
      notice('There is no page at this address.', 'error'),
      h('p', {}, h('a', { href: '/projects' }, 'Back to projects')));
    main.querySelector('h1').focus();
  }
}

whenUnauthorized(() => {
  token.clear();
  session.clear();
  forgetUser();
  if (normalize(location.pathname) === '/sign-in') return; // the sign-in form reports it itself
  sessionStorage.setItem(RETURN_KEY, here());
  flash('Your session has ended or the token was not accepted. Please sign in again.', 'error');
  navigate('/sign-in');
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
  onSubmit(form, submit, async () => {
    const key = field.value.trim();
    if (!key) {
      showErrors(form, { fields: { token: ['Enter your API token.'] } });
      return;
    }
    token.set(key);
    forgetUser();
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
    navigate(back && !back.startsWith('/sign-in') ? back : '/projects');
  });
  ctx.show('Sign in',
    h('div', { class: 'narrow' },
      pageHeader({ title: 'Sign in', lead: 'Manage webhooks and see what was delivered.' }),
      h('p', {}, h('a', { href: '/user/login?next=/projects', class: 'btn' }, 'Sign in with email and password')),
      form));
  field.focus();
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
  forgetUser();
  flash('Signed out.');
  navigate('/sign-in');
});
document.querySelector('.skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
// Links between the app's pages change the address without loading the page again.
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest?.('a[href]');
  if (!link || link.target || link.hasAttribute('download')) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !isAppAddress(url)) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', route);
window.addEventListener(NAVIGATED, route);
// Links of earlier versions: `/ui/#/projects/3/webhooks` → `/projects/3/settings/webhooks`.
if (location.hash.startsWith('#/')) {
  history.replaceState(null, '', currentAddress(normalize(location.hash.slice(1).split('?')[0])) +
    (location.hash.includes('?') ? `?${location.hash.split('?')[1]}` : ''));
} else if (normalize(location.pathname) === '/ui') {
  history.replaceState(null, '', '/projects');
}
route();
