/** A pipeline's policy for events lacking a field (`missing` in the pipeline config). Pure. */
import type { VEvent } from '../types.js';
import type { PipelineConfig } from '../config/pipeline.js';

/** What the policy says of one event. */
export type MissingVerdict =
  | { action: 'keep'; event: VEvent }
  | { action: 'skip' }
  | { action: 'dead-letter'; fields: string[] };

const absent = (payload: Record<string, unknown>, f: string) => !Object.hasOwn(payload, f) || payload[f] === undefined || payload[f] === null;

/**
 * Judges events by the fields they lack: a `skip` field missing leaves the event out, else a `dead-letter`
 * field missing dead-letters it, else the missing fields with a default get it, in a copy of the event (the
 * event object is shared with the other pipelines and is never changed).
 */
export class MissingFields {
  private readonly skip: string[] = [];
  private readonly dead: string[] = [];
  private readonly defaults: Array<[string, unknown]> = [];

  private constructor(policy: NonNullable<PipelineConfig['missing']>) {
    for (const [f, p] of Object.entries(policy)) {
      if (p === 'skip') this.skip.push(f);
      else if (p === 'dead-letter') this.dead.push(f);
      else this.defaults.push([f, p.default]);
    }
  }

  /** The policy of a pipeline, or undefined when it has none. */
  static of(config: Pick<PipelineConfig, 'missing'>): MissingFields | undefined {
    const m = config.missing;
    return m === undefined || Object.keys(m).length === 0 ? undefined : new MissingFields(m);
  }

  judge(e: VEvent): MissingVerdict {
    const payload = e.payload;
    for (let i = 0; i < this.skip.length; i++) if (absent(payload, this.skip[i])) return { action: 'skip' };
    let lacking: string[] | undefined;
    for (let i = 0; i < this.dead.length; i++) if (absent(payload, this.dead[i])) (lacking ??= []).push(this.dead[i]);
    if (lacking !== undefined) return { action: 'dead-letter', fields: lacking };
    let out: Record<string, unknown> | undefined;
    for (let i = 0; i < this.defaults.length; i++) {
      const [f, v] = this.defaults[i];
      if (absent(payload, f)) (out ??= { ...payload })[f] = v;
    }
    return { action: 'keep', event: out === undefined ? e : { ...e, payload: out } };
  }
}
