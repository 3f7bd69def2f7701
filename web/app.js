// obscura dashboard: plain JavaScript, no framework, no CDN. Everything it shows comes from the
// service's own API (aggregate counts, redacted snapshots and clips).
'use strict';

const $ = (selector, root = document) => root.querySelector(selector);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
};
const SVG = 'http://www.w3.org/2000/svg';
const svg = (tag, attrs = {}) => {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
};

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: 'same-origin', ...options });
  if (response.status === 401) {
    location.href = '/login';
    throw new Error('not signed in');
  }
  if (!response.ok) throw new Error((await response.text()).trim() || response.statusText);
  return response;
}
const getJson = async (path) => (await api(path)).json();

function showError(message) {
  const box = $('#error');
  box.textContent = message;
  box.hidden = !message;
}

const localMidnight = (date = new Date()) => { const d = new Date(date); d.setHours(0, 0, 0, 0); return d; };
const dayString = (date) => {
  const d = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 10);
};
const parseDay = (text) => { const [y, m, d] = text.split('-').map(Number); return new Date(y, m - 1, d); };
const figure = (value) => (value === null || value === undefined ? '–' : String(value));
const number = (value) => (typeof value === 'number' ? value : 0);

// ---- tabs ---------------------------------------------------------------------------------------

const tabs = [...document.querySelectorAll('[role=tab]')];
function select(tab, focus = false) {
  for (const other of tabs) {
    const selected = other === tab;
    other.setAttribute('aria-selected', String(selected));
    other.tabIndex = selected ? 0 : -1;
    $('#' + other.getAttribute('aria-controls')).hidden = !selected;
  }
  if (focus) tab.focus();
  const page = tab.getAttribute('aria-controls');
  if (location.hash !== '#' + page) history.replaceState(null, '', '#' + page);
  onShow[page]?.();
}
for (const tab of tabs) {
  tab.addEventListener('click', () => select(tab));
  tab.addEventListener('keydown', (event) => {
    const i = tabs.indexOf(tab);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    select(tabs[(next + tabs.length) % tabs.length], true);
  });
}
const visible = (page) => !$('#' + page).hidden;

// ---- cameras: overview and health ---------------------------------------------------------------

let cameras = [];

async function refreshCameras() {
  try {
    const since = localMidnight().toISOString();
    const data = await getJson('/api/cameras?since=' + encodeURIComponent(since));
    cameras = data.cameras;
    showError('');
    renderOverview();
    renderHealth();
    fillCameraSelects();
  } catch (err) {
    showError('Cannot reach the service: ' + err.message);
  }
}

const cards = new Map();
function renderOverview() {
  const root = $('#cards');
  if (!cameras.length) {
    root.replaceChildren(el('p', { class: 'muted' }, 'No camera is configured.'));
    cards.clear();
    return;
  }
  if (root.querySelector('p')) root.replaceChildren();
  for (const camera of cameras) {
    let card = cards.get(camera.name);
    if (!card) {
      const img = el('img', { alt: `Latest redacted frame of ${camera.name}` });
      img.addEventListener('error', () => { img.dataset.failed = '1'; });
      img.addEventListener('load', () => { delete img.dataset.failed; });
      card = el('article', { class: 'card', 'data-camera': camera.name, 'aria-label': `Camera ${camera.name}` },
        el('h3', {}, el('span', {}, camera.name), el('span', { class: 'state' })),
        img,
        el('table', { 'aria-label': `Counts of ${camera.name} today` }));
      cards.set(camera.name, card);
      root.append(card);
    }
    const state = card.querySelector('.state');
    state.textContent = camera.state;
    state.className = 'state ' + camera.state;
    const table = card.querySelector('table');
    const rows = [];
    const counts = camera.counts;
    if (counts) {
      rows.push(el('tr', {}, el('th', { scope: 'col' }, 'Today'), el('th', { scope: 'col' }, 'in'), el('th', { scope: 'col' }, 'out')));
      for (const line of counts.lines) {
        rows.push(el('tr', { 'data-line': line.name }, el('td', {}, `line ${line.name}`),
          el('td', { class: 'num' }, figure(line.in)), el('td', { class: 'num' }, figure(line.out))));
      }
      for (const zone of counts.zones) {
        rows.push(el('tr', { 'data-zone': zone.name }, el('td', {}, `zone ${zone.name}`),
          el('td', { class: 'num', title: 'people inside now' }, `${figure(zone.occupancy)} now`),
          el('td', { class: 'num', title: 'entries today' }, `${figure(zone.entries)} entries`)));
      }
    } else {
      rows.push(el('tr', {}, el('td', { class: 'muted' }, 'Not counting: no line or zone.')));
    }
    table.replaceChildren(...rows);
  }
  for (const [name, card] of cards) {
    if (!cameras.some((c) => c.name === name)) { card.remove(); cards.delete(name); }
  }
}

function refreshSnapshots() {
  if (!visible('overview')) return;
  for (const [name, card] of cards) {
    const img = card.querySelector('img');
    img.src = `/api/cameras/${encodeURIComponent(name)}/snapshot.jpg?h=360&t=${Date.now()}`;
  }
}

function renderHealth() {
  const body = $('#health-table tbody');
  body.replaceChildren(...cameras.map((c) => {
    const byReason = (figures) => Object.entries(figures).map(([k, v]) => `${k.replace('_', ' ')}: ${v}`).join(', ');
    const age = c.last_frame_age_s === null ? 'never' : `${c.last_frame_age_s.toFixed(1)} s ago`;
    const clips = c.clips_failing ? `${c.clips} (failing, ${c.clip_errors} errors)` : `${c.clips}${c.clip_errors ? `, ${c.clip_errors} errors` : ''}`;
    const privacy = `${c.privacy.detection_passes} detection passes, ${c.privacy.frames_with_masks} frames masked, `
      + `at most ${c.privacy.max_masks} masks, staleness ≤ ${c.privacy.max_staleness_frames} frames`;
    return el('tr', { 'data-camera': c.name },
      el('th', { scope: 'row' }, c.name), el('td', {}, c.state), el('td', {}, String(c.fps)), el('td', {}, age),
      el('td', {}, String(c.frames)), el('td', {}, String(c.reconnects)),
      el('td', {}, `${c.frames_dropped} (${byReason(c.frames_dropped_by_reason)})`),
      el('td', {}, `${c.frames_fail_closed} (${byReason(c.frames_fail_closed_by_reason)})`),
      el('td', {}, `${c.detection_ms} ms`), el('td', {}, clips), el('td', {}, privacy));
  }));
}

function fillCameraSelects() {
  for (const [id, wants] of [['#counts-camera', (c) => c.counts], ['#editor-camera', () => true]]) {
    const selectBox = $(id);
    const names = cameras.filter(wants).map((c) => c.name);
    const have = [...selectBox.options].map((o) => o.value);
    if (names.join() === have.join()) continue;
    const current = selectBox.value;
    selectBox.replaceChildren(...names.map((n) => el('option', { value: n }, n)));
    if (names.includes(current)) selectBox.value = current;
    selectBox.dispatchEvent(new Event('change'));
  }
}

// ---- counts -------------------------------------------------------------------------------------

function countsQuery(camera, resolution, day) {
  const start = parseDay(day);
  let from; let to; let bucket;
  if (resolution === 'hour') {
    from = start; to = new Date(start.getTime()); to.setDate(to.getDate() + 1); bucket = '1h';
  } else if (resolution === 'day') {
    from = new Date(start.getTime()); from.setDate(from.getDate() - 6);
    to = new Date(start.getTime()); to.setDate(to.getDate() + 1); bucket = '1d';
  } else {
    from = new Date(start.getTime()); from.setDate(from.getDate() - 7 * 7);
    to = new Date(start.getTime()); to.setDate(to.getDate() + 1); bucket = '7d';
  }
  const params = new URLSearchParams({ camera, from: from.toISOString(), to: to.toISOString(), bucket });
  return params;
}

// Renders are numbered: an answer that comes back after a newer render began is thrown away, so
// the charts always show the latest choice.
let countsRender = 0;
async function renderCounts() {
  const render = ++countsRender;
  const camera = $('#counts-camera').value;
  const resolution = $('#counts-resolution').value;
  const days = [$('#counts-day').value, $('#counts-compare').value].filter(Boolean);
  if (!camera || !days.length) return;
  $('#counts-csv').href = '/api/counts?' + countsQuery(camera, resolution, days[0]) + '&format=csv';
  try {
    const figures = [];
    for (const day of days) {
      const query = countsQuery(camera, resolution, day);
      const data = await getJson('/api/counts?' + query);
      if (render !== countsRender) return;
      const range = [new Date(query.get('from')).getTime(), new Date(query.get('to')).getTime()];
      figures.push(chart(data, `${camera}, ${resolution === 'hour' ? day : `${resolution}s up to ${day}`}`, resolution, range));
    }
    if (render !== countsRender) return;
    $('#charts').replaceChildren(...figures);
    showError('');
  } catch (err) {
    $('#charts').replaceChildren(el('p', { class: 'error' }, 'Cannot read the counts: ' + err.message));
  }
}

/** A figure: in/out bars per line and bucket, each zone's most people at once as a line. */
function chart(data, title, resolution, [from, to]) {
  // Every bucket of the period, empty ones too (aligned as the API rolls up: from UTC midnight).
  const bucketMs = data.bucket_s * 1000;
  const slots = new Set();
  for (let t = Math.floor(from / bucketMs) * bucketMs; t < to && slots.size < 400; t += bucketMs) {
    if (t + bucketMs > from) slots.add(new Date(t).toISOString().replace('.000Z', 'Z'));
  }
  for (const r of [...data.lines, ...data.zones]) slots.add(r.start);
  const starts = [...slots].sort();
  const lineNames = [...new Set(data.lines.map((r) => r.line))];
  const zoneNames = [...new Set(data.zones.map((r) => r.zone))];
  const W = 600; const H = 240; const left = 36; const bottom = 28; const top = 10;
  const plotW = W - left - 8; const plotH = H - bottom - top;
  const at = (row) => starts.indexOf(row.start);
  const max = Math.max(1, ...data.lines.flatMap((r) => [number(r.in), number(r.out)]),
    ...data.zones.map((r) => number(r.occupancy_max)));
  const y = (v) => top + plotH - (v / max) * plotH;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Chart: ${title}` });
  root.append(svg('line', { class: 'axis', x1: left, y1: top + plotH, x2: W - 8, y2: top + plotH }));
  root.append(svg('line', { class: 'axis', x1: left, y1: top, x2: left, y2: top + plotH }));
  for (const v of [0, Math.round(max / 2), max]) {
    const t = svg('text', { class: 'tick', x: left - 4, y: y(v) + 3, 'text-anchor': 'end' });
    t.textContent = String(v);
    root.append(t);
  }
  const slot = plotW / Math.max(1, starts.length);
  const bars = Math.max(1, lineNames.length * 2);
  const barW = Math.max(1, (slot * 0.8) / bars);
  data.lines.forEach((row) => {
    const li = lineNames.indexOf(row.line);
    for (const [k, key] of [[0, 'in'], [1, 'out']]) {
      const v = number(row[key]);
      const x = left + at(row) * slot + slot * 0.1 + (li * 2 + k) * barW;
      const rect = svg('rect', { class: `bar bar-${key}`, x, y: y(v), width: barW, height: top + plotH - y(v) });
      const tip = svg('title');
      tip.textContent = `${row.line} ${key} ${row.start}: ${figure(row[key])}`;
      rect.append(tip);
      root.append(rect);
    }
  });
  for (const zone of zoneNames) {
    const points = data.zones.filter((r) => r.zone === zone && r.occupancy_max !== null)
      .map((r) => `${left + at(r) * slot + slot / 2},${y(number(r.occupancy_max))}`);
    if (points.length) root.append(svg('polyline', { class: 'occupancy', points: points.join(' ') }));
  }
  const label = (start) => {
    const d = new Date(start);
    return resolution === 'hour' ? String(d.getHours()).padStart(2, '0') : `${d.getMonth() + 1}/${d.getDate()}`;
  };
  const every = Math.ceil(starts.length / 12);
  starts.forEach((start, i) => {
    if (i % every) return;
    const t = svg('text', { class: 'tick', x: left + i * slot + slot / 2, y: H - 10, 'text-anchor': 'middle' });
    t.textContent = label(start);
    root.append(t);
  });
  const table = el('table', { class: 'data' },
    el('tr', {}, el('th', { scope: 'col' }, 'start'), el('th', { scope: 'col' }, 'line / zone'),
      el('th', { scope: 'col' }, 'in'), el('th', { scope: 'col' }, 'out'), el('th', { scope: 'col' }, 'most inside')));
  for (const r of data.lines) {
    table.append(el('tr', { class: 'row-line' }, el('td', {}, new Date(r.start).toLocaleString()), el('td', {}, r.line),
      el('td', {}, figure(r.in)), el('td', {}, figure(r.out)), el('td', {}, '')));
  }
  for (const r of data.zones) {
    table.append(el('tr', { class: 'row-zone' }, el('td', {}, new Date(r.start).toLocaleString()), el('td', {}, r.zone),
      el('td', {}, ''), el('td', {}, ''), el('td', {}, figure(r.occupancy_max))));
  }
  const empty = !starts.length ? el('p', { class: 'muted' }, 'No counts stored for this period.') : '';
  return el('figure', {}, el('figcaption', {}, title),
    el('div', { class: 'legend' }, el('span', { class: 'in' }, 'in'), el('span', { class: 'out' }, 'out'),
      el('span', { class: 'zone' }, 'most people in a zone')),
    root, empty, el('details', {}, el('summary', {}, 'Figures as a table'), table));
}

// ---- clips --------------------------------------------------------------------------------------

async function renderClips() {
  try {
    const response = await fetch('/api/clips', { credentials: 'same-origin' });
    if (response.status === 404) {
      $('#clip-list').replaceChildren(el('p', { class: 'muted' }, 'No camera records clips ([camera.clips] in the config).'));
      return;
    }
    if (response.status === 401) { location.href = '/login'; return; }
    const { clips } = await response.json();
    if (!clips.length) {
      $('#clip-list').replaceChildren(el('p', { class: 'muted' }, 'No clips yet.'));
      return;
    }
    const rows = clips.slice().reverse().map((clip) => {
      const seconds = ((new Date(clip.end) - new Date(clip.start)) / 1000).toFixed(1);
      const when = new Date(clip.start).toLocaleString();
      return el('tr', { 'data-clip': clip.id },
        el('td', {}, el('img', { class: 'clip-thumb', src: `${clip.url}/thumbnail.jpg`, alt: `Redacted thumbnail of the clip of ${clip.camera} at ${when}`, loading: 'lazy' })),
        el('td', {}, clip.camera), el('td', {}, when), el('td', {}, `${seconds} s`), el('td', {}, clip.reason),
        el('td', {}, `${(clip.size / 1e6).toFixed(1)} MB`),
        el('td', {},
          el('button', { type: 'button', class: 'play', 'aria-label': `Play the clip of ${clip.camera} at ${when}`, onclick: () => play(clip.url) }, 'Play'),
          ' ',
          el('button', { type: 'button', class: 'delete', 'aria-label': `Delete the clip of ${clip.camera} at ${when}`, onclick: () => remove(clip) }, 'Delete')));
    });
    $('#clip-list').replaceChildren(el('div', { class: 'table-wrap' }, el('table', { class: 'data' },
      el('caption', { class: 'sr-only' }, 'Event clips, newest first'),
      el('tr', {}, ...['Thumbnail', 'Camera', 'Start', 'Length', 'Reason', 'Size', ''].map((h) => el('th', { scope: 'col' }, h))),
      ...rows)));
  } catch (err) {
    $('#clip-list').replaceChildren(el('p', { class: 'error' }, 'Cannot list the clips: ' + err.message));
  }
}

function play(url) {
  const video = $('#video');
  video.src = url;
  $('#player').hidden = false;
  video.play().catch(() => {});
  video.focus();
}

async function remove(clip) {
  if (!confirm(`Delete the clip of ${clip.camera} at ${new Date(clip.start).toLocaleString()}?`)) return;
  try {
    await api(clip.url, { method: 'DELETE' });
    await renderClips();
  } catch (err) {
    showError('Cannot delete the clip: ' + err.message);
  }
}

// ---- line and zone editor -----------------------------------------------------------------------

const editor = { camera: null, lines: [], zones: [], draft: [] };

function loadEditor() {
  const name = $('#editor-camera').value;
  const camera = cameras.find((c) => c.name === name);
  if (!camera) return;
  if (editor.camera !== name) {
    editor.camera = name;
    editor.lines = structuredClone(camera.geometry.lines);
    editor.zones = structuredClone(camera.geometry.zones);
    editor.draft = [];
    $('#editor-status').textContent = '';
    $('#editor-image').src = `/api/cameras/${encodeURIComponent(name)}/snapshot.jpg?h=720&t=${Date.now()}`;
  }
  drawEditor();
}

const kind = () => document.querySelector('input[name=kind]:checked').value;

function drawEditor() {
  const overlay = $('#editor-overlay');
  overlay.replaceChildren();
  const label = (text, x, y) => { const t = svg('text', { class: 'geo-label', x, y }); t.textContent = text; overlay.append(t); };
  const drawLine = (from, to, name, draft) => {
    overlay.append(svg('line', { class: 'geo-line' + (draft ? ' draft' : ''), x1: from[0], y1: from[1], x2: to[0], y2: to[1] }));
    // "in" is the right-hand side of from → to as seen on the picture.
    const [dx, dy] = [to[0] - from[0], to[1] - from[1]];
    const length = Math.hypot(dx, dy) || 1;
    const [nx, ny] = [-dy / length, dx / length];
    const [mx, my] = [(from[0] + to[0]) / 2, (from[1] + to[1]) / 2];
    const [ax, ay] = [mx + nx * 0.08, my + ny * 0.08];
    overlay.append(svg('line', { class: 'geo-arrow', x1: mx, y1: my, x2: ax, y2: ay }));
    overlay.append(svg('circle', { class: 'geo-arrow', cx: ax, cy: ay, r: 0.008 }));
    label('in', ax + nx * 0.015 - 0.01, ay + ny * 0.015 + 0.012);
    label(name, from[0] + 0.01, from[1] + 0.04);
  };
  for (const line of editor.lines) drawLine(line.from, line.to, line.name, false);
  for (const zone of editor.zones) {
    overlay.append(svg('polygon', { class: 'geo-zone', points: zone.polygon.map((p) => p.join(',')).join(' ') }));
    label(zone.name, zone.polygon[0][0], zone.polygon[0][1]);
  }
  const draft = editor.draft;
  if (draft.length === 2 && kind() === 'line') drawLine(draft[0], draft[1], $('#editor-name').value || 'new', true);
  else if (draft.length >= 2) overlay.append(svg('polyline', { class: 'geo-zone draft', points: draft.map((p) => p.join(',')).join(' ') }));
  for (const p of draft) overlay.append(svg('circle', { class: 'geo-point', cx: p[0], cy: p[1], r: 0.007 }));
  $('#editor-points').value = draft.map((p) => p.map((v) => v.toFixed(3)).join(',')).join(' ');
  const items = [
    ...editor.lines.map((l) => ({ kind: 'line', item: l, text: `line ${l.name}: ${l.from.map((v) => v.toFixed(2))} → ${l.to.map((v) => v.toFixed(2))}` })),
    ...editor.zones.map((z) => ({ kind: 'zone', item: z, text: `zone ${z.name}: ${z.polygon.length} corners` })),
  ];
  $('#editor-items').replaceChildren(...items.map(({ kind: k, item, text }) => el('li', {}, el('span', {}, text),
    el('button', { type: 'button', 'aria-label': `Remove ${k} ${item.name}`, onclick: () => {
      const list = k === 'line' ? editor.lines : editor.zones;
      list.splice(list.indexOf(item), 1);
      drawEditor();
    } }, 'Remove'))));
}

$('#stage').addEventListener('click', (event) => {
  const box = $('#editor-image').getBoundingClientRect();
  const x = (event.clientX - box.left) / box.width;
  const y = (event.clientY - box.top) / box.height;
  if (x < 0 || x > 1 || y < 0 || y > 1) return;
  if (kind() === 'line' && editor.draft.length >= 2) editor.draft = [];
  editor.draft.push([Math.round(x * 1000) / 1000, Math.round(y * 1000) / 1000]);
  drawEditor();
});

$('#editor-points').addEventListener('change', () => {
  const points = $('#editor-points').value.trim().split(/\s+/).filter(Boolean).map((p) => p.split(',').map(Number));
  if (points.every((p) => p.length === 2 && p.every(Number.isFinite))) {
    editor.draft = points;
    drawEditor();
  } else {
    $('#editor-status').textContent = 'Points are x,y pairs between 0 and 1, separated by spaces.';
  }
});

$('#editor-add').addEventListener('click', () => {
  $('#editor-points').dispatchEvent(new Event('change'));
  const name = $('#editor-name').value.trim();
  const status = $('#editor-status');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) { status.textContent = 'Give a name of 1 to 64 letters, digits, _ or -.'; $('#editor-name').focus(); return; }
  if ([...editor.lines, ...editor.zones].some((g) => g.name === name)) { status.textContent = `The name ${name} is taken on this camera.`; return; }
  if (kind() === 'line') {
    if (editor.draft.length !== 2) { status.textContent = 'A line needs two points.'; return; }
    editor.lines.push({ name, from: editor.draft[0], to: editor.draft[1] });
  } else {
    if (editor.draft.length < 3) { status.textContent = 'A zone needs at least three points.'; return; }
    editor.zones.push({ name, polygon: editor.draft });
  }
  editor.draft = [];
  $('#editor-name').value = '';
  status.textContent = `Added ${kind()} ${name}: save to apply it.`;
  drawEditor();
});

$('#editor-clear').addEventListener('click', () => { editor.draft = []; drawEditor(); });
for (const radio of document.querySelectorAll('input[name=kind]')) radio.addEventListener('change', () => { editor.draft = []; drawEditor(); });
$('#editor-camera').addEventListener('change', () => { editor.camera = null; loadEditor(); });

$('#editor-save').addEventListener('click', async () => {
  const status = $('#editor-status');
  const body = JSON.stringify({
    lines: editor.lines.map((l) => ({ name: l.name, from: l.from, to: l.to, ...(l.anchor ? { anchor: l.anchor } : {}) })),
    zones: editor.zones.map((z) => ({ name: z.name, polygon: z.polygon, ...(z.anchor ? { anchor: z.anchor } : {}) })),
  });
  try {
    const response = await fetch(`/api/cameras/${encodeURIComponent(editor.camera)}/geometry`,
      { method: 'PUT', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body });
    const text = (await response.text()).trim();
    status.textContent = response.ok
      ? 'Saved to the config; the camera restarts with its new lines and zones.'
      : `Not saved: ${text}`;
  } catch (err) {
    status.textContent = 'Not saved: ' + err.message;
  }
});

// ---- start --------------------------------------------------------------------------------------

const onShow = {
  overview: refreshSnapshots,
  counts: renderCounts,
  clips: renderClips,
  editor: loadEditor,
};

$('#counts-day').value = dayString(new Date());
for (const id of ['#counts-camera', '#counts-resolution', '#counts-day', '#counts-compare']) {
  $(id).addEventListener('change', renderCounts);
}
$('#counts-form').addEventListener('submit', (event) => event.preventDefault());
$('#editor-form').addEventListener('submit', (event) => event.preventDefault());
$('#player-close').addEventListener('click', () => { const v = $('#video'); v.pause(); v.removeAttribute('src'); $('#player').hidden = true; });

const initial = tabs.find((t) => '#' + t.getAttribute('aria-controls') === location.hash) || tabs[0];
refreshCameras().then(() => select(initial));
setInterval(refreshCameras, 2000);
setInterval(refreshSnapshots, 1000);
