/**
 * The alert detail page's style and script (served from /assets, no inline script under the page's
 * Content-Security-Policy). The script writes every alert field as text (textContent): alert data,
 * comments and ids never become markup; links are built with encodeURIComponent.
 */
import { CSS_TYPE, JS_TYPE, type Asset } from './asset-types.js';

const CSS = `
main { max-width: 72rem; }
#summary h2 { font-size: 1.15rem; margin: 1rem 0 .6rem; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
.facts dt { color: #5b6474; }
.facts dd { margin: 0; justify-self: start; }
.num { font-variant-numeric: tabular-nums; }
.sev-critical { color: #fff; background: #b3261e; padding: 0 .3rem; border-radius: 3px; }
.sev-high { color: #b3261e; font-weight: 600; }
.sev-medium { color: #a35a00; }
.evidence { display: flex; flex-wrap: wrap; gap: .4rem; list-style: none; padding: 0; margin: 0; }
.evidence li { background: #eef1f6; border-radius: 4px; padding: .15rem .5rem; font-family: ui-monospace, monospace; }
.evidence .fields { font-family: system-ui, sans-serif; color: #5b6474; margin-left: .4rem; }
#details td:first-child { color: #5b6474; white-space: nowrap; }
.panels { display: flex; flex-wrap: wrap; gap: 1.2rem; }
.triage { flex: 1 1 24rem; background: #fff; border: 1px solid #e4e8ef; border-radius: 6px; padding: .2rem 1rem .8rem; }
.triage h3 { font-size: 1rem; }
.triage h4 { font-size: .9rem; margin: .8rem 0 .2rem; }
.triage-form { display: flex; flex-direction: column; gap: .5rem; max-width: 30rem; }
.triage-form label { display: flex; flex-direction: column; font-size: .85rem; color: #5b6474; }
.triage-form button { align-self: flex-start; }
.state[data-state="confirmed_fraud"] { color: #b3261e; }
.state[data-state="false_positive"] { color: #1b7f3b; }
.state[data-state="investigating"] { color: #a35a00; }
.comment { white-space: pre-wrap; }
.audit { padding-left: 1.2rem; margin: 0; }
.audit li { margin: .2rem 0; white-space: pre-wrap; }
.saved { color: #1b7f3b; }
.saved.error { color: #b3261e; }
.readonly { font-style: italic; }
`;

const JS = `'use strict';
(() => {
  /** A request of the page that failed (the page's own errors, not the server's codes). */
  class RequestFailed extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  const $ = (id) => document.getElementById(id);
  const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'];
  const analyst = document.body.dataset.role === 'analyst';
  let alert = null;

  function alertIdOfPath() {
    try {
      return decodeURIComponent(location.pathname.slice('/alerts/'.length));
    } catch {
      return '';
    }
  }

  async function request(path, init) {
    const res = await fetch(path, Object.assign({ headers: { accept: 'application/json' } }, init));
    if (res.status === 401) {
      location.assign('/login');
      throw new RequestFailed('signed out', 401);
    }
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (!res.ok) throw new RequestFailed(body && body.error ? body.error.message : path + ': ' + res.status, res.status);
    return body;
  }

  function setStatus(state, text) {
    document.body.dataset.detail = state;
    $('status').textContent = text;
  }

  function time(ms) {
    const d = new Date(ms);
    return typeof ms !== 'number' || Number.isNaN(d.getTime()) ? '' : d.toISOString().replace('T', ' ').slice(0, 23);
  }

  function put(id, text) {
    $(id).textContent = text;
  }

  function valueText(v) {
    return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
  }

  function severityBadge(el, severity) {
    el.textContent = String(severity);
    el.className = SEVERITIES.includes(severity) ? 'sev-' + severity : '';
  }

  function alertLink(a, text) {
    const link = document.createElement('a');
    link.href = '/alerts/' + encodeURIComponent(String(a.id));
    link.textContent = text;
    return link;
  }

  function showSummary(a) {
    document.title = 'Vigie console: alert ' + a.id;
    put('explanation', String(a.explanation ?? ''));
    put('observed', a.observed + ' against ' + a.threshold);
    put('score', String(a.score));
    severityBadge($('severity'), a.severity);
    put('detector', a.detector + ' (' + a.detectorType + ')');
    put('pipeline', String(a.pipeline));
    put('key', String(a.key));
    put('window', a.window ? time(a.window.start) + ' to ' + time(a.window.end) : 'none (a single event)');
    put('event-time', time(a.eventTime));
    put('detected-at', time(a.detectedAt));
    put('config-version', String(a.configVersion));
    put('alert-id', String(a.id) + (a.revision > 0 ? ' (revision ' + a.revision + ')' : ''));
    put('stored', a.stream + ' ' + a.entryId);
  }

  function showEvidence(a) {
    const list = $('evidence');
    list.replaceChildren();
    const evidence = Array.isArray(a.evidence) ? a.evidence : [];
    for (const e of evidence) {
      const li = document.createElement('li');
      if (typeof e === 'object' && e !== null) {
        const ref = e.ref ?? e.id ?? '';
        li.dataset.ref = String(ref);
        li.textContent = String(ref);
        const fields = document.createElement('span');
        fields.className = 'fields';
        fields.textContent = Object.entries(e).filter(([k]) => k !== 'ref' && k !== 'id').map(([k, v]) => k + ': ' + valueText(v)).join(', ');
        li.appendChild(fields);
      } else {
        li.dataset.ref = String(e);
        li.textContent = String(e);
      }
      list.appendChild(li);
    }
    $('no-evidence').hidden = evidence.length > 0;
    const body = document.querySelector('#details tbody');
    body.replaceChildren();
    const details = a.details && typeof a.details === 'object' ? Object.entries(a.details) : [];
    for (const [k, v] of details) {
      const tr = document.createElement('tr');
      for (const text of [k, valueText(v)]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    $('no-details').hidden = details.length > 0;
  }

  function showHistory(history) {
    const body = document.querySelector('#history tbody');
    body.replaceChildren();
    for (const h of history) {
      const tr = document.createElement('tr');
      tr.dataset.id = String(h.id);
      const cells = [time(h.eventTime), null, String(h.detector), null, h.observed + ' / ' + h.threshold];
      cells.forEach((text, i) => {
        const td = document.createElement('td');
        if (i === 1) severityBadge(td, h.severity);
        else if (i === 3) td.appendChild(alertLink(h, String(h.explanation ?? h.id)));
        else td.textContent = text;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    }
    $('no-history').hidden = history.length > 0;
  }

  function showTriage(subject, t) {
    const s = t.status;
    const state = $(subject + '-state');
    state.textContent = s ? s.state : 'new (not triaged)';
    state.dataset.state = s ? s.state : 'none';
    put(subject + '-by', s ? 'by ' + s.role + ', ' + time(s.at) + ' UTC' : '');
    put(subject + '-current-comment', s ? s.comment : '');
    if (analyst) {
      $(subject + '-state-select').value = s ? s.state : 'new';
      $(subject + '-comment').value = s ? s.comment : '';
    }
    const list = $(subject + '-audit');
    list.replaceChildren();
    for (const e of t.history) {
      const li = document.createElement('li');
      li.dataset.state = e.state;
      li.textContent = time(e.time) + ': ' + (e.previous || 'none') + ' → ' + e.state + ' (' + e.role + ')' + (e.comment ? ': ' + e.comment : '');
      list.appendChild(li);
    }
    if (t.history.length === 0) {
      const li = document.createElement('li');
      li.className = 'note';
      li.textContent = 'never triaged';
      list.appendChild(li);
    }
  }

  const subjectId = (subject) => (subject === 'alert' ? String(alert.id) : String(alert.key));

  async function loadTriage() {
    const [a, k] = await Promise.all(['alert', 'key'].map((s) => request('/api/triage?' + new URLSearchParams({ subject: s, id: subjectId(s) }))));
    showTriage('alert', a);
    showTriage('key', k);
  }

  async function save(form) {
    const subject = form.dataset.subject;
    const saved = $(subject + '-saved');
    saved.className = 'saved';
    saved.textContent = 'saving…';
    if (alert === null) {
      saved.className = 'saved error';
      saved.textContent = 'not saved: the alert is not loaded yet';
      return;
    }
    let r;
    try {
      const body = { subject, id: subjectId(subject), state: form.elements.state.value, comment: form.elements.comment.value };
      r = await request('/api/triage', { method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/json' }, body: JSON.stringify(body) });
    } catch (err) {
      saved.className = 'saved error';
      saved.textContent = 'not saved: ' + err.message;
      return;
    }
    const done = 'saved (' + r.labels + ' event' + (r.labels === 1 ? '' : 's') + ' labelled)';
    // Said once the new state is shown (or could not be read back: the change is saved all the same).
    try {
      await loadTriage();
      saved.textContent = done;
    } catch (err) {
      saved.textContent = done + '; cannot show the new state: ' + err.message;
    }
  }

  for (const form of document.querySelectorAll('.triage-form')) {
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void save(form);
    });
  }

  async function start() {
    const id = alertIdOfPath();
    try {
      const found = await request('/api/alerts/' + encodeURIComponent(id));
      alert = found.alert;
      showSummary(alert);
      showEvidence(alert);
      showHistory(found.history);
      await loadTriage();
      setStatus('ready', 'alert ' + alert.id);
    } catch (err) {
      setStatus('error', err.status === 404 ? 'no alert "' + id + '" among the recent entries' : 'cannot load the alert: ' + err.message);
    }
  }
  void start();
})();
`;

export const DETAIL_ASSETS: Readonly<Record<string, Asset>> = {
  '/assets/detail.css': { type: CSS_TYPE, body: CSS },
  '/assets/detail.js': { type: JS_TYPE, body: JS },
};
