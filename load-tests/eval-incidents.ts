/**
 * `npm run eval:incidents [-- --seeds 1,2,3 --days 5 --warmup-days 1 --config config/telemetry.yaml --json]`:
 * the `anomaly` detectors of the telemetry config, with their default settings, against the incidents
 * the telemetry generator labels. Each seed is a stream of its own (services, traffic, incidents),
 * replayed through the engine; the first `--warmup-days` of event time are the detectors' learning
 * period and are not scored. Per incident type: recall and time-to-detect (median, p90); overall and
 * per-detector precision (src/eval/incidents.ts has the matching rules). Prints a table (per seed,
 * the mean and the worst seed) or, with `--json`, one JSON object. Reports figures; sets no target.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { evalIncidents, MATCH_AFTER_MS, type IncidentEvalRun } from '../src/eval/incidents.js';
import { INCIDENT_TYPES } from '../src/generator/index.js';

const DAY = 86_400_000;

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1,2,3' },
    days: { type: 'string', default: '5' },
    'warmup-days': { type: 'string', default: '1' },
    config: { type: 'string', default: 'config/telemetry.yaml' },
    json: { type: 'boolean', default: false },
  },
});
const seeds = values.seeds.split(',').map((s) => Number(s.trim()));
const days = Number(values.days);
const warmupDays = Number(values['warmup-days']);
if (seeds.some((s) => !Number.isInteger(s)) || !(days > 0) || !(warmupDays >= 0 && warmupDays < days)) {
  process.stderr.write('eval:incidents: --seeds a,b,c (integers), --days N > 0, --warmup-days M (0 <= M < N)\n');
  process.exit(2);
}

const log = (m: string) => values.json || process.stderr.write(`${m}\n`);
const runs: IncidentEvalRun[] = [];
for (const seed of seeds) {
  const [run] = await evalIncidents({ loaded: loadConfig(values.config), seeds: [seed], days, warmupMs: warmupDays * DAY, types: INCIDENT_TYPES });
  runs.push(run);
  log(`seed ${seed}: ${run.events} events, ${run.incidents.length} incidents, ${run.report.overall.alerts} alerts scored (${(run.durationMs / 1000).toFixed(1)} s)`);
}

const mean = (xs: number[]) => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);
const present = (xs: Array<number | null>) => xs.filter((x): x is number => x !== null);
const detectorNames = [...new Set(runs.flatMap((r) => Object.keys(r.report.detectors)))].sort();
/** Mean and worst over the seeds: lowest recall and precision, longest time-to-detect. */
const summary = {
  types: Object.fromEntries(
    INCIDENT_TYPES.map((t) => {
      const s = runs.map((r) => r.report.types[t]);
      const med = present(s.map((x) => x.ttdMedianMs));
      const p90 = present(s.map((x) => x.ttdP90Ms));
      return [
        t,
        {
          mean: { recall: mean(s.map((x) => x.recall)), ttdMedianMs: mean(med), ttdP90Ms: mean(p90) },
          worst: { recall: Math.min(...s.map((x) => x.recall)), ttdMedianMs: med.length ? Math.max(...med) : null, ttdP90Ms: p90.length ? Math.max(...p90) : null },
        },
      ];
    }),
  ),
  precision: {
    mean: mean(present(runs.map((r) => r.report.overall.precision))),
    worst: present(runs.map((r) => r.report.overall.precision)).reduce<number | null>((a, b) => (a === null ? b : Math.min(a, b)), null),
  },
  detectors: Object.fromEntries(
    detectorNames.map((d) => {
      const p = present(runs.map((r) => r.report.detectors[d]?.precision ?? null));
      return [d, { mean: mean(p), worst: p.length ? Math.min(...p) : null }];
    }),
  ),
};

if (values.json) {
  const perSeed = runs.map((r) => ({ seed: r.seed, events: r.events, incidents: r.incidents.length, seconds: Math.round(r.durationMs / 100) / 10, ...r.report }));
  process.stdout.write(`${JSON.stringify({ config: values.config, days, warmupDays, matchAfterMs: MATCH_AFTER_MS, seeds, perSeed, summary })}\n`);
} else {
  const f = (x: number | null) => (x === null ? '-' : x.toFixed(3));
  const min = (ms: number | null) => (ms === null ? '-' : (ms / 60_000).toFixed(1));
  const lines = [
    `Incidents, ${values.config}: ${days} days of event time per seed, the first ${warmupDays} not scored; an alert counts for an incident of its service from its start to ${MATCH_AFTER_MS / 60_000} min after its end`,
    '',
    'Recall (detected / cases) and time-to-detect in minutes (median / p90), per incident type:',
    '',
    `| seed | ${INCIDENT_TYPES.join(' | ')} | precision (matched / alerts) |`,
    `|---|${INCIDENT_TYPES.map(() => '---').join('|')}|---|`,
    ...runs.map(({ seed, report: r }) => {
      const cells = INCIDENT_TYPES.map((t) => {
        const s = r.types[t];
        return `${s.detected}/${s.cases} (${f(s.recall)}), ${min(s.ttdMedianMs)} / ${min(s.ttdP90Ms)}`;
      });
      return `| ${seed} | ${cells.join(' | ')} | ${r.overall.matched}/${r.overall.alerts} (${f(r.overall.precision)}) |`;
    }),
    ...(['mean', 'worst'] as const).map((w) => {
      const cells = INCIDENT_TYPES.map((t) => {
        const s = summary.types[t][w];
        return `${f(s.recall)}, ${min(s.ttdMedianMs)} / ${min(s.ttdP90Ms)}`;
      });
      return `| ${w} | ${cells.join(' | ')} | ${f(summary.precision[w])} |`;
    }),
    '',
    'Per detector: precision (matched / alerts) and the cases it matched, per type:',
    '',
    `| detector | ${seeds.map((s) => `seed ${s}`).join(' | ')} | mean | worst |`,
    `|---|${seeds.map(() => '---').join('|')}|---|---|`,
    ...detectorNames.map((d) => {
      const cells = runs.map(({ report: r }) => {
        const p = r.detectors[d];
        const cases = INCIDENT_TYPES.map((t) => `${t} ${r.types[t].detectors[d] ?? 0}`).join(', ');
        return p === undefined ? `- (${cases})` : `${p.matched}/${p.alerts} (${f(p.precision)}; ${cases})`;
      });
      return `| ${d} | ${cells.join(' | ')} | ${f(summary.detectors[d].mean)} | ${f(summary.detectors[d].worst)} |`;
    }),
    '',
    `time: ${runs.map((r) => `${(r.durationMs / 1000).toFixed(1)} s`).join(', ')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
