/**
 * The live page's style and script, served from /assets (the page's Content-Security-Policy allows
 * no inline script). The script builds every row with textContent: alert data never becomes markup.
 */
import type { ServerResponse } from 'node:http';
import { CSS_TYPE, JS_TYPE, type Asset } from './asset-types.js';
import { DETAIL_ASSETS } from './detail-assets.js';
import { LAB_ASSETS } from './lab-assets.js';
import { CSP } from './page.js';
import { QUEUE_ASSETS } from './queue-assets.js';

const CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 1.5rem 2rem; color: #1d2330; background: #fafbfc; }
header { display: flex; align-items: center; gap: 1rem; border-bottom: 1px solid #d8dde6; }
header h1 { font-size: 1.3rem; margin: .6rem 0; }
header nav { display: flex; gap: .8rem; flex: 1; }
header nav a { color: #1d4ed8; text-decoration: none; }
header nav a[aria-current="page"] { font-weight: 600; color: #1d2330; }
h2 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
.status { color: #5b6474; }
body[data-live="open"] .status { color: #1b7f3b; }
.filters { display: flex; flex-wrap: wrap; gap: .8rem; align-items: end; margin-top: 1rem; }
.filters label { display: flex; flex-direction: column; font-size: .85rem; color: #5b6474; }
input, select, button { font: inherit; padding: .25rem .5rem; }
.queued { color: #a35a00; font-weight: 600; }
.counts { display: flex; flex-wrap: wrap; gap: .5rem; list-style: none; padding: 0; margin: 0; }
.counts li { background: #eef1f6; border-radius: 4px; padding: .2rem .6rem; }
.counts .n { font-weight: 600; margin-left: .4rem; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e4e8ef; vertical-align: top; }
th { background: #eef1f6; font-weight: 600; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.sev-critical td.sev { color: #fff; background: #b3261e; }
tr.sev-high td.sev { color: #b3261e; font-weight: 600; }
tr.sev-medium td.sev { color: #a35a00; }
tr.fresh { animation: fresh 2s ease-out; }
@keyframes fresh { from { background: #fff5cc; } to { background: #fff; } }
.note { color: #5b6474; font-weight: normal; }
.login main { max-width: 22rem; margin: 15vh auto; }
.login form { display: flex; flex-direction: column; gap: .6rem; }
.error { color: #b3261e; }
.hint { color: #5b6474; font-size: .85rem; }
`;

const JS = `'use strict';
(() => {
  const MAX_ROWS = 500;
  const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'];
  const $ = (id) => document.getElementById(id);
  const tbody = document.querySelector('#alerts tbody');
  const form = $('filters');
  const pauseButton = $('pause');
  let source = null;
  let generation = 0;
  let counts = {};
  let seen = new Set();
  let paused = false;
  let queue = [];

  const entryOrder = (id) => id.split('-').map(Number);
  const newer = (a, b) => { const [am, as] = entryOrder(a); const [bm, bs] = entryOrder(b); return am > bm || (am === bm && as > bs); };

  function filterQuery() {
    const q = new URLSearchParams();
    for (const name of ['detector', 'severity', 'key', 'since', 'until']) {
      const v = form.elements[name].value.trim();
      if (v !== '') q.set(name, v);
    }
    return q;
  }

  function setStatus(state, text) {
    document.body.dataset.live = state;
    $('status').textContent = text;
  }

  function cell(tr, text, className) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    tr.appendChild(td);
  }

  function time(ms) {
    const d = new Date(ms);
    return Number.isNaN(d.getTime()) ? '' : d.toISOString().replace('T', ' ').slice(0, 19);
  }

  function row(a, fresh) {
    const tr = document.createElement('tr');
    tr.dataset.entry = a.entryId;
    tr.dataset.id = String(a.id);
    if (SEVERITIES.includes(a.severity)) tr.classList.add('sev-' + a.severity);
    if (fresh) tr.classList.add('fresh');
    cell(tr, time(a.eventTime));
    cell(tr, String(a.severity), 'sev');
    cell(tr, String(a.detector));
    cell(tr, String(a.key));
    const link = document.createElement('a');
    link.href = '/alerts/' + encodeURIComponent(String(a.id));
    link.textContent = String(a.explanation ?? '');
    cell(tr, '');
    tr.lastChild.appendChild(link);
    cell(tr, a.observed + ' / ' + a.threshold, 'num');
    return tr;
  }

  /** Adds alerts (newest first) at the top, or at the bottom for the initial list. */
  function show(alerts, atTop, fresh) {
    const rows = document.createDocumentFragment();
    for (const a of alerts) {
      if (seen.has(a.entryId)) continue;
      seen.add(a.entryId);
      rows.appendChild(row(a, fresh));
    }
    if (atTop) tbody.insertBefore(rows, tbody.firstChild);
    else tbody.appendChild(rows);
    while (tbody.rows.length > MAX_ROWS) {
      seen.delete(tbody.lastElementChild.dataset.entry);
      tbody.lastElementChild.remove();
    }
    $('empty').hidden = tbody.rows.length > 0;
  }

  function showCounts() {
    const list = $('counts');
    list.replaceChildren();
    for (const [detector, n] of Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
      const li = document.createElement('li');
      li.dataset.detector = detector;
      const name = document.createElement('span');
      name.textContent = detector;
      const count = document.createElement('span');
      count.className = 'n';
      count.textContent = String(n);
      li.append(name, count);
      list.appendChild(li);
    }
  }

  function showQueued() {
    $('queued').textContent = queue.length === 0 ? '' : queue.length + ' new while paused';
  }

  function arrived(a) {
    counts[a.detector] = (counts[a.detector] ?? 0) + 1;
    showCounts();
    if (paused) {
      queue.push(a);
      showQueued();
    } else show([a], true, true);
  }

  /** A request of the page that failed (the page's own errors, not the server's codes). */
  class RequestFailed extends Error {}

  async function getJson(path) {
    const res = await fetch(path, { headers: { accept: 'application/json' } });
    if (res.status === 401) {
      location.assign('/login');
      throw new RequestFailed('signed out');
    }
    if (!res.ok) throw new RequestFailed(path + ': ' + res.status);
    return res.json();
  }

  /** Times the server cannot read get its message here, before any feed is opened (a feed would only retry). */
  async function timesRefused(q) {
    if (!q.has('since') && !q.has('until')) return false;
    const res = await fetch('/api/counts?' + q, { headers: { accept: 'application/json' } });
    if (res.status !== 400) return false;
    const body = await res.json().catch(() => ({}));
    setStatus('error', (body.error && body.error.message) || 'the time filter is not valid');
    return true;
  }

  /** Opens the live feed first, then loads the list: nothing written in between is missed. */
  async function start() {
    const mine = ++generation;
    if (source !== null) source.close();
    source = null;
    tbody.replaceChildren();
    counts = {};
    seen = new Set();
    queue = [];
    showQueued();
    showCounts();
    setStatus('connecting', 'connecting…');
    const q = filterQuery();
    if ((await timesRefused(q)) || mine !== generation) return;
    const early = [];
    let loaded = false;
    source = new EventSource('/api/live?' + q);
    source.addEventListener('alert', (e) => {
      if (mine !== generation) return;
      const a = JSON.parse(e.data);
      if (loaded) arrived(a);
      else early.push(a);
    });
    source.addEventListener('error', () => {
      if (mine !== generation) return;
      source.close();
      setStatus('reconnecting', 'disconnected, reconnecting…');
      setTimeout(() => { if (mine === generation) restart(); }, 3000);
    });
    source.addEventListener('open', async () => {
      if (mine !== generation) return;
      try {
        const list = new URLSearchParams(q);
        list.set('limit', '100');
        const [alerts, c] = await Promise.all([getJson('/api/alerts?' + list), getJson('/api/counts?' + q)]);
        if (mine !== generation) return;
        counts = c.counts;
        show(alerts.alerts, false, false);
        const newest = alerts.alerts[0]?.entryId ?? '0-0';
        loaded = true;
        for (const a of early) if (newer(a.entryId, newest)) arrived(a);
        showCounts();
        setStatus('open', 'live');
      } catch (err) {
        setStatus('error', 'cannot load alerts: ' + err.message);
      }
    }, { once: true });
  }

  /** start(), its failures said in the status (a network error before the feed opened). */
  function restart() {
    start().catch((err) => setStatus('error', 'cannot load alerts: ' + err.message));
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    restart();
  });
  form.elements.severity.addEventListener('change', restart);
  pauseButton.addEventListener('click', () => {
    paused = !paused;
    pauseButton.textContent = paused ? 'Resume' : 'Pause';
    if (!paused) {
      show(queue.slice().reverse(), true, true);
      queue = [];
      showQueued();
    }
  });
  restart();
})();
`;

export { CSS_TYPE, JS_TYPE, type Asset } from './asset-types.js';

/** Every asset by path: the live page's here, each other page's from its own module. */
const ASSETS: Readonly<Record<string, Asset>> = {
  '/assets/console.css': { type: CSS_TYPE, body: CSS },
  '/assets/console.js': { type: JS_TYPE, body: JS },
  ...QUEUE_ASSETS,
  ...DETAIL_ASSETS,
  ...LAB_ASSETS,
};

/** Serves an asset; false when `path` is none. */
export function serveAsset(res: ServerResponse, path: string): boolean {
  const asset = ASSETS[path];
  if (asset === undefined) return false;
  res.writeHead(200, {
    'content-type': asset.type,
    'content-length': Buffer.byteLength(asset.body),
    'cache-control': 'no-cache',
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
  });
  res.end(asset.body);
  return true;
}
