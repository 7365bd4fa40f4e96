/**
 * The lab page: pick a recorded dataset, edit a config (validated as one types), run a backtest of it
 * or a what-if against the current config, and read the summary and the HTML report. Everything it
 * shows comes from /api/lab/ (lab-routes.ts), loaded by /assets/lab.js; the report is framed from
 * /lab/runs/ID/report in a sandboxed iframe.
 */
import { head, pageHeader } from './page.js';

export interface LabPageOptions {
  /** A folder of datasets was given (--lab-dir). */
  enabled: boolean;
  /** The current config's file name (--config), when there is one. */
  current?: string;
  /** Whether the visitor may start runs. */
  analyst: boolean;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function disabled(): string {
  return `<main class="lab"><section class="lab-off">
<h2>The lab is not enabled</h2>
<p>The lab replays recorded datasets through an edited config, without touching live alerts. Start the console with a folder of datasets:</p>
<pre>vigie console -c config/payments.yaml --lab-dir recordings/</pre>
<p class="note">The folder holds NDJSON (<code>.jsonl</code>, <code>.ndjson</code>) or MessagePack (<code>.msgpack</code>) files, as <code>vigie replay --input</code> reads them; <code>--config</code> is the current config the lab compares against. See docs/console.md, section Lab.</p>
</section></main>`;
}

export function labPage(o: LabPageOptions): string {
  const body = !o.enabled
    ? disabled()
    : `<main class="lab">
<section class="lab-setup" aria-label="Run settings">
<label>Input <select id="input-kind"><option value="dataset">Recorded dataset</option><option value="kafka">Kafka time range</option></select></label>
<label id="dataset-field">Dataset <select id="dataset" required></select></label>
<span id="kafka-fields" class="kafka-fields" hidden>
<label>Topic <input id="k-topic" autocomplete="off" placeholder="payments"></label>
<label>Since <input id="k-since" autocomplete="off" value="24h" size="22"></label>
<label>Until <input id="k-until" autocomplete="off" placeholder="now (end offsets)" size="22"></label>
</span>
<label id="source-field" hidden>Source <select id="source"></select></label>
<fieldset class="modes"><legend>Run</legend>
<label><input type="radio" name="mode" value="what-if"${o.current === undefined ? ' disabled' : ' checked'}> What-if: current config vs edited</label>
<label><input type="radio" name="mode" value="backtest"${o.current === undefined ? ' checked' : ''}> Backtest: edited config alone</label>
</fieldset>
<button type="button" id="run"${o.analyst ? '' : ' disabled'}>Run</button>
<button type="button" id="reset"${o.current === undefined ? ' hidden' : ''}>Reset to current</button>
<span id="run-status" class="status" role="status"></span>
${o.analyst ? '' : '<p class="note">Running needs the analyst role; you can read the runs and their reports.</p>'}
</section>
<section class="editor" aria-label="Config">
<h2>Config <span class="note">${o.current === undefined ? '(no current config: start the console with --config FILE to compare against it)' : `(edited from ${esc(o.current)})`}</span></h2>
<div class="code"><div id="gutter" class="gutter" aria-hidden="true"></div><textarea id="config" spellcheck="false" autocomplete="off" wrap="off" aria-label="Config (YAML)"></textarea></div>
<p id="validity" class="validity"></p>
<ul id="problems" class="problems"></ul>
</section>
<section id="result" class="result" hidden>
<h2>Run <span id="run-id" class="note"></span></h2>
<div id="run-error" class="run-error" role="alert" hidden><p class="error-code"></p><pre class="message"></pre><p class="remedy"></p></div>
<p id="run-facts" class="note"></p>
<table id="summary"><thead></thead><tbody></tbody></table>
<table id="recall" hidden><thead></thead><tbody></tbody></table>
<p id="report-link" hidden><a target="_blank" rel="noopener">Open the report in a tab</a></p>
<iframe id="report" sandbox title="Backtest report" hidden></iframe>
</section>
<section class="history"><h2>Recent runs</h2><ul id="runs" class="runs"></ul></section>
</main>`;
  return `${head('Vigie console: lab', '/assets/lab.css')}
<body data-role="${o.analyst ? 'analyst' : 'read-only'}"${o.current === undefined ? '' : ' data-current="1"'}>
${pageHeader('/lab')}
${body}
${o.enabled ? '<script src="/assets/lab.js"></script>' : ''}
</body></html>
`;
}
