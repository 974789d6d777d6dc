// Small DOM helpers shared by the pages. Everything is built with createElement and text
// nodes: API data never goes through innerHTML, so it cannot inject markup.

/**
 * h('a', {href: '/x', class: 'btn'}, 'text', child, [more]) → an element.
 * `on<event>` attributes take listeners; false, null and undefined attributes are left out.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** The event app.js draws the page on after `navigate` changed the address. */
export const NAVIGATED = 'labelhook:navigated';

/** Goes to another of the app's pages (`/projects/3/data`) without loading the page again. */
export function navigate(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', href);
  else {
    history.pushState(null, '', href);
    window.scrollTo(0, 0);
  }
  window.dispatchEvent(new Event(NAVIGATED));
}

let nextId = 0;
/** A document-unique id for label/aria wiring. */
export const uid = (prefix) => `${prefix}-${++nextId}`;

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const shortFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });

/** A <time> in the reader's locale (`short` for table cells), or a dash. */
export function time(iso, { short = false } = {}) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: iso }, (short ? shortFormat : dateFormat).format(new Date(iso)));
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

const STATUS_LOOK = {
  succeeded: ['Succeeded', 'ok'],
  failed: ['Failed', 'bad'],
  pending: ['Pending', 'wait'],
  held: ['Held', 'off'],
};

/** A delivery status as a badge: words first, colour only as a second cue. */
export function statusBadge(status, inFlight = false) {
  const [label, look] = STATUS_LOOK[status] || [status, 'off'];
  return h('span', { class: `badge badge-${look}` }, inFlight ? 'Sending…' : label);
}

/** Breadcrumbs: [label, href] pairs, the last item (the current page) a plain label. */
export function crumbs(items) {
  return h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
    h('ol', {}, items.map((item, i) => h('li', {},
      i === items.length - 1 ? h('span', { 'aria-current': 'page' }, item) : h('a', { href: item[1] }, item[0])))));
}

/** Page header: breadcrumbs, the h1 that receives focus on navigation, a lead line. */
export function pageHeader({ trail, title, lead, actions }) {
  return h('header', { class: 'page-header' },
    trail && crumbs(trail),
    h('div', { class: 'page-title' },
      h('h1', { tabindex: '-1' }, title),
      actions && h('div', { class: 'toolbar' }, actions)),
    lead && h('p', { class: 'lead' }, lead));
}

/**
 * The tabs of a project's pages (Data, Settings, Export) and, on Settings, its sections
 * (General, Webhooks). `current` is `data`, `settings` or `export`; `section` is
 * `general` or `webhooks`.
 */
export function projectTabs(projectId, current, section) {
  const base = `/projects/${projectId}`;
  // The tab of a settings section is current too, but the page is the section's.
  const tab = (here, href, label) => h('a', { href, class: 'tab', 'aria-current': here }, label);
  const mark = (tabName) => (current === tabName ? (section ? 'true' : 'page') : false);
  return h('div', { class: 'project-tabs' },
    h('nav', { class: 'tabs', 'aria-label': 'Project' },
      tab(mark('data'), `${base}/data`, 'Data'),
      tab(mark('settings'), `${base}/settings`, 'Settings'),
      tab(mark('export'), `${base}/export`, 'Export')),
    current === 'settings' && h('nav', { class: 'tabs tabs-sub', 'aria-label': 'Settings' },
      tab(section === 'general' && 'page', `${base}/settings`, 'General'),
      tab(section === 'webhooks' && 'page', `${base}/settings/webhooks`, 'Webhooks')));
}

/** "1–25 of 60" with previous/next links; `href(page)` builds the link of a page. */
export function pager({ page, size, count, href }) {
  if (count <= size && page === 1) return null;
  const first = Math.min((page - 1) * size + 1, count);
  const last = Math.min(page * size, count);
  const link = (target, label, enabled) => enabled
    ? h('a', { class: 'btn', href: href(target) }, label)
    : h('span', { class: 'btn', 'aria-disabled': 'true' }, label);
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    h('span', {}, `${first}–${last} of ${count}`),
    link(page - 1, 'Previous', page > 1),
    link(page + 1, 'Next', last < count));
}

/** A message that waits for the next page render (e.g. "Webhook added" after a redirect). */
let pendingFlash = [];
export function flash(content, kind = 'ok') {
  pendingFlash.push([content, kind]);
}
export function takeFlash() {
  const nodes = pendingFlash.map(([content, kind]) => notice(content, kind));
  pendingFlash = [];
  return nodes;
}

/** A notice; errors are alerts so screen readers announce them at once. */
export function notice(content, kind = 'ok') {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, content);
}

/** A modal yes/no question (native <dialog>: focus trapped, Escape cancels). */
export function confirmDialog({ title, message, confirm, danger = false }) {
  return new Promise((resolve) => {
    const titleId = uid('dialog-title');
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId },
      h('h2', { id: titleId }, title),
      h('p', {}, message),
      h('form', { method: 'dialog', class: 'toolbar end' },
        h('button', { class: 'btn', value: 'cancel', autofocus: true }, 'Cancel'),
        h('button', { class: danger ? 'btn btn-danger' : 'btn btn-primary', value: 'confirm' }, confirm)));
    // Leaving the page (Back, a link) answers "no": the question was about that page.
    const leave = () => dialog.close('cancel');
    dialog.addEventListener('close', () => {
      window.removeEventListener('hashchange', leave);
      window.removeEventListener('popstate', leave);
      resolve(dialog.returnValue === 'confirm');
      dialog.remove();
    });
    window.addEventListener('hashchange', leave);
    window.addEventListener('popstate', leave);
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Redraws `region` with new children, keeping the keyboard focus on the same control. */
export function redraw(region, ...children) {
  const key = document.activeElement?.closest?.('[data-key]')?.dataset.key;
  const inside = region.contains(document.activeElement);
  region.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  if (key && inside) region.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}

// ---- Forms and the API's field errors -------------------------------------------------

/**
 * A slot for the messages of one field. Controls point at it with aria-describedby and
 * carry data-field, so showErrors can mark and focus them.
 */
export function errorSlot(field, id) {
  return h('p', { class: 'field-error', id, 'data-error-for': field, hidden: true });
}

export function clearErrors(form) {
  for (const slot of form.querySelectorAll('[data-error-for]')) {
    slot.hidden = true;
    slot.textContent = '';
  }
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
  const alert = form.querySelector('.form-alert');
  if (alert) {
    alert.hidden = true;
    alert.replaceChildren();
  }
}

function clearField(form, field) {
  const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
  if (slot) {
    slot.hidden = true;
    slot.textContent = '';
  }
  for (const control of form.querySelectorAll(`[data-field="${CSS.escape(field)}"]`)) control.removeAttribute('aria-invalid');
}

/** Messages of one field: a list, or (as for `actions`) a map from list index to a list. */
function messagesOf(value, nameItem) {
  if (Array.isArray(value)) return value.map(String);
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, inner]) =>
      messagesOf(inner).map((m) => `${nameItem ? nameItem(key) : key}: ${m}`));
  }
  return [String(value)];
}

/**
 * Shows an ApiError in a form: each field's messages in its slot, the rest (and errors
 * without fields) in the form's alert box; focuses the first thing in error.
 * `nameItem[field](key)` names the items of nested errors (list index → action name).
 */
export function showErrors(form, error, nameItem = {}) {
  clearErrors(form);
  const unplaced = [];
  let focusTarget = null;
  for (const [field, value] of Object.entries(error.fields || {})) {
    const messages = messagesOf(value, nameItem[field]);
    const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
    if (!slot) {
      unplaced.push(`${field}: ${messages.join(' ')}`);
      continue;
    }
    slot.replaceChildren(...messages.flatMap((m, i) => (i ? [h('br'), m] : [m])));
    slot.hidden = false;
    const controls = form.querySelectorAll(`[data-field="${CSS.escape(field)}"]`);
    for (const control of controls) {
      control.setAttribute('aria-invalid', 'true');
      // Once the user changes the field, the old message no longer applies.
      control.addEventListener('input', () => clearField(form, field), { once: true });
    }
    focusTarget ??= controls[0] || slot;
  }
  const alert = form.querySelector('.form-alert');
  if (unplaced.length || !Object.keys(error.fields || {}).length) {
    const summary = Object.keys(error.fields || {}).length ? 'Please check the form.' : error.message;
    alert.replaceChildren(h('p', {}, summary), unplaced.length && h('ul', {}, unplaced.map((m) => h('li', {}, m))));
    alert.hidden = false;
    focusTarget ??= alert;
  }
  if (focusTarget && !focusTarget.matches('input, select, textarea, button')) focusTarget.tabIndex = -1;
  focusTarget?.focus();
}

/** The alert box at the top of a form, for errors that belong to no field. */
export function formAlert() {
  return h('div', { class: 'form-alert notice notice-error', role: 'alert', hidden: true });
}

/**
 * Runs `work` for a button once at a time, so a double click sends one request. The button
 * stays enabled (a disabled button would drop the keyboard focus) but ignores clicks.
 */
export async function busy(button, work) {
  if (button.getAttribute('aria-busy') === 'true') return undefined;
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.removeAttribute('aria-busy');
  }
}

/** Handles `form`'s submission with `work`, once at a time (`busy` on `button`), the
 * errors of its last submission cleared first. */
export function onSubmit(form, button, work) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(button, async () => {
      clearErrors(form);
      await work();
    });
  });
}
