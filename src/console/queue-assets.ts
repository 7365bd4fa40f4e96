/**
 * The morning queue page's style and script (served from /assets, no inline script). Rows and
 * details are built with textContent: keys, references and explanations never become markup.
 */
import { CSS_TYPE, JS_TYPE, type Asset } from './asset-types.js';

const CSS = `
#queue button.key { font: inherit; background: none; border: none; padding: 0; color: #1d4ed8; cursor: pointer; text-decoration: underline; }
#queue tr.open td { background: #f3f6fb; }
#queue tr.details td { background: #f8fafc; padding: .6rem 1rem 1rem; }
#queue tr.details h3 { font-size: .9rem; margin: .4rem 0; }
#queue tr.details ul { margin: 0; padding-left: 1.2rem; }
`;

const JS = `'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const form = $('queue-form');
  const tbody = document.querySelector('#queue tbody');
  let periods = [];

  class RequestFailed extends Error {}

  async function getJson(url) {
    const res = await fetch(url, { headers: { accept: 'application/json' } });
    if (res.status === 401) { location.assign('/login'); throw new RequestFailed('signed out'); }
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new RequestFailed((body.error && body.error.message) || ('HTTP ' + res.status));
    return body;
  }

  const time = (ms) => { const d = new Date(ms); return Number.isNaN(d.getTime()) ? '' : d.toISOString().replace('T', ' ').slice(0, 19); };
  const day = (ms) => time(ms).slice(0, 10);

  function el(tag, text, className) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (className) e.className = className;
    return e;
  }

  function cell(tr, text, className) { const td = el('td', text, className); tr.appendChild(td); return td; }

  function say(text) { $('q-empty').textContent = text; }

  function periodLabel(p) {
    const span = p.end - p.start === 86400000 ? day(p.start) : time(p.start) + ' to ' + time(p.end);
    return p.detector + ', ' + span + ' (' + p.lines + ' keys)';
  }

  async function loadPeriods() {
    const select = form.elements.period;
    try {
      periods = (await getJson('/api/queue/periods')).periods;
    } catch (err) {
      say('Cannot read the queues: ' + err.message);
      return;
    }
    select.textContent = '';
    periods.forEach((p, i) => { const o = el('option', periodLabel(p)); o.value = String(i); select.appendChild(o); });
    if (periods.length === 0) {
      say('No queue published yet: a model detector with a queue, and a redis sink with outputs [queue], publish one per period.');
      return;
    }
    await show();
  }

  let generation = 0;

  async function show() {
    const p = periods[Number(form.elements.period.value)];
    if (p === undefined) return;
    const mine = ++generation;
    const k = form.elements.k.value || '20';
    const q = new URLSearchParams({ detector: p.detector, start: String(p.start), k });
    let body;
    try {
      body = await getJson('/api/queue?' + q);
    } catch (err) {
      if (mine !== generation) return;
      tbody.textContent = '';
      say('Cannot read this queue: ' + err.message);
      return;
    }
    // Only the answer to the latest request is shown.
    if (mine !== generation) return;
    tbody.textContent = '';
    $('q-title').textContent = 'Morning queue: ' + periodLabel(p);
    say(body.lines.length === 0 ? 'This queue is empty.' : '');
    for (const line of body.lines) {
      const tr = document.createElement('tr');
      tr.dataset.key = line.key;
      cell(tr, String(line.rank), 'num');
      const key = el('button', line.key, 'key');
      key.type = 'button';
      key.setAttribute('aria-expanded', 'false');
      key.addEventListener('click', () => toggle(tr, key, line));
      cell(tr, '').appendChild(key);
      cell(tr, line.score.toFixed(3), 'num');
      cell(tr, line.ref);
      cell(tr, time(line.time), 'num');
      tbody.appendChild(tr);
    }
  }

  async function toggle(tr, button, line) {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains('details')) {
      next.remove();
      tr.classList.remove('open');
      button.setAttribute('aria-expanded', 'false');
      return;
    }
    tr.classList.add('open');
    button.setAttribute('aria-expanded', 'true');
    const row = el('tr', undefined, 'details');
    const td = el('td');
    td.colSpan = 5;
    row.appendChild(td);
    tr.after(row);
    td.appendChild(el('p', 'Loading…', 'note'));
    let alerts;
    let triage;
    try {
      [alerts, triage] = await Promise.all([
        getJson('/api/alerts?' + new URLSearchParams({ key: line.key, limit: '50' })).then((b) => b.alerts),
        getJson('/api/triage?' + new URLSearchParams({ subject: 'key', id: line.key })).then((b) => b.status),
      ]);
    } catch (err) {
      td.textContent = 'Cannot read the alerts of this key: ' + err.message;
      return;
    }
    td.textContent = '';
    const state = el('p', undefined, 'triage');
    state.appendChild(el('strong', 'Triage of this key: '));
    state.appendChild(document.createTextNode(triage ? triage.state + (triage.comment ? ' (' + triage.comment + ')' : '') + ', ' + time(triage.at) : 'not triaged yet'));
    td.appendChild(state);
    if (alerts.length > 0) td.appendChild(el('p', 'Open an alert to triage it or the whole key.', 'note'));
    // Payments: the riskiest one of the period, then those the alerts name.
    const payments = new Map([[line.ref, 'riskiest in the period, ' + time(line.time)]]);
    for (const a of alerts) for (const ref of a.evidence || []) if (!payments.has(ref)) payments.set(ref, 'named by ' + a.detector + ', ' + time(a.eventTime));
    td.appendChild(el('h3', 'Payments (' + payments.size + ')'));
    const pl = el('ul', undefined, 'payments');
    for (const [ref, why] of payments) pl.appendChild(el('li', ref + ': ' + why));
    td.appendChild(pl);
    td.appendChild(el('h3', 'Alerts (' + alerts.length + ')'));
    if (alerts.length === 0) td.appendChild(el('p', 'No alert on this key among the recent ones.', 'note'));
    const al = el('ul', undefined, 'alerts');
    for (const a of alerts) {
      const li = el('li');
      const link = el('a', time(a.eventTime) + ' ' + a.severity + ' ' + a.detector);
      link.href = '/alerts/' + encodeURIComponent(a.id);
      li.appendChild(link);
      li.appendChild(document.createTextNode(': ' + a.explanation));
      al.appendChild(li);
    }
    td.appendChild(al);
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); show(); });
  form.elements.period.addEventListener('change', show);
  loadPeriods();
})();
`;

export const QUEUE_ASSETS: Readonly<Record<string, Asset>> = {
  '/assets/queue.css': { type: CSS_TYPE, body: CSS },
  '/assets/queue.js': { type: JS_TYPE, body: JS },
};
