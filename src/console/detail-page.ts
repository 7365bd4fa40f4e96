/**
 * The alert detail page (`GET /alerts/ID`): a server-rendered shell that /assets/detail.js fills from
 * the API (the alert, its key's history, the triage of the alert and of its key). Nothing of the alert
 * is in the HTML: the script writes it as text. Analysts get the triage controls; read-only users a note.
 */
import type { Role } from './auth.js';
import { head, pageHeader } from './page.js';
import { MAX_COMMENT, TRIAGE_STATES, type Subject } from './triage.js';

/** The triage panel of one subject: its state, and for analysts the form that changes it. */
function triagePanel(subject: Subject, title: string, role: Role): string {
  const options = TRIAGE_STATES.map((s) => `<option value="${s}">${s}</option>`).join('');
  const form =
    role === 'analyst'
      ? `<form class="triage-form" data-subject="${subject}">
<label>State <select name="state" id="${subject}-state-select">${options}</select></label>
<label>Comment <textarea name="comment" id="${subject}-comment" maxlength="${MAX_COMMENT}" rows="3"></textarea></label>
<button type="submit" id="${subject}-save">Save</button>
<span class="saved" id="${subject}-saved" role="status"></span>
</form>`
      : `<p class="note readonly">Read-only: changing the triage needs the analyst role.</p>`;
  return `<section class="triage" id="triage-${subject}">
<h3>${title}</h3>
<p>State: <strong class="state" id="${subject}-state">new</strong> <span class="note" id="${subject}-by"></span></p>
<p class="comment" id="${subject}-current-comment"></p>
${form}
<h4>History</h4>
<ol class="audit" id="${subject}-audit"></ol>
</section>`;
}

export function detailPage(role: Role): string {
  return `${head('Vigie console: alert', '/assets/detail.css')}
<body data-role="${role}" data-detail="loading">
${pageHeader('', '<span id="status" class="status">loading…</span>')}
<main id="detail">
<section id="summary">
<h2 id="explanation"></h2>
<dl class="facts">
<dt>Observed / threshold</dt><dd id="observed" class="num"></dd>
<dt>Score</dt><dd id="score" class="num"></dd>
<dt>Severity</dt><dd id="severity"></dd>
<dt>Detector</dt><dd id="detector"></dd>
<dt>Pipeline</dt><dd id="pipeline"></dd>
<dt>Key</dt><dd id="key"></dd>
<dt>Window (UTC)</dt><dd id="window"></dd>
<dt>Event time (UTC)</dt><dd id="event-time"></dd>
<dt>Detected at (UTC)</dt><dd id="detected-at"></dd>
<dt>Config version</dt><dd id="config-version"></dd>
<dt>Alert id</dt><dd id="alert-id"></dd>
<dt>Stored in</dt><dd id="stored"></dd>
</dl>
</section>
<section id="evidence-section">
<h2>Contributing events</h2>
<ul id="evidence" class="evidence"></ul>
<p id="no-evidence" class="note" hidden>No event ids stored with this alert.</p>
<h3>Details</h3>
<table id="details"><tbody></tbody></table>
<p id="no-details" class="note" hidden>No details.</p>
</section>
<section id="triage-section">
<h2>Triage</h2>
<div class="panels">
${triagePanel('alert', 'This alert', role)}
${triagePanel('key', 'This key (all its alerts)', role)}
</div>
<p class="note"><a href="/api/labels.jsonl" download>Export the labels (JSON lines)</a>, for <code>vigie replay --labels-from</code>.</p>
</section>
<section id="history-section">
<h2>Other alerts of this key <span class="note">(newest first)</span></h2>
<table id="history"><thead><tr><th>Time (UTC)</th><th>Severity</th><th>Detector</th><th>Explanation</th><th>Observed / threshold</th></tr></thead><tbody></tbody></table>
<p id="no-history" class="note" hidden>No other alert of this key among the recent entries.</p>
</section>
</main>
<script src="/assets/detail.js"></script>
</body></html>
`;
}
