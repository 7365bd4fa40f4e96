/** A sampler of the values threshold detectors judge, and the sink that feeds it from window results (for the report). */
import type { LoadedConfig } from '../config/load.js';
import type { Sink, SinkBatch } from '../../sinks/types.js';
import { thresholdsOf } from './configs.js';

/** A bounded, deterministic sample of numbers (reservoir), with exact count, min and max. */
export class ValueSample {
  count = 0;
  min = Infinity;
  max = -Infinity;
  readonly values: number[] = [];
  private seed = 0x9e3779b9;

  constructor(readonly capacity = 50_000) {}

  add(v: number): void {
    this.count++;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    if (this.values.length < this.capacity) {
      this.values.push(v);
      return;
    }
    // xorshift32: the same input always gives the same sample.
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    const j = this.seed % this.count;
    if (j < this.capacity) this.values[j] = v;
  }
}

/**
 * A sink that samples, per threshold detector, the value of its aggregate in every window result of
 * its pipeline: the distribution the threshold cuts through (for the report).
 */
export function evaluatedValuesSink(loaded: LoadedConfig): { sink: Sink; samples: Map<string, ValueSample> } {
  const byPipeline = new Map<string, Array<{ detector: string; aggregate: string; minCount: number; sample: ValueSample }>>();
  const samples = new Map<string, ValueSample>();
  for (const [detector, t] of thresholdsOf(loaded)) {
    const sample = new ValueSample();
    samples.set(detector, sample);
    let list = byPipeline.get(t.pipeline);
    if (list === undefined) byPipeline.set(t.pipeline, (list = []));
    list.push({ detector, aggregate: t.aggregate, minCount: t.minCount, sample });
  }
  const sink: Sink = {
    name: 'backtest-values',
    type: 'memory',
    acknowledges: false,
    outputs: new Set(['results']),
    async write(b: SinkBatch) {
      for (const r of b.results) {
        const list = byPipeline.get(r.pipeline);
        if (list === undefined) continue;
        for (const e of list) {
          const v = r.values[e.aggregate];
          if (typeof v === 'number' && Number.isFinite(v) && r.count >= e.minCount) e.sample.add(v);
        }
      }
    },
    async close() {},
  };
  return { sink, samples };
}
