/**
 * The judgement board: how a detector of one pipeline reads, at event time, what a detector of another
 * pipeline judged about another entity (a payment judged with its terminal's risk, computed by the
 * pipeline keyed by terminal). A publishing detector records, per key, its latest judgements
 * (time, strength, value); a reader asks for the one valid at its event's time: the latest with a
 * time at or before it. One board serves the pipelines of one task (docs/scoring.md says when that
 * gives the same answers in replay and live). Pure: no I/O, no clock.
 */
import { KeyedState } from '../src/util/keyed-state.js';

/** Per key: [time, strength, observed] triples, oldest first. */
type Versions = number[];

export interface BoardRead {
  strength: number;
  observed: number;
}

class Published {
  readonly keys: KeyedState<Versions>;
  /**
   * The publisher's watermark when the current batch started. Readers (later pipelines of the task)
   * have reached it, so they only read at times at or after it: per key, the judgement valid then and
   * those made since are kept, older ones are dropped (memory: one batch of judgements per key at most).
   */
  horizon = -Infinity;
  constructor(maxKeys: number) {
    this.keys = new KeyedState<Versions>(maxKeys);
  }
}

/** Index of the judgement valid at `t` (the latest at or before it) in `v`; -1 when none. */
function validAt(v: Versions, t: number): number {
  for (let i = v.length - 3; i >= 0; i -= 3) if (v[i] <= t) return i;
  return -1;
}

export class JudgementBoard {
  private readonly published = new Map<string, Published>();

  /** `wanted`: the `pipeline/detector` pairs some reader reads (only those are recorded). */
  constructor(private readonly wanted: ReadonlySet<string> = new Set()) {}

  static id(pipeline: string, detector: string): string {
    return `${pipeline}/${detector}`;
  }

  wants(pipeline: string, detector: string): boolean {
    return this.wanted.has(JudgementBoard.id(pipeline, detector));
  }

  /** The recorder of a publishing detector (call it for every judgement, in event-time order per key). */
  recorder(pipeline: string, detector: string, maxKeys: number): (key: string, time: number, strength: number, observed: number) => void {
    const id = JudgementBoard.id(pipeline, detector);
    let p = this.published.get(id);
    if (p === undefined) {
      p = new Published(maxKeys);
      this.published.set(id, p);
    }
    const keys = p.keys;
    const pub = p;
    return (key, time, strength, observed) => {
      let v = keys.touch(key);
      if (v === undefined) {
        v = [];
        keys.set(key, v);
      }
      const n = v.length;
      if (n >= 3 && v[n - 3] === time) {
        v[n - 2] = strength;
        v[n - 1] = observed;
        return;
      }
      v.push(time, strength, observed);
      let drop = 0;
      while (drop + 3 < v.length && v[drop + 3] <= pub.horizon) drop += 3;
      if (drop > 0) v.splice(0, drop);
    };
  }

  /** The publishing pipeline starts a batch at watermark `w` (see Published.horizon). */
  advancing(pipeline: string, w: number): void {
    for (const [id, p] of this.published) if (id.startsWith(`${pipeline}/`) && w > p.horizon) p.horizon = w;
  }

  /** What `pipeline/detector` last judged about `key` at or before `t`; undefined when nothing is known. */
  read(pipeline: string, detector: string, key: string, t: number): BoardRead | undefined {
    const v = this.published.get(JudgementBoard.id(pipeline, detector))?.keys.peek(key);
    const i = v === undefined ? -1 : validAt(v, t);
    return i < 0 ? undefined : { strength: (v as Versions)[i + 1], observed: (v as Versions)[i + 2] };
  }

  /**
   * The reader of one value (`observed` or `strength`) of `pipeline/detector`, for a reader that asks
   * per event: the same answers as {@link read}, with nothing looked up by name nor allocated per call.
   */
  reader(pipeline: string, detector: string, value: 'observed' | 'strength'): (key: string, t: number) => number | undefined {
    const id = JudgementBoard.id(pipeline, detector);
    const at = value === 'observed' ? 2 : 1;
    let p: Published | undefined;
    return (key, t) => {
      p ??= this.published.get(id);
      const v = p?.keys.peek(key);
      if (v === undefined) return undefined;
      const i = validAt(v, t);
      return i < 0 ? undefined : v[i + at];
    };
  }

  /** The recorded judgements of a pipeline's detectors (saved with the pipeline's detectors). */
  snapshot(pipeline: string): Array<[string, unknown]> {
    const out: Array<[string, unknown]> = [];
    for (const [id, p] of this.published) if (id.startsWith(`${pipeline}/`)) out.push([id, p.keys.snapshot((v) => v.slice())]);
    return out;
  }

  /** Put back the saved judgements of the pipeline's detectors that were restored (`restored`: their names). */
  restore(pipeline: string, saved: ReadonlyArray<[string, unknown]> | undefined, restored: ReadonlySet<string>): void {
    if (!Array.isArray(saved)) return;
    for (const [id, state] of saved) {
      const p = this.published.get(id);
      if (p === undefined || !id.startsWith(`${pipeline}/`) || !restored.has(id.slice(pipeline.length + 1))) continue;
      p.keys.restore<number[]>(state, (v) => v.slice(), `judgements of ${id}`);
    }
  }
}
