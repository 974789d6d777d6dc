// The projects list (with each project's progress) and the form that creates a project
// from a template.

import { api } from './api.js';
import { h, pageHeader, pager, flash, errorSlot, formAlert, showErrors, onSubmit, navigate } from './dom.js';

const PROJECT_PAGE_SIZE = 20;

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Finished tasks of all tasks, as a bar with the numbers beside it. */
export function progress(finished, total) {
  const fill = h('span');
  // Set through the CSSOM: the content security policy refuses style attributes.
  fill.style.width = `${total ? Math.round((finished / total) * 100) : 0}%`;
  return h('div', { class: 'progress' },
    h('div', {
      class: 'progress-bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': total || 0,
      'aria-valuenow': finished, 'aria-label': 'Finished tasks',
    }, fill),
    h('span', { class: 'progress-text' }, `${finished} / ${total}`));
}

// ---- List -------------------------------------------------------------------------------

export async function projectsPage(ctx) {
  const page = Math.max(1, Number(ctx.query.get('page')) || 1);
  const projects = await api('/api/projects/', { query: { page, page_size: PROJECT_PAGE_SIZE } });
  const rows = projects.results.map((project) => {
    const name = project.title || `Project ${project.id}`;
    const tasks = project.task_number ?? 0;
    return h('tr', {},
      h('td', { 'data-label': 'Project' },
        h('a', { href: `/projects/${project.id}/data`, class: 'strong' }, name),
        project.description && h('span', { class: 'cell-note' }, project.description)),
      h('td', { 'data-label': 'ID', class: 'num' }, project.id),
      h('td', { 'data-label': 'Tasks', class: 'num' }, tasks),
      h('td', { 'data-label': 'Finished' }, progress(project.finished_task_number ?? 0, tasks)),
      h('td', { 'data-label': 'Annotations', class: 'num' }, project.total_annotations_number ?? 0),
      h('td', { 'data-label': 'Skipped', class: 'num' }, project.skipped_annotations_number ?? 0),
      h('td', { class: 'row-actions' },
        h('a', { class: 'btn', href: `/projects/${project.id}/settings`, 'aria-label': `Settings of ${name}` }, 'Settings'),
        h('a', { class: 'btn', href: `/projects/${project.id}/export`, 'aria-label': `Export ${name}` }, 'Export')));
  });
  ctx.show('Projects',
    pageHeader({
      title: 'Projects',
      lead: 'Open a project to import tasks and label them; its settings hold the instructions, overlap and webhooks.',
      actions: h('a', { class: 'btn btn-primary', href: '/projects/new' }, 'Create project'),
    }),
    projects.count === 0
      ? h('div', { class: 'card empty' },
        h('p', {}, 'No projects yet.'),
        h('p', {}, h('a', { class: 'btn btn-primary', href: '/projects/new' }, 'Create your first project')))
      : h('div', { class: 'card table-card' },
        h('table', { class: 'table stack projects' },
          h('caption', { class: 'visually-hidden' }, 'Projects'),
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col' }, 'Project'), h('th', { scope: 'col', class: 'num' }, 'ID'),
            h('th', { scope: 'col', class: 'num' }, 'Tasks'), h('th', { scope: 'col' }, 'Finished'),
            h('th', { scope: 'col', class: 'num' }, 'Annotations'), h('th', { scope: 'col', class: 'num' }, 'Skipped'),
            h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
          h('tbody', {}, rows))),
    pager({ page, size: PROJECT_PAGE_SIZE, count: projects.count, href: (p) => `/projects?page=${p}` }));
}

// ---- Create -----------------------------------------------------------------------------

/** Label configurations to start from, with a sample task for each. */
export const TEMPLATES = [
  {
    id: 'text-classification',
    name: 'Text classification',
    about: 'Choose one class for each text (sentiment, topic, intent).',
    config: `<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single" showInline="true">
    <Choice value="Positive"/>
    <Choice value="Negative"/>
    <Choice value="Neutral"/>
  </Choices>
</View>`,
    sample: { text: 'The battery lasts two days and the screen is sharp.' },
  },
  {
    id: 'named-entities',
    name: 'Named entities',
    about: 'Mark spans of text as people, organizations and places.',
    config: `<View>
  <Labels name="label" toName="text">
    <Label value="Person" background="#e8684a"/>
    <Label value="Organization" background="#f2a33a"/>
    <Label value="Location" background="#3a8fd9"/>
    <Label value="Misc" background="#6bb26b"/>
  </Labels>
  <Text name="text" value="$text"/>
</View>`,
    sample: { text: 'Ada Lovelace worked with Charles Babbage in London.' },
  },
  {
    id: 'image-bounding-boxes',
    name: 'Image bounding boxes',
    about: 'Draw boxes around objects in images and name them.',
    config: `<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image">
    <Label value="Car" background="#3a8fd9"/>
    <Label value="Person" background="#e8684a"/>
  </RectangleLabels>
</View>`,
    // A drawn street: the preview needs no image from elsewhere.
    sample: { image: `data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" width="640" height="360"><rect width="640" height="360" fill="#dfe8f1"/><rect y="250" width="640" height="110" fill="#9aa5b1"/><rect x="120" y="190" width="220" height="80" rx="18" fill="#3a6fb0"/><circle cx="170" cy="272" r="22" fill="#222"/><circle cx="295" cy="272" r="22" fill="#222"/><rect x="470" y="130" width="34" height="120" rx="14" fill="#b0563a"/><circle cx="487" cy="110" r="20" fill="#e0b08a"/></svg>')}` },
  },
  {
    id: 'audio-transcription',
    name: 'Audio transcription',
    about: 'Listen to a recording and write down what is said.',
    config: `<View>
  <Audio name="audio" value="$audio"/>
  <TextArea name="transcription" toName="audio" rows="4" editable="true" maxSubmissions="1"/>
</View>`,
    sample: { audio: silence() },
  },
];

/** One second of silence as a WAV data URL: the audio template's sample task. */
function silence() {
  const rate = 8000;
  const bytes = new Uint8Array(44 + rate);
  const view = new DataView(bytes.buffer);
  const text = (at, value) => [...value].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
  text(0, 'RIFF'); view.setUint32(4, 36 + rate, true); text(8, 'WAVE');
  text(12, 'fmt '); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, rate, true); view.setUint32(28, rate, true); view.setUint16(32, 1, true); view.setUint16(34, 8, true);
  text(36, 'data'); view.setUint32(40, rate, true);
  bytes.fill(128, 44); // 8-bit samples: 128 is silence
  return `data:audio/wav;base64,${btoa(String.fromCharCode(...bytes))}`;
}

/**
 * The live preview: the labeling page's preview mode (`/projects/new/preview`, Label
 * Studio's editor on a sample task) in a frame, sent the config as it changes. A frame,
 * because the editor's styles reset the whole page they run in.
 */
function livePreview(config, sampleOf) {
  const frame = h('iframe', { class: 'preview-frame', title: 'Preview of the labeling interface', src: '/projects/new/preview' });
  let timer = null;
  const send = () => frame.contentWindow?.postMessage({ type: 'labelhook:preview', config: config.value, data: sampleOf() }, location.origin);
  window.addEventListener('message', (event) => {
    if (event.origin === location.origin && event.source === frame.contentWindow && event.data?.type === 'labelhook:preview-ready') send();
  });
  // Redrawn a moment after the last keystroke, not on every one.
  config.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(send, 300);
  });
  return h('div', { class: 'field preview' },
    h('span', { class: 'field-label', id: 'p-preview-label' }, 'Preview'),
    frame,
    h('p', { class: 'hint' }, 'Label Studio\'s editor with a sample task, as annotators will see it. Your tasks come from the import.'));
}

export async function createProjectPage(ctx) {
  const title = h('input', { id: 'p-title', name: 'title', type: 'text', required: true, 'data-field': 'title', 'aria-describedby': 'p-title-error', maxlength: 50 });
  const description = h('textarea', { id: 'p-description', name: 'description', rows: 2, 'data-field': 'description', 'aria-describedby': 'p-description-error' });
  const config = h('textarea', {
    id: 'p-config', name: 'label_config', rows: 12, spellcheck: 'false', class: 'code-input',
    'data-field': 'label_config', 'aria-describedby': 'p-config-hint p-config-error',
  });
  let sample = TEMPLATES[0].sample;
  function choose(template) {
    sample = template.sample;
    config.value = template.config;
    config.dispatchEvent(new Event('input'));
  }

  const templateChoices = TEMPLATES.map((template, i) => {
    const id = `p-template-${template.id}`;
    const radio = h('input', {
      type: 'radio', name: 'template', id, value: template.id, checked: i === 0,
      onchange: () => choose(template),
    });
    return h('div', { class: 'template-choice choice' }, radio,
      h('label', { for: id }, h('span', { class: 'strong' }, template.name), h('span', { class: 'hint' }, template.about)));
  });

  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create project');
  const form = h('form', { class: 'card form', novalidate: true },
    formAlert(),
    h('div', { class: 'field' },
      h('label', { for: 'p-title' }, 'Title'), title, errorSlot('title', 'p-title-error')),
    h('div', { class: 'field' },
      h('label', { for: 'p-description' }, 'Description'), description, errorSlot('description', 'p-description-error')),
    h('fieldset', { class: 'field' },
      h('legend', {}, 'Template'),
      h('div', { class: 'templates' }, templateChoices)),
    h('div', { class: 'config-and-preview' },
      h('div', { class: 'field' },
        h('label', { for: 'p-config' }, 'Labeling interface'),
        config,
        h('p', { class: 'hint', id: 'p-config-hint' }, 'Label Studio\'s XML label config: object tags (Text, Image, Audio…) take the task\'s data by $name; control tags (Choices, Labels, RectangleLabels, TextArea…) produce the results.'),
        errorSlot('label_config', 'p-config-error')),
      livePreview(config, () => sample)),
    h('div', { class: 'toolbar' }, submit, h('a', { class: 'btn btn-quiet', href: '/projects' }, 'Cancel')));

  onSubmit(form, submit, async () => {
    if (!title.value.trim()) {
      showErrors(form, { fields: { title: ['Give the project a title.'] } });
      return;
    }
    try {
      const project = await api('/api/projects/', {
        method: 'POST',
        body: { title: title.value.trim(), description: description.value, label_config: config.value },
      });
      flash(`Project “${project.title}” created. Import tasks to label.`);
      navigate(`/projects/${project.id}/data`);
    } catch (error) {
      if (error.status === 401) return;
      showErrors(form, error);
    }
  });

  config.value = TEMPLATES[0].config;
  ctx.show('Create project',
    h('div', { class: 'form-page wide' },
      pageHeader({ trail: [['Projects', '/projects'], 'Create project'], title: 'Create project' }),
      form));
  title.focus();
}
