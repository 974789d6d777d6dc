// A project's Export page: download the labels now in any format that fits the project,
// and the project's snapshots (built in the background, kept on the server).

import { api, download } from './api.js';
import { h, time, pageHeader, projectTabs, notice, confirmDialog, formAlert, showErrors, busy, onSubmit, redraw, uid } from './dom.js';

const SNAPSHOT_LOOK = {
  created: ['Waiting', 'wait'],
  in_progress: ['Building…', 'wait'],
  completed: ['Ready', 'ok'],
  failed: ['Failed', 'bad'],
};

function snapshotBadge(status) {
  const [label, look] = SNAPSHOT_LOOK[status] || [status, 'off'];
  return h('span', { class: `badge badge-${look}` }, label);
}

/** "12.3 kB" */
function size(bytes) {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB'];
  let value = bytes;
  let unit = -1;
  do {
    value /= 1000;
    unit += 1;
  } while (value >= 1000 && unit < units.length - 1);
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Hands a downloaded file to the browser as a download named `filename`. */
function save({ blob, filename }) {
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: filename.split('/').pop(), hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has started the download; the object URL can go a moment later.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export async function exportPage(ctx, projectId) {
  const [project, formats] = await Promise.all([
    api(`/api/projects/${projectId}/`),
    api(`/api/projects/${projectId}/export/formats`),
  ]);
  const name = project.title || `Project ${project.id}`;
  const available = formats.filter((f) => !f.disabled);
  const unavailable = formats.filter((f) => f.disabled);

  // ---- Download now -------------------------------------------------------------------
  const formatRadio = (format, checked) => {
    const id = uid('format');
    const hintId = `${id}-hint`;
    return h('div', { class: 'choice format-choice' },
      h('input', {
        type: 'radio', name: 'format', id, value: format.name, checked,
        disabled: Boolean(format.disabled), 'aria-describedby': hintId, 'data-field': 'exportType',
      }),
      h('label', { for: id },
        h('span', { class: 'strong' }, format.title),
        h('span', { class: 'hint', id: hintId },
          format.disabled ? format.disabled_reason : format.description)));
  };
  const taskRadio = (value, label, hint, checked) => {
    const id = uid('tasks');
    return h('div', { class: 'choice' },
      h('input', { type: 'radio', name: 'tasks', id, value, checked, 'aria-describedby': `${id}-hint` }),
      h('label', { for: id }, label, h('span', { class: 'hint', id: `${id}-hint` }, hint)));
  };
  const result = h('div', { class: 'download-result', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Download');
  const form = h('form', { class: 'card form export-form', novalidate: true, 'aria-labelledby': 'download-title' },
    h('h2', { id: 'download-title' }, 'Download now'),
    formAlert(),
    h('fieldset', { class: 'field' },
      h('legend', {}, 'Format'),
      h('div', { class: 'format-list' }, available.map((format, i) => formatRadio(format, i === 0))),
      unavailable.length > 0 && h('details', { class: 'unavailable' },
        h('summary', {}, `Not available for this project (${unavailable.length})`),
        h('div', { class: 'format-list' }, unavailable.map((format) => formatRadio(format, false)))),
      h('p', { class: 'field-error', 'data-error-for': 'exportType', hidden: true })),
    h('fieldset', { class: 'field' },
      h('legend', {}, 'Tasks'),
      taskRadio('annotated', 'Annotated tasks only', 'Tasks with at least one annotation; skipped ones count.', true),
      taskRadio('all', 'All tasks', 'Tasks without annotations too.', false)),
    h('div', { class: 'toolbar' }, submit, result));
  onSubmit(form, submit, async () => {
    result.replaceChildren();
    const data = new FormData(form);
    const format = data.get('format');
    const query = { exportType: format };
    if (data.get('tasks') === 'all') query.download_all_tasks = 'true';
    submit.textContent = 'Preparing…';
    try {
      const file = await download(`/api/projects/${projectId}/export`, { query });
      save(file);
      result.replaceChildren(h('span', { class: 'muted', role: 'status' },
        'Downloaded ', h('code', { class: 'wrap' }, file.filename), ` (${size(file.blob.size)}).`));
    } catch (error) {
      if (error.status !== 401) showErrors(form, error);
    } finally {
      submit.textContent = 'Download';
    }
  });

  // ---- Snapshots ------------------------------------------------------------------------
  const notes = new Map();
  const pageNotes = h('div', { class: 'page-notes' });
  const region = h('div', { class: 'snapshot-region' });

  async function refresh() {
    const snapshots = await api(`/api/projects/${projectId}/exports/`);
    if (!ctx.active()) return;
    redraw(region, snapshots.length
      ? h('div', { class: 'table-card' },
        h('table', { class: 'table stack snapshots' },
          h('caption', { class: 'visually-hidden' }, 'Snapshots'),
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col' }, 'Snapshot'), h('th', { scope: 'col' }, 'Created'),
            h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col', class: 'num' }, 'Tasks'),
            h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
          h('tbody', {}, snapshots.map(row))))
      : h('p', { class: 'muted empty-line' }, 'No snapshots yet.'));
    if (snapshots.some((s) => s.status === 'created' || s.status === 'in_progress')) ctx.later(refresh);
  }

  function row(snapshot) {
    const id = snapshot.id;
    const titleId = `snapshot-${id}-title`;
    const note = notes.get(id);
    const ready = snapshot.status === 'completed';
    const select = h('select', {
      'aria-label': `Format of ${snapshot.title}`, 'data-key': `${id}:format`, disabled: !ready,
    }, available.map((f) => h('option', { value: f.name }, f.title)));
    const get = h('button', {
      type: 'button', class: 'btn', 'data-key': `${id}:download`, 'aria-describedby': titleId,
      'aria-disabled': ready ? null : 'true',
      onclick: (e) => busy(e.currentTarget, async () => {
        const format = select.value;
        try {
          const file = await download(`/api/projects/${projectId}/exports/${id}/download`,
            { query: format === 'JSON' ? {} : { exportType: format } });
          save(file);
          notes.set(id, [`Downloaded ${file.filename.split('/').pop()} (${size(file.blob.size)}).`, 'ok']);
        } catch (error) {
          if (error.status === 401) return;
          notes.set(id, [error.message, 'error']);
        }
        await refresh();
      }),
    }, 'Download');
    const remove = h('button', {
      type: 'button', class: 'btn btn-danger', 'data-key': `${id}:delete`, 'aria-describedby': titleId,
      onclick: (e) => busy(e.currentTarget, async () => {
        const sure = await confirmDialog({
          title: 'Delete this snapshot?',
          message: `“${snapshot.title}” and its converted files will be deleted from the server.`,
          confirm: 'Delete snapshot',
          danger: true,
        });
        if (!sure) return;
        try {
          await api(`/api/projects/${projectId}/exports/${id}`, { method: 'DELETE' });
          notes.delete(id);
          pageNotes.replaceChildren(notice(`Snapshot “${snapshot.title}” deleted.`));
        } catch (error) {
          if (error.status === 401) return;
          notes.set(id, [error.message, 'error']);
        }
        await refresh();
      }),
    }, 'Delete');
    const formats = (snapshot.converted_formats || []).filter((c) => c.status === 'completed').map((c) => c.export_type);
    return h('tr', { 'data-snapshot': id },
      h('td', { 'data-label': 'Snapshot' },
        h('span', { id: titleId, class: 'strong' }, snapshot.title),
        formats.length > 0 && h('span', { class: 'cell-note' }, `Converted: ${formats.join(', ')}`),
        note && h('span', { class: note[1] === 'error' ? 'cell-note error-text' : 'cell-note', role: note[1] === 'error' ? 'alert' : 'status' }, note[0])),
      h('td', { 'data-label': 'Created' }, time(snapshot.created_at, { short: true })),
      h('td', { 'data-label': 'Status' }, snapshotBadge(snapshot.status)),
      h('td', { 'data-label': 'Tasks', class: 'num' }, snapshot.counters?.task_number ?? '—'),
      h('td', { class: 'row-actions' }, select, get, remove));
  }

  const create = h('button', {
    type: 'button', class: 'btn', 'data-key': 'create',
    onclick: (e) => busy(e.currentTarget, async () => {
      try {
        const snapshot = await api(`/api/projects/${projectId}/exports/`, { method: 'POST', body: {} });
        pageNotes.replaceChildren(notice(`Snapshot “${snapshot.title}” is being built; it is ready when its status says so.`));
      } catch (error) {
        if (error.status === 401) return;
        pageNotes.replaceChildren(notice(error.message, 'error'));
      }
      await refresh();
    }),
  }, 'Create snapshot');

  ctx.show(`Export · ${name}`,
    pageHeader({
      trail: [['Projects', '/projects'], [name, `/projects/${projectId}/data`], 'Export'],
      title: 'Export',
      lead: `The labels of “${name}” in Label Studio's formats. Large projects stream: the download starts at once.`,
    }),
    projectTabs(projectId, 'export'),
    form,
    h('section', { class: 'card', 'aria-labelledby': 'snapshots-title' },
      h('div', { class: 'section-head' },
        h('h2', { id: 'snapshots-title' }, 'Snapshots'),
        create),
      h('p', { class: 'hint' }, 'A snapshot freezes every task as it is now; it is built on the server and kept there until deleted. Download it in any format above.'),
      pageNotes,
      region));
  await refresh();
}
