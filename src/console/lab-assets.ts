/**
 * The lab page's style and script, served from /assets (no inline script runs under the console's
 * Content-Security-Policy). The script writes every value with textContent: config text, problems,
 * dataset names and detector names never become markup.
 */
import { CSS_TYPE, JS_TYPE, type Asset } from './asset-types.js';

const CSS = `
.lab { display: grid; gap: 1rem; margin-top: 1rem; }
.lab [hidden] { display: none !important; }
.lab-setup { display: flex; flex-wrap: wrap; gap: 1rem; align-items: end; }
.lab-setup label { display: flex; flex-direction: column; font-size: .85rem; color: #5b6474; }
.lab-setup fieldset.modes { border: 1px solid #d8dde6; border-radius: 4px; padding: .2rem .6rem .4rem; }
.lab-setup fieldset.modes label { flex-direction: row; gap: .3rem; align-items: center; color: #1d2330; font-size: .9rem; }
.lab-setup .note { flex-basis: 100%; margin: 0; }
.kafka-fields { display: flex; gap: .6rem; align-items: end; }
.status.ok { color: #1b7f3b; } .status.bad { color: #b3261e; } .status.busy { color: #a35a00; }
.code { display: flex; border: 1px solid #c9d0dc; background: #fff; border-radius: 4px; overflow: hidden; }
.code .gutter, .code textarea { font: 13px/18px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; padding: 6px 8px; margin: 0; }
.code .gutter { min-width: 3.2em; text-align: right; color: #8a93a3; background: #f2f4f8; border-right: 1px solid #e4e8ef; overflow: hidden; height: 34em; box-sizing: content-box; user-select: none; }
.code .gutter div { height: 18px; }
.code .gutter .mark-error { background: #fde2e1; color: #b3261e; font-weight: 600; }
.code .gutter .mark-warning { background: #fff1d6; color: #a35a00; }
.code textarea { flex: 1; height: 34em; border: 0; resize: vertical; outline: none; white-space: pre; overflow: auto; box-sizing: content-box; tab-size: 2; }
.validity { margin: .4rem 0; font-weight: 600; }
.validity.ok { color: #1b7f3b; } .validity.bad { color: #b3261e; }
.problems { list-style: none; padding: 0; margin: 0; }
.problems li button { background: none; border: 0; padding: .1rem 0; text-align: left; cursor: pointer; font: 13px/1.4 ui-monospace, monospace; }
.problems li.error button { color: #b3261e; } .problems li.warning button { color: #a35a00; }
.problems li button:hover { text-decoration: underline; }
.run-error { border: 1px solid #f0b4b0; background: #fdf0ef; border-radius: 4px; padding: .4rem .8rem; }
.run-error .error-code { font-weight: 600; color: #b3261e; margin: .2rem 0; }
.run-error pre { white-space: pre-wrap; margin: .3rem 0; }
.run-error .remedy { color: #1d2330; }
#summary, #recall { max-width: 60rem; }
#recall { margin-top: 1rem; }
#summary tr.changed td { background: #fff5cc; }
#summary tr.total td { font-weight: 600; border-top: 2px solid #c9d0dc; }
#report { width: 100%; height: 75vh; border: 1px solid #c9d0dc; background: #fff; margin-top: .6rem; }
.runs { list-style: none; padding: 0; margin: 0; }
.runs button { background: none; border: 0; padding: .1rem 0; cursor: pointer; color: #1d4ed8; font: inherit; }
.runs .failed { color: #b3261e; }
.lab-off pre { background: #eef1f6; padding: .5rem .8rem; display: inline-block; }
`;

const JS = `'use strict';
(() => {
  class LabRequestError extends Error {
    constructor(message, status) { super(message); this.name = 'LabRequestError'; this.status = status; }
  }
  const $ = (id) => document.getElementById(id);
  const editor = $('config');
  const gutter = $('gutter');
  const problemsList = $('problems');
  const validity = $('validity');
  const datasetSelect = $('dataset');
  const sourceField = $('source-field');
  const sourceSelect = $('source');
  const runButton = $('run');
  const statusLine = $('run-status');
  const inputKind = $('input-kind');
  const analyst = document.body.dataset.role === 'analyst';
  let currentText = '';
  let currentSources = [];
  let editedSources = [];
  let marks = new Map();
  let timer = null;
  let seq = 0;
  let running = false;
  let shownRun = null;

  async function request(path, options) {
    const res = await fetch(path, Object.assign({ credentials: 'same-origin', headers: { accept: 'application/json' } }, options || {}));
    if (res.status === 401) {
      location.href = '/login';
      throw new LabRequestError('signed out', 401);
    }
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) throw new LabRequestError(body && body.error ? body.error.message : 'HTTP ' + res.status, res.status);
    return body;
  }
  const post = (path, data) => request(path, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(data) });
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
  const mode = () => { const c = document.querySelector('input[name=mode]:checked'); return c ? c.value : 'backtest'; };
  const pct = (x) => (x === undefined || x === null ? '-' : (100 * x).toFixed(1) + '%');
  const size = (n) => (n >= 1048576 ? (n / 1048576).toFixed(1) + ' MB' : n >= 1024 ? Math.round(n / 1024) + ' KB' : n + ' B');

  function setStatus(text, cls) {
    statusLine.textContent = text;
    statusLine.className = 'status' + (cls ? ' ' + cls : '');
  }

  function renderGutter() {
    const n = editor.value.split('\\n').length;
    const frag = document.createDocumentFragment();
    for (let i = 1; i <= n; i++) {
      const d = el('div', String(i));
      const m = marks.get(i);
      if (m) { d.className = 'mark-' + m.severity; d.title = m.message; d.dataset.line = String(i); }
      frag.appendChild(d);
    }
    gutter.replaceChildren(frag);
    gutter.scrollTop = editor.scrollTop;
  }

  function jumpTo(line, column) {
    const lines = editor.value.split('\\n');
    let start = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
    const text = lines[line - 1] || '';
    editor.focus();
    editor.setSelectionRange(start + Math.min(Math.max(0, (column || 1) - 1), text.length), start + text.length);
    const lh = parseFloat(getComputedStyle(editor).lineHeight) || 18;
    editor.scrollTop = Math.max(0, (line - 4) * lh);
    gutter.scrollTop = editor.scrollTop;
  }

  function showProblems(r) {
    marks = new Map();
    const items = [];
    for (const p of r.problems) {
      const m = marks.get(p.line);
      if (!m || (m.severity === 'warning' && p.severity === 'error')) marks.set(p.line, p);
      const li = el('li', undefined, p.severity);
      li.dataset.line = String(p.line);
      const b = el('button', 'line ' + p.line + ': ' + (p.severity === 'warning' ? 'warning: ' : '') + (p.path ? p.path + ': ' : '') + p.message);
      b.type = 'button';
      b.addEventListener('click', () => jumpTo(p.line, p.column));
      li.appendChild(b);
      items.push(li);
    }
    problemsList.replaceChildren(...items);
    const errors = r.problems.filter((p) => p.severity === 'error').length;
    const warnings = r.problems.length - errors;
    validity.textContent = r.ok ? 'Valid' + (warnings ? ' (' + warnings + ' warning' + (warnings === 1 ? '' : 's') + ')' : '') : errors + ' problem' + (errors === 1 ? '' : 's');
    validity.className = 'validity ' + (r.ok ? 'ok' : 'bad');
    document.body.dataset.valid = r.ok ? 'yes' : 'no';
    if (r.ok) editedSources = r.sources || [];
    showSources();
    renderGutter();
  }

  async function validate() {
    const mine = ++seq;
    if (!analyst) {
      // Checking reads the current config's variables: the server answers analysts only.
      document.body.dataset.valid = 'unchecked';
      validity.textContent = 'Checking and running an edited config need the analyst role.';
      validity.className = 'validity';
      return;
    }
    try {
      const r = await post('/api/lab/validate', { text: editor.value });
      if (mine === seq) showProblems(r);
    } catch (err) {
      if (mine !== seq) return;
      validity.textContent = 'Cannot check the config: ' + err.message;
      validity.className = 'validity bad';
    }
  }

  function scheduleValidate() {
    clearTimeout(timer);
    document.body.dataset.valid = 'checking';
    validity.textContent = 'Checking…';
    validity.className = 'validity';
    timer = setTimeout(validate, 300);
  }

  const fromKafka = () => inputKind.value === 'kafka';

  function showInput() {
    $('dataset-field').hidden = fromKafka();
    $('kafka-fields').hidden = !fromKafka();
    showSources();
    updateRunButton();
  }

  function showSources() {
    // A Kafka range replaces every source: nothing to choose.
    const names = fromKafka() ? [] : mode() === 'what-if' ? currentSources : editedSources;
    const before = sourceSelect.value;
    sourceSelect.replaceChildren(...names.map((n) => { const o = el('option', n); o.value = n; return o; }));
    if (names.includes(before)) sourceSelect.value = before;
    sourceField.hidden = names.length < 2;
  }

  function updateRunButton() {
    runButton.disabled = !analyst || running || (fromKafka() ? $('k-topic').value.trim() === '' : datasetSelect.value === '');
  }

  function headRow(table, names) {
    const tr = el('tr');
    for (const n of names) tr.appendChild(el('th', n));
    table.tHead.replaceChildren(tr);
  }

  function row(cells, cls) {
    const tr = el('tr', undefined, cls);
    cells.forEach((c, i) => tr.appendChild(el('td', String(c), i > 0 ? 'num' : '')));
    return tr;
  }

  function showSummary(s) {
    const table = $('summary');
    const whatIf = s.mode === 'what-if';
    const cols = whatIf ? ['detector', 'current', 'edited', 'only current', 'only edited', 'both'] : ['detector', 'alerts'];
    if (s.labelled) cols.push(...(whatIf ? ['precision current', 'precision edited'] : ['precision']));
    headRow(table, cols);
    const rows = s.detectors.map((d) => {
      const cells = whatIf ? [d.detector, d.current, d.candidate, d.onlyCurrent, d.onlyCandidate, d.both] : [d.detector, d.candidate];
      if (s.labelled) cells.push(...(whatIf ? [pct(d.precision && d.precision.current), pct(d.precision && d.precision.candidate)] : [pct(d.precision && d.precision.candidate)]));
      const tr = row(cells, whatIf && d.current !== d.candidate ? 'changed' : '');
      tr.dataset.detector = d.detector;
      return tr;
    });
    const t = s.totals;
    const total = whatIf ? ['total', t.current, t.candidate, t.onlyCurrent, t.onlyCandidate, t.both] : ['total', t.candidate];
    if (s.labelled) total.push(...(whatIf ? ['', ''] : ['']));
    rows.push(row(total, 'total'));
    table.tBodies[0].replaceChildren(...rows);
    const recall = $('recall');
    recall.hidden = !s.recall;
    if (s.recall) {
      headRow(recall, whatIf ? ['typology', 'cases', 'recall current', 'recall edited'] : ['typology', 'cases', 'recall']);
      recall.tBodies[0].replaceChildren(...s.recall.map((r) => row(whatIf ? [r.typology, r.cases, pct(r.current), pct(r.candidate)] : [r.typology, r.cases, pct(r.candidate)])));
    }
  }

  function showRun(run) {
    shownRun = run.id;
    $('result').hidden = false;
    $('run-id').textContent = run.id + ' · ' + run.mode + ' · ' + run.dataset + ' · ' + run.state;
    const error = $('run-error');
    const frame = $('report');
    const link = $('report-link');
    error.hidden = !run.error;
    if (run.error) {
      error.querySelector('.error-code').textContent = run.error.code;
      error.querySelector('.message').textContent = run.error.message;
      error.querySelector('.remedy').textContent = run.error.remedy;
    }
    $('summary').hidden = !run.summary;
    $('recall').hidden = true;
    $('run-facts').textContent = '';
    if (run.summary) {
      const s = run.summary;
      $('run-facts').textContent = s.events + ' events read, ' + s.deadLetters + ' dead-lettered' + (s.labelled ? ', scored against the labels' : ', no labels') + '.';
      showSummary(s);
    }
    const src = '/lab/runs/' + encodeURIComponent(run.id) + '/report';
    frame.hidden = !run.report;
    link.hidden = !run.report;
    if (run.report) {
      if (frame.getAttribute('src') !== src) frame.setAttribute('src', src);
      link.querySelector('a').href = src;
    } else {
      frame.removeAttribute('src');
    }
  }

  async function loadRuns() {
    const { runs } = await request('/api/lab/runs');
    $('runs').replaceChildren(...runs.map((r) => {
      const li = el('li', undefined, r.state);
      const b = el('button', r.createdAt.slice(0, 19).replace('T', ' ') + ' · ' + r.mode + ' · ' + r.dataset + ' · ' + r.state);
      b.type = 'button';
      b.addEventListener('click', async () => showRun(await request('/api/lab/runs/' + encodeURIComponent(r.id))));
      li.appendChild(b);
      return li;
    }));
  }

  async function follow(id) {
    for (;;) {
      const run = await request('/api/lab/runs/' + encodeURIComponent(id));
      if (run.state === 'done' || run.state === 'failed') {
        setStatus(run.state === 'done' ? 'Done' : 'Failed: ' + (run.error ? run.error.code : ''), run.state === 'done' ? 'ok' : 'bad');
        showRun(run);
        return;
      }
      setStatus(run.state === 'running' ? 'Running…' : 'Queued…', 'busy');
      await sleep(400);
    }
  }

  runButton.addEventListener('click', async () => {
    running = true;
    updateRunButton();
    setStatus('Starting…', 'busy');
    try {
      const body = { mode: mode(), text: editor.value };
      if (fromKafka()) body.kafka = { topic: $('k-topic').value.trim(), since: $('k-since').value.trim(), until: $('k-until').value.trim() };
      else body.dataset = datasetSelect.value;
      if (!sourceField.hidden) body.source = sourceSelect.value;
      const { id } = await post('/api/lab/runs', body);
      await follow(id);
    } catch (err) {
      setStatus(err.message, 'bad');
    } finally {
      running = false;
      updateRunButton();
      loadRuns().catch(() => {});
    }
  });

  editor.addEventListener('input', () => { renderGutter(); scheduleValidate(); });
  editor.addEventListener('scroll', () => { gutter.scrollTop = editor.scrollTop; });
  editor.addEventListener('keydown', (e) => {
    if (e.key !== 'Tab' || e.shiftKey) return;
    e.preventDefault();
    editor.setRangeText('  ', editor.selectionStart, editor.selectionEnd, 'end');
    editor.dispatchEvent(new Event('input'));
  });
  for (const r of document.querySelectorAll('input[name=mode]')) r.addEventListener('change', showSources);
  datasetSelect.addEventListener('change', updateRunButton);
  inputKind.addEventListener('change', showInput);
  $('k-topic').addEventListener('input', updateRunButton);
  const reset = $('reset');
  reset.addEventListener('click', () => { editor.value = currentText; editor.dispatchEvent(new Event('input')); });

  async function start() {
    try {
      const [{ datasets }, { current }] = await Promise.all([request('/api/lab/datasets'), request('/api/lab/config')]);
      datasetSelect.replaceChildren(...datasets.map((d) => { const o = el('option', d.name + ' (' + size(d.size) + ', ' + d.modified.slice(0, 10) + ')'); o.value = d.name; return o; }));
      if (datasets.length === 0) { const o = el('option', 'no dataset in the lab folder'); o.value = ''; datasetSelect.appendChild(o); }
      if (current) {
        currentText = current.text;
        currentSources = current.sources;
        editor.value = current.text;
      }
      renderGutter();
      showSources();
      updateRunButton();
      await validate();
      await loadRuns();
      document.body.dataset.ready = '1';
    } catch (err) {
      setStatus('Cannot load the lab: ' + err.message, 'bad');
    }
  }
  start();
})();
`;

/** The lab page's assets by path (assets.ts serves them). */
export const LAB_ASSETS: Readonly<Record<string, Asset>> = {
  '/assets/lab.css': { type: CSS_TYPE, body: CSS },
  '/assets/lab.js': { type: JS_TYPE, body: JS },
};
