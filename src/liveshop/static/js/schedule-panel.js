// The studio's upcoming shows: announce one (title, time, cover picture, planned products), list
// them with the shoppers' countdown page and "Add to calendar", move or delete one, and "Start now"
// (the studio goes live with that same show). POST /api/livestreams/scheduled,
// GET /api/livestreams/upcoming, PUT …/thumbnail (cover), PUT …/schedule (move), POST …/go-live,
// DELETE /api/livestreams/{id}.
import { confirmDialog, h, setText } from './dom.js';
import { calendarHref, formatWhen, watchHref } from './upcoming-view.js';

/** `date` as a datetime-local value (the browser's zone, to the minute). */
function localValue(date) {
  const d = new Date(date.getTime());
  d.setSeconds(0, 0);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

/** One hour from now (the form's default). */
function inAnHour() {
  return localValue(new Date(Date.now() + 3600_000));
}

export function createSchedulePanel(section, { api, goLive }) {
  const list = h('ul', { class: 'schedule-list', 'aria-label': 'Upcoming shows' });
  const error = h('p', { class: 'error', role: 'alert' });
  const status = h('p', { class: 'muted', role: 'status' });
  const title = h('input', { id: 'schedule-title-input', maxlength: 200, required: true, placeholder: 'Friday night sale' });
  const when = h('input', { id: 'schedule-when', type: 'datetime-local', required: true });
  const description = h('textarea', { id: 'schedule-description', maxlength: 5000, rows: 2, placeholder: 'Optional' });
  const cover = h('input', { id: 'schedule-cover', type: 'file', accept: 'image/jpeg,image/png,image/webp' });
  const picker = h('fieldset', { class: 'planned-picker' }, h('legend', { text: 'Planned products' }));
  const submit = h('button', { type: 'submit', text: 'Schedule show' });
  const label = (id, text) => h('label', { for: id, text });
  const form = h(
    'form',
    { class: 'schedule-form', 'aria-labelledby': 'schedule-add-title' },
    h('h3', { id: 'schedule-add-title', text: 'Announce a show' }),
    label('schedule-title-input', 'Name of the show'),
    title,
    label('schedule-when', 'Starts at'),
    when,
    label('schedule-description', 'About the show'),
    description,
    label('schedule-cover', 'Cover picture'),
    cover,
    picker,
    submit,
  );
  section.append(h('h3', { text: 'Upcoming shows' }), list, status, error, h('details', { class: 'schedule-add' }, h('summary', { text: 'Schedule a show' }), form));

  function render(shows) {
    setText(status, shows.length ? '' : 'No show is scheduled.');
    list.replaceChildren(
      ...shows.map((show) =>
        h(
          'li',
          { class: 'scheduled-show', dataset: { showId: String(show.id) } },
          h('span', { class: 'schedule-title', text: show.title }),
          h('time', { datetime: show.scheduledAt, text: formatWhen(show.scheduledAt) }),
          h('a', { href: watchHref(show), target: '_blank', rel: 'noopener', text: 'Shoppers’ page' }),
          h('a', { href: calendarHref(show), download: '', text: '.ics' }),
          h('button', { type: 'button', class: 'primary', text: 'Start now', 'aria-label': `Start ${show.title} now`, onclick: () => goLive(show) }),
          h('button', { type: 'button', class: 'danger-quiet', text: 'Delete', 'aria-label': `Delete ${show.title}`, onclick: () => remove(show) }),
          moveControl(show),
        ),
      ),
    );
  }

  /** A time field and "Move" for an upcoming show (PUT /api/livestreams/{id}/schedule). */
  function moveControl(show) {
    const field = h('input', { type: 'datetime-local', 'aria-label': `New time for ${show.title}`, value: localValue(new Date(show.scheduledAt)) });
    const move = async () => {
      const at = new Date(field.value);
      if (Number.isNaN(at.getTime())) return;
      try {
        await api.put(`/api/livestreams/${show.id}/schedule`, { scheduledAt: at.toISOString() });
        await load(); // re-renders the list (and clears the status line): say it after
        setText(status, `“${show.title}” is moved.`);
      } catch (err) {
        setText(error, `Could not move it: ${err.message}`);
      }
    };
    return h('span', { class: 'schedule-move' }, field, h('button', { type: 'button', text: 'Move', 'aria-label': `Move ${show.title}`, onclick: move }));
  }

  async function load() {
    setText(error, '');
    try {
      const { livestreams } = await api.get('/api/livestreams/upcoming?limit=50');
      render(livestreams);
    } catch (err) {
      setText(error, `Upcoming shows could not be loaded: ${err.message}`);
    }
  }

  async function loadProducts() {
    try {
      const { products } = await api.products('', 100);
      picker.replaceChildren(
        h('legend', { text: 'Planned products' }),
        ...products.map((p) => h('label', { class: 'check' }, h('input', { type: 'checkbox', value: String(p.id), name: 'planned' }), ` ${p.name}`)),
      );
    } catch {
      // the plan is optional: a show can be announced without products
    }
  }

  async function remove(show) {
    const ok = await confirmDialog({ title: `Delete “${show.title}”?`, body: 'Shoppers with its link will find no show.', confirm: 'Delete', danger: true });
    if (!ok) return;
    try {
      await api.del(`/api/livestreams/${show.id}`);
      await load();
    } catch (err) {
      setText(error, `Could not delete it: ${err.message}`);
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    setText(error, '');
    const at = new Date(when.value);
    if (Number.isNaN(at.getTime())) {
      setText(error, 'Pick a date and time.');
      return;
    }
    submit.disabled = true;
    try {
      const productIds = [...picker.querySelectorAll('input:checked')].map((i) => Number(i.value));
      const body = { title: title.value.trim(), description: description.value.trim(), scheduledAt: at.toISOString(), productIds };
      const { livestream } = await api.post('/api/livestreams/scheduled', body);
      if (cover.files && cover.files[0]) await api.putThumbnail(livestream.id, cover.files[0]);
      form.reset();
      when.value = inAnHour();
      await load();
      setText(status, `“${livestream.title}” is announced.`);
    } catch (err) {
      setText(error, `Could not schedule it: ${err.message}`);
    } finally {
      submit.disabled = false;
    }
  });

  when.value = inAnHour();
  return {
    load() {
      loadProducts();
      return load();
    },
  };
}
