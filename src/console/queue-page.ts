/** The morning queue page: its shell only; /assets/queue.js fills it from the queue and alerts APIs. */
import { head, pageHeader } from './page.js';

export function queuePage(): string {
  return `${head('Vigie console: morning queue', '/assets/queue.css')}
<body>
${pageHeader('/queue')}
<form id="queue-form" class="filters">
<label>Queue <select name="period" id="q-period"></select></label>
<label>Capacity <input name="k" id="q-k" type="number" min="1" max="10000" value="20"></label>
<button type="submit">Show</button>
</form>
<section>
<h2 id="q-title">Morning queue</h2>
<p class="note">Keys ranked by the highest risk the model met in the period, for the unit's capacity. Open a key for its alerts and the payments they name.</p>
<table id="queue"><thead><tr><th>Rank</th><th>Key</th><th>Risk</th><th>Riskiest payment</th><th>At (UTC)</th></tr></thead>
<tbody></tbody></table>
<p id="q-empty" class="note"></p>
</section>
<script src="/assets/queue.js"></script>
</body></html>
`;
}
