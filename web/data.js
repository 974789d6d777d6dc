// A project's task table (`/projects/3/data`): filter, sort, page, select and delete tasks or
// their annotations, import files, and open a task or the label stream on the labeling page.

import { api, upload, roleAtLeast } from './api.js';
import { h, pageHeader, projectTabs, pager, notice, flash, confirmDialog, busy, redraw, navigate } from './dom.js';

const PAGE_SIZE = 100;

/** The filters of the table, as Label Studio's data manager filter items. */
const FILTERS = [
  ['all', 'All', []],
  ['unlabeled', 'Not labeled', [{ filter: 'filter:tasks:completed_at', operator: 'empty', value: true, type: 'Datetime' }]],
  ['labeled', 'Labeled', [{ filter: 'filter:tasks:completed_at', operator: 'empty', value: false, type: 'Datetime' }]],
  ['skipped', 'Skipped', [{ filter: 'filter:tasks:cancelled_annotations', operator: 'greater', value: 0, type: 'Number' }]],
];

/** Sortable columns: the address's `sort` value → Label Studio's ordering field. */
const SORTABLE = {
  id: 'tasks:id',
  annotations: 'tasks:total_annotations',
  skips: 'tasks:cancelled_annotations',
  predictions: 'tasks:total_predictions',
  completed: 'tasks:completed_at',
};

const IMPORT_TYPES = '.json,.jsonl,.csv,.tsv,.txt';

/** The task table's selection, kept across its pages (see dataPage). */
let kept = { key: null };

/** The first values of a task's data, as one line of text (URLs and all). */
function dataPreview(data) {
  const parts = [];
  for (const [key, value] of Object.entries(data || {})) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    parts.push([key, text.length > 140 ? `${text.slice(0, 140)}…` : text]);
    if (parts.length === 2) break;
  }
  return h('span', { class: 'data-items' },
    parts.map(([key, text]) => h('span', { class: 'data-item' }, h('span', { class: 'data-key' }, key), ' ', text)));
}

/** Kilobytes or megabytes, for the upload's progress. */
const size = (bytes) => (bytes < 1024 * 1024 ? `${Math.ceil(bytes / 1024)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`);

export async function dataPage(ctx, projectId) {
  const state = {
    filter: FILTERS.some(([key]) => key === ctx.query.get('filter')) ? ctx.query.get('filter') : 'all',
    sort: ctx.query.get('sort') || 'id',
    page: Math.max(1, Number(ctx.query.get('page')) || 1),
  };
  if (!SORTABLE[state.sort.replace(/^-/, '')]) state.sort = 'id';
  const [project, me, users] = await Promise.all([
    api(`/api/projects/${projectId}/`),
    api('/api/current-user/whoami'),
    // The organization's people, to name the annotators (a role that may not list them
    // sees ids, and its own name).
    api('/api/users/').then((list) => (Array.isArray(list) ? list : list.results || [])).catch((error) => {
      if (error.status === 401) throw error;
      return [];
    }),
  ]);
  const name = project.title || `Project ${project.id}`;
  const nameOf = (user) => user.email || user.username || [user.first_name, user.last_name].filter(Boolean).join(' ') || `User ${user.id}`;
  const userName = new Map([...users, me].map((user) => [user.id, nameOf(user)]));
  // The selection: ids picked one by one, or every task the filter shows (`everything`)
  // except those unticked since, as Label Studio's data manager sends it. It stays while
  // the user pages and sorts, and goes with another project or filter.
  const key = `${projectId}:${state.filter}`;
  if (kept.key !== key) kept = { key, selected: new Set(), excluded: new Set(), everything: false };
  const { selected, excluded } = kept;
  let total = 0;
  const isSelected = (id) => (kept.everything ? !excluded.has(id) : selected.has(id));
  const selectedCount = () => (kept.everything ? total - excluded.size : selected.size);
  const filterItems = () => FILTERS.find(([key]) => key === state.filter)[2];
  function pick(id, on) {
    const set = kept.everything ? excluded : selected;
    if (on === kept.everything) set.delete(id);
    else set.add(id);
  }
  function clearSelection() {
    kept.everything = false;
    selected.clear();
    excluded.clear();
  }
  const pageNotes = h('div', { class: 'page-notes' });
  let lastNote = null; // [content, kind]: kept when the table moves to another page
  const note = (content, kind = 'ok') => {
    lastNote = [content, kind];
    pageNotes.replaceChildren(notice(content, kind));
  };
  const region = h('div', { class: 'task-region' });
  let shown = []; // the tasks on screen

  const href = (changes) => {
    const query = new URLSearchParams();
    const next = { ...state, ...changes };
    if (next.filter !== 'all') query.set('filter', next.filter);
    if (next.sort !== 'id') query.set('sort', next.sort);
    if (next.page > 1) query.set('page', next.page);
    const text = query.toString();
    return `/projects/${projectId}/data${text ? `?${text}` : ''}`;
  };

  // ---- Filter, selection actions ----
  const filterBar = h('div', { class: 'segmented', role: 'group', 'aria-label': 'Show' },
    FILTERS.map(([key, label]) => h('a', {
      href: href({ filter: key, page: 1 }), class: 'segment', 'aria-current': key === state.filter ? 'true' : false,
    }, label)));
  const selectionNote = h('span', { class: 'selection-note', 'aria-live': 'polite' });
  const deleteTasks = h('button', { type: 'button', class: 'btn btn-danger', onclick: (e) => act(e.currentTarget, 'delete_tasks') }, 'Delete tasks');
  const deleteAnnotations = h('button', { type: 'button', class: 'btn', onclick: (e) => act(e.currentTarget, 'delete_tasks_annotations') }, 'Delete annotations');
  const selectEverything = h('button', {
    type: 'button', class: 'btn btn-quiet',
    onclick: () => {
      kept.everything = true;
      excluded.clear();
      showSelection();
    },
  });
  const clear = h('button', {
    type: 'button', class: 'btn btn-quiet',
    onclick: () => {
      clearSelection();
      for (const box of region.querySelectorAll('tbody input[type=checkbox]')) box.checked = false;
      showSelection();
    },
  }, 'Clear selection');
  const selectionBar = h('div', { class: 'toolbar selection-bar', hidden: true }, selectionNote, selectEverything, clear, deleteTasks, deleteAnnotations);

  function showSelection() {
    const count = selectedCount();
    selectionBar.hidden = count === 0;
    selectionNote.textContent = kept.everything && !excluded.size ? `All ${count} tasks selected` : `${count} selected`;
    const onPage = shown.filter((t) => isSelected(t.id)).length;
    // Offered once the whole page is ticked and there is more than the page.
    selectEverything.hidden = kept.everything || onPage !== shown.length || total <= shown.length;
    selectEverything.textContent = `Select all ${total} tasks`;
    const all = region.querySelector('#select-page');
    if (all) {
      all.checked = shown.length > 0 && onPage === shown.length;
      all.indeterminate = onPage > 0 && onPage < shown.length;
    }
  }

  async function act(button, action) {
    const count = selectedCount();
    const tasks = `${count} task${count === 1 ? '' : 's'}`;
    const question = action === 'delete_tasks'
      ? { title: `Delete ${tasks}?`, message: `The ${tasks} and their annotations and predictions are deleted for good; webhooks receive TASKS_DELETED.`, confirm: 'Delete tasks' }
      : { title: `Delete the annotations of ${tasks}?`, message: `Every annotation of the ${tasks} is deleted for good (the tasks stay); webhooks receive ANNOTATIONS_DELETED.`, confirm: 'Delete annotations' };
    if (!(await confirmDialog({ ...question, danger: true }))) return;
    await busy(button, async () => {
      try {
        const result = await api('/api/dm/actions', {
          method: 'POST',
          query: { id: action, project: projectId },
          body: kept.everything
            ? { selectedItems: { all: true, excluded: [...excluded] }, filters: { conjunction: 'and', items: filterItems() } }
            : { selectedItems: { all: false, included: [...selected] } },
        });
        clearSelection();
        note(`${result.detail}.`);
      } catch (error) {
        if (error.status === 401) return;
        note(error.message, 'error');
      }
      await refresh();
    });
  }

  // ---- Import ----
  const importPanel = importForm(projectId, async (result) => {
    note(`Imported ${result.task_count} task${result.task_count === 1 ? '' : 's'}${result.found_formats.length ? ` from ${result.found_formats.join(', ')}` : ''}.`);
    state.page = 1;
    await refresh();
  });
  const importButton = h('button', {
    type: 'button', class: 'btn', 'aria-expanded': 'false', 'aria-controls': 'import-panel',
    onclick: () => {
      importPanel.hidden = !importPanel.hidden;
      importButton.setAttribute('aria-expanded', String(!importPanel.hidden));
      if (!importPanel.hidden) importPanel.querySelector('input[type=file]').focus();
    },
  }, 'Import');

  // ---- Table ----
  function sortHeader(key, label, numeric = true) {
    const field = SORTABLE[key];
    const current = state.sort.replace(/^-/, '') === key;
    const descending = current && state.sort.startsWith('-');
    const next = current && !descending ? `-${key}` : key;
    return h('th', {
      scope: 'col', class: numeric ? 'num' : false,
      'aria-sort': current ? (descending ? 'descending' : 'ascending') : false,
      'data-field': field,
    }, h('a', { href: href({ sort: next, page: 1 }), class: 'sort', 'data-key': `sort:${key}` },
      label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, current ? (descending ? ' ↓' : ' ↑') : '')));
  }

  const openTask = (id) => `/projects/${projectId}/data?task=${id}`;

  function row(task) {
    const box = h('input', {
      type: 'checkbox', checked: isSelected(task.id), 'aria-label': `Select task ${task.id}`, 'data-key': `select:${task.id}`,
      onchange: (e) => {
        pick(task.id, e.currentTarget.checked);
        showSelection();
      },
    });
    const annotators = task.annotators.map((id) => userName.get(id) || `User ${id}`);
    return h('tr', {
      'data-task': task.id,
      // A click anywhere on the row opens the task, as in Label Studio; the checkbox and
      // links keep their own meaning.
      onclick: (e) => {
        if (e.target.closest('a, input, button, label')) return;
        location.assign(openTask(task.id));
      },
    },
      h('td', { class: 'select' }, box),
      h('td', { 'data-label': 'ID', class: 'num' }, h('a', { href: openTask(task.id), 'aria-label': `Open task ${task.id}` }, task.id)),
      h('td', { 'data-label': 'Data', class: 'data-cell' }, dataPreview(task.data)),
      h('td', { 'data-label': 'Annotations', class: 'num' }, task.total_annotations),
      h('td', { 'data-label': 'Skipped', class: 'num' }, task.cancelled_annotations),
      h('td', { 'data-label': 'Predictions', class: 'num' }, task.total_predictions),
      h('td', { 'data-label': 'Completed' }, task.is_labeled ? h('span', { class: 'badge badge-ok' }, 'Done') : h('span', { class: 'muted' }, '—')),
      h('td', { 'data-label': 'Annotators' }, annotators.length ? annotators.join(', ') : h('span', { class: 'muted' }, '—')));
  }

  async function refresh() {
    const ordering = [(state.sort.startsWith('-') ? '-' : '') + SORTABLE[state.sort.replace(/^-/, '')]];
    const query = JSON.stringify({ filters: { conjunction: 'and', items: filterItems() }, ordering });
    const found = await api('/api/tasks/', { query: { project: projectId, page: state.page, page_size: PAGE_SIZE, query } });
    if (!ctx.active()) return;
    total = found.total;
    if (!found.tasks.length && state.page > 1 && total > 0) {
      // Past the last page (its tasks were deleted): show the last page there is.
      if (lastNote) flash(...lastNote);
      navigate(href({ page: Math.ceil(total / PAGE_SIZE) }), { replace: true });
      return;
    }
    shown = found.tasks;
    const empty = total === 0;
    redraw(region,
      empty
        ? h('div', { class: 'card empty' },
          h('p', {}, state.filter === 'all' ? 'No tasks yet.' : 'No tasks match this filter.'),
          state.filter === 'all' && h('p', {}, 'Import a JSON, CSV, TSV or TXT file to add tasks.'))
        : h('div', { class: 'card table-card' },
          h('table', { class: 'table stack tasks' },
            h('caption', { class: 'visually-hidden' }, `Tasks of ${name}`),
            h('thead', {}, h('tr', {},
              h('th', { scope: 'col', class: 'select' }, h('input', {
                type: 'checkbox', id: 'select-page', 'aria-label': 'Select all tasks on this page', 'data-key': 'select-page',
                onchange: (e) => {
                  for (const task of shown) pick(task.id, e.currentTarget.checked);
                  for (const box of region.querySelectorAll('tbody input[type=checkbox]')) box.checked = e.currentTarget.checked;
                  showSelection();
                },
              })),
              sortHeader('id', 'ID'),
              h('th', { scope: 'col' }, 'Data'),
              sortHeader('annotations', 'Annotations'),
              sortHeader('skips', 'Skipped'),
              sortHeader('predictions', 'Predictions'),
              sortHeader('completed', 'Completed', false),
              h('th', { scope: 'col' }, 'Annotators'))),
            h('tbody', {}, shown.map(row)))),
      pager({ page: state.page, size: PAGE_SIZE, count: total, href: (p) => href({ page: p }) }));
    counts.textContent = `${total} task${total === 1 ? '' : 's'}${state.filter === 'all' ? '' : ` ${FILTERS.find(([k]) => k === state.filter)[1].toLowerCase()}`} · ${found.total_annotations} annotations · ${found.total_predictions} predictions`;
    showSelection();
  }

  const counts = h('p', { class: 'hint counts' });
  ctx.show(`Data · ${name}`,
    pageHeader({
      trail: [['Projects', '/projects'], name],
      title: name,
      lead: project.description || null,
      actions: [
        importButton,
        // The review stream is for reviewers and above: not offered to annotators.
        roleAtLeast(me.organization_membership?.role || 'OW', 'RE') &&
          h('a', { class: 'btn', href: `/projects/${projectId}/data?review=1` }, 'Review Annotations'),
        h('a', { class: 'btn btn-primary', href: `/projects/${projectId}/data?labeling=1` }, 'Label All Tasks'),
      ],
    }),
    projectTabs(projectId, 'data'),
    importPanel,
    pageNotes,
    h('div', { class: 'table-tools' }, filterBar, counts),
    selectionBar,
    region);
  await refresh();
}

/**
 * The import panel: choose files, upload them with a progress bar, see what was imported
 * or what is wrong with which file. `onImported(result)` runs after a successful import.
 */
function importForm(projectId, onImported) {
  const input = h('input', {
    type: 'file', id: 'import-files', name: 'file', multiple: true, accept: IMPORT_TYPES,
    'aria-describedby': 'import-hint',
  });
  const bar = h('progress', { id: 'import-progress', max: 100, value: 0, 'aria-label': 'Upload progress' });
  const status = h('p', { class: 'import-status', role: 'status' });
  const progressLine = h('div', { class: 'import-progress', hidden: true }, bar, status);
  const errors = h('div', { class: 'import-errors' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Upload');
  const form = h('form', { class: 'card form import-panel', id: 'import-panel', hidden: true, 'aria-labelledby': 'import-title', novalidate: true },
    h('h2', { id: 'import-title' }, 'Import tasks'),
    h('div', { class: 'field' },
      h('label', { for: 'import-files' }, 'Files'),
      input,
      h('p', { class: 'hint', id: 'import-hint' },
        'JSON (a list of tasks, or one task), JSON lines, CSV or TSV with a header row (one column per data key), or TXT (one task per line, as "text"). Several files at once are one import: all or nothing.')),
    progressLine,
    errors,
    h('div', { class: 'toolbar' }, submit));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(submit, async () => {
      errors.replaceChildren();
      const files = [...input.files];
      if (!files.length) {
        errors.replaceChildren(notice('Choose one or more files first.', 'error'));
        input.focus();
        return;
      }
      const wrong = files.filter((f) => !IMPORT_TYPES.split(',').some((ext) => f.name.toLowerCase().endsWith(ext)));
      if (wrong.length) {
        errors.replaceChildren(notice(`${wrong.map((f) => f.name).join(', ')}: not a JSON, CSV, TSV or TXT file.`, 'error'));
        input.focus();
        return;
      }
      const total = files.reduce((sum, f) => sum + f.size, 0);
      progressLine.hidden = false;
      bar.value = 0;
      status.textContent = `Uploading ${files.length === 1 ? files[0].name : `${files.length} files`} (${size(total)})…`;
      let result;
      try {
        result = await upload(`/api/projects/${projectId}/import`, files, (sent, all) => {
          bar.value = Math.round((sent / all) * 100);
          status.textContent = sent < all ? `Uploading… ${size(sent)} of ${size(all)}` : 'Uploaded; creating tasks…';
        });
      } catch (error) {
        progressLine.hidden = true;
        if (error.status === 401) return;
        const details = Object.entries(error.fields).flatMap(([field, messages]) => (Array.isArray(messages) ? messages : [messages]).map((m) => (field === 'file' ? String(m) : `${field}: ${m}`)));
        errors.replaceChildren(notice([
          h('p', {}, error.status === 413 ? 'The files are too large for one import.'
            : details.length ? 'Nothing was imported:' : `Nothing was imported. ${error.message}`),
          details.length && h('ul', {}, details.map((m) => h('li', {}, m))),
        ], 'error'));
        errors.querySelector('.notice').tabIndex = -1;
        errors.querySelector('.notice').focus();
        return;
      }
      bar.value = 100;
      progressLine.hidden = true;
      input.value = '';
      form.hidden = true;
      document.querySelector('[aria-controls="import-panel"]')?.setAttribute('aria-expanded', 'false');
      await onImported(result);
    });
  });
  return form;
}
