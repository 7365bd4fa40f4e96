/** Several configs run over one read of the same input, each by its own engine. */
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.js';
import { Engine } from '../engine/engine.js';
import type { LabelOptions } from '../engine/labels.js';
import { createSource } from '../sources/index.js';
import { replaySources, type ReplayInput } from '../sources/replay-input.js';
import type { Source } from '../sources/types.js';
import { systemClock } from '../types.js';
import { memorySink } from '../../sinks/memory.js';
import type { Sink } from '../../sinks/types.js';
import { checkSameSources, forReplay } from './configs.js';
import { evaluatedValuesSink } from './judged-values.js';
import { teeSource } from './tee-source.js';
import type { VariantRun } from './variant-run.js';

/*
 * What-if / backtest: run two configs (A, the reference, and B, the variant) over the same recorded
 * input and compare their alerts.
 *
 * One pass: the input is read once and every raw batch is handed to two engines (a source fan-out,
 * `teeSource`), each running its own config unchanged. Each engine therefore computes exactly what
 * `vigie replay` of its config over that input computes (same watermarks, windows, cooldowns, label
 * scores), while the file or topic is read, and the generator run, only once. B's `sources` section
 * is ignored: B runs over A's sources, so B's pipelines may only name sources A defines.
 */

export interface RunVariantsOptions {
  /** A first: its sources are read (each unless `inputs` replaces it, all unless `source` does); the others run over them. */
  variants: LoadedConfig[];
  /** Files replacing A's sources (as `replay --input`); the sources without one are read as configured. */
  inputs?: readonly ReplayInput[];
  /** A ready source replacing A's sources (replay from Kafka). */
  source?: Source;
  labels?: LabelOptions;
  batchSize?: number;
  logger: Logger;
  /** Per variant, extra sinks (e.g. `--out` files). */
  sinks?: Array<Sink[] | undefined>;
  /** Sample the values threshold detectors judge (for the report). */
  sampleValues?: boolean;
  /** Where console sinks of configs would write; not used by the backtest sinks. */
  stdout?: NodeJS.WritableStream;
}

/** Run every variant over one read of the input (see the top of this file); resolves when all are done. */
export async function runVariants(o: RunVariantsOptions): Promise<VariantRun[]> {
  const [a, ...rest] = o.variants;
  for (const b of rest) checkSameSources(a, b);
  const batchSize = o.batchSize ?? a.config.engine.batchSize;
  const abort = new AbortController();
  let sources: Source[];
  if (o.source !== undefined) {
    sources = [o.source];
  } else {
    const ctx = { baseDir: a.baseDir, clock: systemClock, logger: o.logger, batchSize, stdin: process.stdin, signal: abort.signal };
    sources = replaySources(a.config.sources, o.inputs ?? [], o.logger).map((s) => createSource(s, ctx));
  }
  const branches = sources.map((s) => teeSource(s, o.variants.length));
  const runs = o.variants.map((loaded, i) => {
    const alerts = memorySink('backtest-alerts', ['alerts']);
    const values = o.sampleValues ? evaluatedValuesSink(loaded) : undefined;
    const sinks: Sink[] = [alerts, ...(values ? [values.sink] : []), ...(o.sinks?.[i] ?? [])];
    // No checkpoint store: replays never read or write partition state.
    const engine = new Engine({ loaded: forReplay(loaded), mode: 'replay', logger: o.logger, sources: branches.map((b) => b[i]), sinks, labels: o.labels, batchSize, stdout: o.stdout ?? process.stderr });
    return { loaded, engine, alerts, values };
  });
  try {
    const summaries = await Promise.all(
      runs.map((r) =>
        r.engine.run().catch((err: unknown) => {
          abort.abort();
          throw err;
        }),
      ),
    );
    return runs.map((r, i) => ({ loaded: r.loaded, summary: summaries[i], alerts: r.alerts.alerts, evaluated: r.values?.samples ?? new Map() }));
  } finally {
    abort.abort();
  }
}
