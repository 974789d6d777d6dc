// The labeling page: Label Studio's editor (window.LabelStudio, from /editor/<version>/main.js)
// on one task, saving through the REST API as Label Studio's own front end does.
//
//   /projects/{id}/data?labeling=1   the label stream: GET /api/projects/{id}/next/, label,
//                                    submit or skip, then the next task, until none is left
//   /projects/{id}/data?task={id}    one task: its annotations, add, update, delete
//   /projects/{id}/data?review=1     the review stream (reviewers): the next annotation
//                                    waiting for review (GET /api/projects/{id}/next-review/),
//                                    accept, reject with a comment, or fix it and accept
//                                    (POST /api/annotation-reviews/), then the next
//
// The request bodies are Label Studio's: `result` (the editor's serialized regions),
// `lead_time` (seconds spent on the annotation, added up over saves) and
// `parent_prediction` when the annotation started as a copy of a prediction; a skip is the
// same body with `was_cancelled: true`.

import { api, token, ApiError, whenUnauthorized, csrfToken, probeSession, session, signedIn, roleAtLeast } from './api.js';

const statusLine = document.getElementById('lh-status');
const main = document.getElementById('lh-main');
const projectLink = document.getElementById('lh-project');
const taskLabel = document.getElementById('lh-task');
const origin = document.getElementById('lh-origin');
const instructionsBox = document.getElementById('lh-instructions');

const preview = /^\/projects\/new\/preview\/?$/.test(location.pathname);
const pathMatch = location.pathname.match(/^\/projects\/(\d+)\/data\/?$/);
const projectId = pathMatch ? Number(pathMatch[1]) : null;
const query = new URLSearchParams(location.search);
const taskParam = query.get('task');
const reviewing = taskParam === null && query.get('review') !== null;
const stream = taskParam === null && !reviewing;

// What Label Studio's data manager gives its editor, in both modes; the stream adds the
// skip button (when the project shows it), a single task adds the annotation tabs.
const BASE_INTERFACES = [
  'basic', 'controls', 'submit', 'update', 'predictions', 'topbar', 'predictions:menu',
  'annotations:menu', 'annotations:current', 'side-column', 'edit-history', 'infobar',
];
// Reviewing: the annotation in the editor, editable (a fix), without the editor's own
// Submit/Update: the review bar's buttons save instead.
const REVIEW_INTERFACES = [
  'basic', 'topbar', 'annotations:menu', 'annotations:current', 'side-column', 'edit-history', 'infobar',
];
const TASK_INTERFACES = [
  'annotations:add-new', 'annotations:view-all', 'annotations:delete', 'annotations:tabs',
  'predictions:tabs',
];

const PREDICTION_ERROR_HEADER = 'Labelhook-Prediction-Error';

let me = null;
let project = null;
let editor = null;
/** The editor's root store, once it exists (`onStorageInitialized`). */
let rootStore = null;
let task = null;
/** Server ids (as strings) of the annotations that exist on the server. */
let saved = new Set();
/** Per editor annotation: the seconds already recorded and when the clock restarted. */
let clocks = new Map();
/** Per editor annotation made from a prediction: that prediction's id. */
let fromPrediction = new Map();
/** The server's lead_time per annotation id, for annotations loaded with the task. */
let serverLeadTime = new Map();

function say(text, kind = '') {
  statusLine.textContent = text;
  statusLine.className = `lh-status${kind ? ` lh-${kind}` : ''}`;
}

function message(title, ...lines) {
  const box = document.createElement('div');
  box.className = 'lh-message';
  const heading = document.createElement('h1');
  heading.textContent = title;
  box.append(heading);
  for (const line of lines) {
    const p = document.createElement('p');
    p.append(...[].concat(line));
    box.append(p);
  }
  main.replaceChildren(box);
  heading.tabIndex = -1;
  heading.focus();
}

function link(href, text) {
  const a = document.createElement('a');
  a.href = href;
  a.textContent = text;
  return a;
}

/**
 * The token form of the other pages, for someone who opened a labeling link first (people
 * with a password sign in at /user/login, which brings them back here).
 */
function signIn(problem) {
  return new Promise((resolve) => {
    const form = document.createElement('form');
    form.className = 'lh-sign-in';
    form.noValidate = true;
    form.innerHTML = `<h1>Sign in to label</h1>
      <label for="lh-token">API token</label>
      <input id="lh-token" type="password" autocomplete="off" spellcheck="false" required aria-describedby="lh-token-hint lh-token-error">
      <p class="lh-hint" id="lh-token-hint">Your user's token. It is kept only in this browser tab.</p>
      <p class="lh-field-error" id="lh-token-error" role="alert"></p>
      <button type="submit">Sign in</button>
      <p class="lh-hint">Or <a id="lh-password">sign in with your email and password</a>.</p>`;
    form.querySelector('#lh-password').href = `/user/login?next=${encodeURIComponent(location.pathname + location.search)}`;
    const field = form.querySelector('input');
    const error = form.querySelector('.lh-field-error');
    error.textContent = problem || '';
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const key = field.value.trim();
      if (!key) {
        error.textContent = 'Enter your API token.';
        return;
      }
      token.set(key);
      session.clear();
      try {
        me = await api('/api/current-user/whoami');
      } catch (failure) {
        token.clear();
        error.textContent = failure.status === 401 ? 'This token was not accepted.' : failure.message;
        return;
      }
      resolve();
    });
    main.replaceChildren(form);
    field.focus();
  });
}

/** How this tab authenticates: the token, or the session cookie (with its CSRF secret). */
function credentials(method = 'GET') {
  const key = token.get();
  if (key) return { Authorization: `Token ${key}` };
  return method === 'GET' ? {} : { 'X-CSRFToken': csrfToken() };
}

/**
 * A task from `path` as `{task, predictionError}`, or `{task: null}` when the answer is
 * 404 (the stream's "no more tasks"). The server names in a header why the project's ML
 * backend gave no predictions, if it was asked and failed.
 */
async function fetchTask(path) {
  let response;
  try {
    response = await fetch(path, { headers: { Accept: 'application/json', ...credentials() } });
  } catch {
    throw new ApiError(0, null);
  }
  const body = await response.json().catch(() => null);
  if (response.status === 404) return { task: null, detail: body && body.detail };
  if (response.status === 401) {
    token.clear();
    session.clear();
    throw new ApiError(401, body);
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return { task: body, predictionError: response.headers.get(PREDICTION_ERROR_HEADER) };
}

// Annotations and predictions as Label Studio's data manager hands them to the editor.
function annotationForEditor(annotation) {
  return {
    ...annotation,
    id: undefined,
    pk: String(annotation.id),
    createdAgo: annotation.created_ago,
    createdBy: annotation.created_username,
    createdDate: annotation.created_at,
    leadTime: annotation.lead_time ?? 0,
    skipped: annotation.was_cancelled,
  };
}

function predictionForEditor(prediction) {
  return {
    ...prediction,
    id: undefined,
    pk: String(prediction.id),
    createdAgo: prediction.created_ago,
    createdBy: (prediction.model_version || '').trim(),
    createdDate: prediction.created_at,
  };
}

/** Seconds spent on `annotation`: what earlier saves recorded plus this sitting. */
function leadTime(annotation) {
  const clock = clocks.get(annotation.id) || {
    base: serverLeadTime.get(annotation.pk) ?? 0,
    since: openedAt,
  };
  return clock.base + (performance.now() - clock.since) / 1000;
}

function restartClock(annotation, recorded) {
  clocks.set(annotation.id, { base: recorded, since: performance.now() });
}

let openedAt = performance.now();

function body(annotation) {
  const data = { result: annotation.serializeAnnotation() ?? [], lead_time: leadTime(annotation) };
  const prediction = fromPrediction.get(annotation.id);
  if (prediction !== undefined) data.parent_prediction = prediction;
  return data;
}

function isSaved(annotation) {
  return annotation.pk !== undefined && annotation.pk !== null && saved.has(String(annotation.pk));
}

/** Runs a save; shows what went wrong instead of losing it silently. */
async function attempt(what, action) {
  say(`${what}…`);
  try {
    await action();
  } catch (error) {
    say(`${what} failed: ${error.message}`, 'error');
    console.error(error);
  }
}

async function submitted(annotation) {
  await attempt('Submitting', async () => {
    const data = body(annotation);
    const created = await api(`/api/tasks/${task.id}/annotations/`, { method: 'POST', body: data });
    saved.add(String(created.id));
    // The editor keeps a new annotation's own key; without the server's, the next click
    // on its button would submit a second annotation instead of updating this one.
    annotation.updatePersonalKey(String(created.id));
    restartClock(annotation, data.lead_time);
    say(`Annotation #${created.id} submitted.`, 'ok');
    if (stream) await next();
  });
}

async function updated(annotation) {
  await attempt('Updating', async () => {
    const data = body(annotation);
    const changed = await api(`/api/annotations/${annotation.pk}/`, { method: 'PATCH', body: data });
    restartClock(annotation, data.lead_time);
    say(`Annotation #${changed.id} updated.`, 'ok');
    if (stream) await next();
  });
}

async function skipped(store) {
  await attempt('Skipping', async () => {
    const annotation = store.annotationStore.selected;
    const data = { ...body(annotation), was_cancelled: true };
    const answer = isSaved(annotation)
      ? await api(`/api/annotations/${annotation.pk}/`, { method: 'PATCH', body: data })
      : await api(`/api/tasks/${task.id}/annotations/`, { method: 'POST', body: data });
    saved.add(String(answer.id));
    say(`Task #${task.id} skipped.`, 'ok');
    if (stream) await next();
  });
}

async function deleted(annotation) {
  if (!isSaved(annotation)) return; // never sent: nothing to delete on the server
  await attempt('Deleting', async () => {
    const pk = annotation.pk;
    await api(`/api/annotations/${pk}/`, { method: 'DELETE' });
    // As Label Studio does, the task is loaded again: the editor is left without a
    // selected annotation otherwise, and the user gets a fresh one to label.
    const { task: fresh } = await fetchTask(`/api/tasks/${task.id}/`);
    if (fresh) open(fresh);
    say(`Annotation #${pk} deleted.`, 'ok');
  });
}

/**
 * Selects what the user labels once the editor's store exists (not before: on load, a
 * task with predictions would show the prediction, read-only, without Submit or Skip).
 * An annotation of the task is opened as it is; otherwise a new one, pre-filled from the
 * first prediction when the project uses predictions to pre-label.
 */
function storageReady(instance) {
  rootStore = instance;
  const store = instance.annotationStore;
  const existing = task.annotations || [];
  // In the stream only the user's own annotation opens (a task a review sent back to them);
  // reviewing, the annotation under review.
  const ours = stream ? existing.filter((a) => a.completed_by === me.id && !a.was_cancelled) : existing;
  if (ours.length) {
    const latest = String(Math.max(...ours.map((a) => a.id)));
    const found = store.annotations.find((a) => String(a.pk) === latest) || store.annotations[0];
    if (found) store.selectAnnotation(found.id);
  } else {
    const prediction = project.show_collab_predictions ? store.predictions[0] : undefined;
    const annotation = prediction
      ? store.addAnnotationFromPrediction(prediction)
      : store.addAnnotation({ userGenerate: true });
    if (prediction) {
      fromPrediction.set(annotation.id, Number(prediction.pk));
      const source = (task.predictions || []).find((p) => String(p.id) === String(prediction.pk));
      if (source) {
        const score = typeof source.score === 'number' ? `, score ${Number(source.score.toFixed(3))}` : '';
        origin.textContent = `Pre-annotated by ${source.model_version || 'a model'}${score}`;
      }
    }
    store.selectAnnotation(annotation.id);
  }
  document.body.dataset.task = String(task.id);
  document.body.dataset.ready = 'true';
}

function interfaces() {
  if (reviewing) return [...REVIEW_INTERFACES];
  const list = [...BASE_INTERFACES];
  if (stream) {
    if (project.show_skip_button) list.push('skip');
    if (project.show_annotation_history) list.push('annotations:tabs', 'annotations:view-all');
  } else {
    list.push(...TASK_INTERFACES);
  }
  if (instructions()) list.push('instruction');
  return list;
}

function instructions() {
  return (project.expert_instruction || '').trim();
}

function open(next, above = null) {
  unmountEditor();
  task = next;
  rootStore = null;
  saved = new Set((task.annotations || []).map((a) => String(a.id)));
  serverLeadTime = new Map((task.annotations || []).map((a) => [String(a.id), a.lead_time ?? 0]));
  clocks = new Map();
  fromPrediction = new Map();
  openedAt = performance.now();
  document.body.dataset.ready = 'false';
  taskLabel.textContent = `Task #${task.id}`;
  origin.textContent = '';
  document.title = `Task #${task.id} · ${project.title} · labelhook`;
  if (!stream) history.replaceState(null, '', `/projects/${projectId}/data?task=${task.id}`);
  const root = document.createElement('div');
  root.id = 'label-studio';
  main.replaceChildren(...(above ? [above] : []), root);
  editor = new window.LabelStudio(root, {
    config: project.label_config,
    interfaces: interfaces(),
    user: { pk: me.id, firstName: me.first_name || me.email, lastName: me.last_name || '' },
    task: {
      id: task.id,
      data: task.data,
      annotations: (task.annotations || []).map(annotationForEditor),
      predictions: (task.predictions || []).map(predictionForEditor),
    },
    description: instructions(),
    // Each callback gets the editor's root store first.
    onStorageInitialized: storageReady,
    onSubmitAnnotation: (_, annotation) => submitted(annotation),
    onUpdateAnnotation: (_, annotation) => updated(annotation),
    onSkipTask: (store) => skipped(store),
    onDeleteAnnotation: (_, annotation) => deleted(annotation),
  });
}

/** Takes the editor off the page, if one is on it. */
function unmountEditor() {
  if (editor) {
    try {
      editor.destroy();
    } catch (error) {
      console.warn('the editor did not unmount cleanly', error);
    }
    editor = null;
  }
}

/** The end of a stream: no editor, no task; a page saying `why` and `what`, and the way
 * back to the project. */
function endStream(title, why, what) {
  unmountEditor();
  task = null;
  taskLabel.textContent = '';
  origin.textContent = '';
  message(title, `${why}.`, [what, link(`/projects/${projectId}/data`, 'Back to the project\'s tasks')]);
  document.body.dataset.ready = 'done';
}

/**
 * The stream: the next task for this user (the server locks it for us), or the end.
 * In the stream Label Studio shows only the user's own work; with "show annotation
 * history" the task's other annotations come along.
 */
async function next() {
  const { task: found, predictionError, detail } = await fetchTask(`/api/projects/${projectId}/next/`);
  if (!found) {
    say('');
    endStream('No more tasks', detail || 'There is nothing left for you to label in this project',
      'Every task is labeled, skipped by you, or being labeled by someone else right now. ');
    return;
  }
  if (project.show_annotation_history) {
    found.annotations = await api(`/api/tasks/${found.id}/annotations/`);
  }
  open(found);
  reportPrediction(predictionError);
  if (found.rejection) {
    const why = (found.rejection.comment || '').trim();
    say(`A reviewer rejected your annotation${why ? ` (“${why}”)` : ''}: change it and press Update.`, 'error');
  }
}

/**
 * The review stream: the next annotation waiting for this reviewer, in the editor, with the
 * review bar (a comment; Accept, Reject, Fix and accept), until nothing waits.
 */
async function nextReview() {
  const { task: found, detail } = await fetchTask(`/api/projects/${projectId}/next-review/`);
  if (!found) {
    endStream('Nothing to review', detail || 'No annotation in this project waits for your review',
      'Annotations show here once annotators submit them (not your own). ');
    return;
  }
  const annotation = found.annotations.find((a) => a.id === found.annotation) || found.annotations[0];
  open(found, reviewBar(annotation));
  origin.textContent = `Annotation #${annotation.id} by ${(annotation.created_username || '').split(',')[0].trim() || 'an annotator'}`;
}

/** The reviewer's choices for `annotation`: each saves one review and opens the next. */
function reviewBar(annotation) {
  const bar = document.createElement('form');
  bar.className = 'lh-review';
  bar.setAttribute('aria-label', 'Review');
  bar.innerHTML = `<label for="lh-review-comment">Comment</label>
    <textarea id="lh-review-comment" rows="2" placeholder="Why (shown to the annotator when you reject)"></textarea>
    <div class="lh-review-actions">
      <button type="button" data-review="accept">Accept</button>
      <button type="button" data-review="reject">Reject</button>
      <button type="button" data-review="fix" title="Saves the result as you changed it in the editor, keeps the annotator's as history, and accepts">Fix and accept</button>
    </div>`;
  const comment = bar.querySelector('textarea');
  bar.addEventListener('submit', (event) => event.preventDefault());
  for (const button of bar.querySelectorAll('button')) {
    button.addEventListener('click', async () => {
      const choice = button.dataset.review;
      const body = { annotation: annotation.id, accepted: choice !== 'reject' };
      const text = comment.value.trim();
      if (text) body.comment = text;
      if (choice === 'fix') {
        const selected = rootStore ? rootStore.annotationStore.selected : null;
        if (selected) body.result = selected.serializeAnnotation() ?? [];
      }
      for (const other of bar.querySelectorAll('button')) other.disabled = true;
      const what = { accept: 'Accepting', reject: 'Rejecting', fix: 'Saving the fix' }[choice];
      await attempt(what, async () => {
        try {
          await api('/api/annotation-reviews/', { method: 'POST', body });
        } finally {
          for (const other of bar.querySelectorAll('button')) other.disabled = false;
        }
        const done = { accept: 'accepted', reject: 'rejected', fix: 'fixed and accepted' }[choice];
        await nextReview();
        say(`Annotation #${annotation.id} ${done}.`, 'ok');
      });
    });
  }
  return bar;
}

function reportPrediction(problem) {
  if (problem) say(`The ML backend gave no pre-annotations: ${problem}`, 'error');
}

async function one() {
  const { task: found, predictionError } = await fetchTask(`/api/tasks/${encodeURIComponent(taskParam)}/`);
  if (!found || found.project !== projectId) {
    message('No such task', `Task ${taskParam} is not in this project.`,
      [link(`/projects/${projectId}/data`, 'Back to the project\'s tasks')]);
    return;
  }
  open(found);
  reportPrediction(predictionError);
}

/** Leaving the stream gives the task back at once instead of when its lock expires. */
function releaseOnLeave() {
  addEventListener('pagehide', () => {
    if (!stream || !task) return;
    fetch(`/api/tasks/${task.id}/lock`, {
      method: 'DELETE',
      keepalive: true,
      headers: credentials('DELETE'),
    }).catch(() => {});
  });
}

async function start() {
  if (projectId === null) {
    message('Not a labeling address', 'Labeling pages are /projects/<id>/data?labeling=1, ?task=<id> or ?review=1.');
    return;
  }
  projectLink.href = `/projects/${projectId}/data`;
  whenUnauthorized(() => token.clear());
  if (!window.LabelStudio) {
    message('The editor did not load', 'The labeling editor\'s script could not be loaded; reload the page.');
    return;
  }
  // Signed in by token (this tab) or by email and password (the session cookie).
  if (!signedIn()) await probeSession();
  for (;;) {
    if (!signedIn()) await signIn();
    try {
      me = me || await api('/api/current-user/whoami');
      project = await api(`/api/projects/${projectId}/`);
      break;
    } catch (error) {
      if (error.status === 401) {
        token.clear();
        session.clear();
        me = null;
        await signIn('This token was not accepted; sign in again.');
        continue;
      }
      message(error.status === 404 ? 'No such project' : 'The project could not be loaded', error.message);
      return;
    }
  }
  projectLink.textContent = project.title || `Project ${projectId}`;
  // What the role cannot do is not offered: the review page is for reviewers and above.
  const role = me.organization_membership?.role || 'OW';
  if (reviewing && !roleAtLeast(role, 'RE')) {
    message('Not allowed', `The review page is for reviewers; you are signed in as ${me.email || 'a member'}.`,
      [link(`/projects/${projectId}/data`, 'Back to the project\'s tasks')]);
    document.title = 'Not allowed · labelhook';
    return;
  }
  if (instructions()) {
    instructionsBox.hidden = false;
    instructionsBox.open = Boolean(project.show_instruction);
    document.getElementById('lh-instructions-text').textContent = instructions();
  }
  releaseOnLeave();
  try {
    say('Loading…');
    if (reviewing) await nextReview();
    else if (stream) await next();
    else await one();
    if (statusLine.textContent === 'Loading…') say('');
  } catch (error) {
    message('The task could not be loaded', error.message);
  }
}

/**
 * Sample data for a label config: each `$name` it reads gets a value fit for the tag that
 * reads it (an image for Image, HTML for HyperText, text otherwise).
 */
function sampleData(config) {
  const xml = new DOMParser().parseFromString(config, 'text/xml');
  const data = {};
  const picture = 'data:image/svg+xml,' + encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="260"><rect width="400" height="260" fill="#e8eef6"/>' +
    '<circle cx="140" cy="130" r="60" fill="#c96"/><rect x="230" y="70" width="110" height="120" fill="#69c"/></svg>');
  for (const element of xml.getElementsByTagName('*')) {
    const value = element.getAttribute('value') || '';
    if (!value.startsWith('$')) continue;
    const name = value.slice(1);
    const tag = element.tagName.toLowerCase();
    if (tag === 'image') data[name] = picture;
    else if (tag === 'hypertext') data[name] = '<p>A <b>sample</b> page to label.</p>';
    else if (tag.startsWith('audio') || tag === 'video') data[name] = '';
    else data[name] = 'A sample text to label: the quick brown fox jumps over the lazy dog.';
  }
  return data;
}

/**
 * Preview mode (`/projects/new/preview`, framed by the project form): the page that frames
 * it posts `{type: 'labelhook:preview', config, data?}`; the editor shows the config on the
 * data (or sample data). Nothing is saved, no sign-in is needed.
 */
function startPreview() {
  document.querySelector('.lh-bar').hidden = true;
  message('Preview', 'The labeling interface shows here.');
  addEventListener('message', (event) => {
    if (event.origin !== location.origin || !event.data || event.data.type !== 'labelhook:preview') return;
    const { config, data } = event.data;
    unmountEditor();
    document.body.dataset.ready = 'false';
    const root = document.createElement('div');
    root.id = 'label-studio';
    main.replaceChildren(root);
    try {
      editor = new window.LabelStudio(root, {
        config,
        interfaces: ['basic', 'controls', 'side-column', 'edit-history'],
        user: { pk: 1, firstName: 'Preview', lastName: '' },
        task: { id: 1, data: data || sampleData(config), annotations: [], predictions: [] },
        onStorageInitialized: (store) => {
          const annotation = store.annotationStore.addAnnotation({ userGenerate: true });
          store.annotationStore.selectAnnotation(annotation.id);
          document.body.dataset.ready = 'true';
        },
      });
    } catch (error) {
      message('The labeling interface cannot be shown', String(error.message || error));
    }
  });
  if (parent !== window) parent.postMessage({ type: 'labelhook:preview-ready' }, location.origin);
}

if (preview) startPreview();
else start();
