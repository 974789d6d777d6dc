// A project's settings (`/projects/3/settings`): title and description, the instructions
// annotators see, overlap, the skip button, the annotation history, whether review is
// required before a task counts as finished, the labeling interface,
// and its ML backends. Its webhooks are the next section (webhooks.js).

import { api } from './api.js';
import { h, pageHeader, projectTabs, notice, confirmDialog, errorSlot, formAlert, showErrors, busy, onSubmit, redraw } from './dom.js';

function field(id, label, control, hint) {
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    control,
    hint && h('p', { class: 'hint', id: `${id}-hint` }, hint),
    errorSlot(control.dataset.field, `${id}-error`));
}

function check(id, label, control, hint) {
  return h('div', { class: 'field' },
    h('div', { class: 'choice' }, control, h('label', { for: id }, label)),
    hint && h('p', { class: 'hint', id: `${id}-hint` }, hint),
    errorSlot(control.dataset.field, `${id}-error`));
}

export async function settingsPage(ctx, projectId) {
  const project = await api(`/api/projects/${projectId}/`);
  const name = project.title || `Project ${project.id}`;
  const described = (id) => `${id}-hint ${id}-error`;

  const title = h('input', { type: 'text', id: 's-title', value: project.title, 'data-field': 'title', 'aria-describedby': described('s-title'), maxlength: 50 });
  const description = h('textarea', { id: 's-description', rows: 2, 'data-field': 'description', 'aria-describedby': described('s-description') });
  description.value = project.description || '';
  const instructions = h('textarea', { id: 's-instructions', rows: 5, 'data-field': 'expert_instruction', 'aria-describedby': described('s-instructions') });
  instructions.value = project.expert_instruction || '';
  const showInstructions = h('input', { type: 'checkbox', id: 's-show-instruction', checked: project.show_instruction, 'data-field': 'show_instruction' });
  const overlap = h('input', {
    type: 'number', id: 's-overlap', min: 1, step: 1, value: project.maximum_annotations, inputmode: 'numeric',
    'data-field': 'maximum_annotations', 'aria-describedby': described('s-overlap'),
  });
  const skip = h('input', { type: 'checkbox', id: 's-skip', checked: project.show_skip_button, 'data-field': 'show_skip_button', 'aria-describedby': described('s-skip') });
  const reviewRequired = h('input', { type: 'checkbox', id: 's-review', checked: project.review_required, 'data-field': 'review_required', 'aria-describedby': described('s-review') });
  const history = h('input', { type: 'checkbox', id: 's-history', checked: project.show_annotation_history, 'data-field': 'show_annotation_history', 'aria-describedby': described('s-history') });
  const config = h('textarea', { id: 's-config', rows: 10, spellcheck: 'false', class: 'code-input', 'data-field': 'label_config', 'aria-describedby': described('s-config') });
  config.value = project.label_config || '';

  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save');
  const saved = h('div', { class: 'page-notes', 'aria-live': 'polite' });
  const form = h('form', { class: 'card form', novalidate: true, 'aria-labelledby': 'general-title' },
    h('h2', { id: 'general-title' }, 'General'),
    formAlert(),
    field('s-title', 'Title', title),
    field('s-description', 'Description', description),
    h('h2', {}, 'Labeling'),
    field('s-instructions', 'Instructions', instructions, 'Shown to annotators on the labeling page. Plain text or simple HTML.'),
    check('s-show-instruction', 'Show the instructions before labeling', showInstructions),
    field('s-overlap', 'Annotations per task (overlap)', overlap, 'A task is finished when this many annotators have submitted it; the label stream gives each task to that many people.'),
    check('s-skip', 'Annotators may skip tasks', skip, 'Shows the Skip button; a skipped task counts as a cancelled annotation.'),
    check('s-history', 'Show the annotation history', history, 'Annotators see who changed an annotation and when.'),
    h('h2', {}, 'Review'),
    check('s-review', 'Review required before a task counts as finished', reviewRequired, 'A task is finished only when reviewers have accepted as many of its annotations as its overlap. Without it, submitted annotations count unless a reviewer rejects them; a rejected task goes back to its annotator either way.'),
    field('s-config', 'Labeling interface', config, 'Label Studio\'s XML label config. Changing it is refused while existing annotations use labels it would remove.'),
    saved,
    h('div', { class: 'toolbar' }, submit));

  onSubmit(form, submit, async () => {
    saved.replaceChildren();
    const copies = Number(overlap.value);
    if (!Number.isInteger(copies) || copies < 1) {
      showErrors(form, { fields: { maximum_annotations: ['A whole number, 1 or more.'] } });
      return;
    }
    const body = {
      title: title.value.trim(),
      description: description.value,
      expert_instruction: instructions.value,
      show_instruction: showInstructions.checked,
      maximum_annotations: copies,
      show_skip_button: skip.checked,
      show_annotation_history: history.checked,
      review_required: reviewRequired.checked,
    };
    if (config.value !== project.label_config) body.label_config = config.value;
    try {
      const updated = await api(`/api/projects/${projectId}/`, { method: 'PATCH', body });
      project.label_config = updated.label_config;
      saved.replaceChildren(notice('Settings saved.'));
    } catch (error) {
      if (error.status === 401) return;
      showErrors(form, error);
    }
  });

  ctx.show(`Settings · ${name}`,
    pageHeader({ trail: [['Projects', '/projects'], [name, `/projects/${projectId}/data`], 'Settings'], title: 'Settings' }),
    projectTabs(projectId, 'settings', 'general'),
    h('div', { class: 'form-page' },
      form,
      await mlBackends(ctx, projectId)));
}

/** The project's ML backends: listed, added by URL, removed. */
async function mlBackends(ctx, projectId) {
  const region = h('div', { class: 'ml-list' });
  const notes = h('div', { class: 'page-notes' });

  async function refresh() {
    const backends = await api('/api/ml/', { query: { project: projectId } });
    if (!ctx.active()) return;
    redraw(region, backends.length
      ? h('ul', { class: 'plain-list' }, backends.map((backend) => h('li', { class: 'ml-item' },
        h('div', {},
          h('span', { class: 'strong' }, backend.title || 'ML backend'), ' ',
          h('code', { class: 'url' }, backend.url),
          backend.model_version && h('span', { class: 'cell-note' }, `Model version ${backend.model_version}`)),
        h('button', {
          type: 'button', class: 'btn btn-danger', 'data-key': `ml-remove:${backend.id}`,
          'aria-label': `Remove ML backend ${backend.title || backend.url}`,
          onclick: async (e) => {
            const button = e.currentTarget;
            if (!(await confirmDialog({ title: 'Remove this ML backend?', message: `${backend.url} no longer predicts for this project.`, confirm: 'Remove', danger: true }))) return;
            await busy(button, async () => {
              try {
                await api(`/api/ml/${backend.id}/`, { method: 'DELETE' });
                notes.replaceChildren(notice('ML backend removed.'));
              } catch (error) {
                if (error.status === 401) return;
                notes.replaceChildren(notice(error.message, 'error'));
              }
              await refresh();
            });
          },
        }, 'Remove'))))
      : h('p', { class: 'muted' }, 'No ML backend: tasks open without pre-annotations unless imported with predictions.'));
  }

  const url = h('input', { type: 'url', id: 'ml-url', placeholder: 'http://model:9090', 'data-field': 'url', 'aria-describedby': 'ml-url-error' });
  const mlTitle = h('input', { type: 'text', id: 'ml-title', 'data-field': 'title', 'aria-describedby': 'ml-title-error' });
  const add = h('button', { type: 'submit', class: 'btn' }, 'Add ML backend');
  const form = h('form', { class: 'ml-form', novalidate: true },
    formAlert(),
    h('div', { class: 'ml-fields' },
      h('div', { class: 'field' }, h('label', { for: 'ml-url' }, 'URL'), url, errorSlot('url', 'ml-url-error')),
      h('div', { class: 'field' }, h('label', { for: 'ml-title' }, 'Name'), mlTitle, errorSlot('title', 'ml-title-error'))),
    h('div', { class: 'toolbar' }, add));
  onSubmit(form, add, async () => {
    if (!url.value.trim()) {
      showErrors(form, { fields: { url: ['Enter the model server\'s address.'] } });
      return;
    }
    try {
      await api('/api/ml/', { method: 'POST', body: { project: projectId, url: url.value.trim(), title: mlTitle.value.trim() || undefined } });
      url.value = '';
      mlTitle.value = '';
      notes.replaceChildren(notice('ML backend added: it predicts for tasks that open without predictions.'));
    } catch (error) {
      if (error.status === 401) return;
      showErrors(form, error);
      return;
    }
    await refresh();
  });

  await refresh();
  return h('section', { class: 'card', 'aria-labelledby': 'ml-title-heading' },
    h('h2', { id: 'ml-title-heading' }, 'ML backend'),
    h('p', { class: 'hint' }, 'A Label Studio ML backend: labelhook asks it (POST <url>/predict) for pre-annotations and sends it the project\'s events at <url>/webhook.'),
    notes,
    region,
    form);
}
