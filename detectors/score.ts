import { z } from 'zod';
import type { VEvent } from '../src/types.js';
import { formatNumber } from './alert.js';
import { formatDuration, positiveDurationSchema } from '../src/time/duration.js';
import { evidenceRef } from '../src/types.js';
import { OPS, OP_TEXT, boundScore, boundStrength, commonFields, crosses, lastN } from './common.js';
import { KeyedState } from '../src/util/keyed-state.js';
import type { PerKeyState, DetectorContext, DetectorCore, Emit } from './types.js';
import { VigieError } from '../src/errors.js';

export const type = 'score';

/**
 * Score: risk scoring over the signals of other detectors of the pipeline. Each input detector adds its
 * weight to a key's risk while it has signalled for the key within `within` (counted once, at its latest
 * signal); the detector signals when the risk crosses the bound.
 * Example: `{ name: risk, type: score, within: 24h, value: 70, inputs: [{ detector: new-device, weight: 30 },
 * { detector: ato-sequence, weight: 50 }] }` (inputs usually have `emit: false`).
 *
 * Semantics, per key:
 * - The risk is judged on each input signal, at `now` = the latest input signal time of the key: it is
 *   the sum of the weights of the inputs whose latest signal is in [now - within, now].
 * - A signal is raised when the risk meets the bound (`risk <op> value`) and did not at the previous
 *   judgement: not again on every further input while it stays there. The detector re-arms as soon as
 *   the risk stops meeting the bound: when an input with a negative weight arrives, or when a
 *   contribution expires (contributions expire oldest first, and the risk is checked after each one).
 * - Expiry alone never raises a signal (e.g. a negative weight expiring): the next input signal does.
 * - A key whose contributions have all expired is forgotten (so re-armed). An input signal older than
 *   `now - within` contributes nothing.
 */
export const schema = z.strictObject({
  ...commonFields,
  type: z.literal(type),
  inputs: z
    .array(
      z.strictObject({
        detector: z.string().min(1).describe('Name of a detector of the same pipeline whose signals count.'),
        weight: z.number().finite().describe('Added to the risk of a key while that detector has signalled for it within `within` (negative: a mitigating signal).'),
      }),
    )
    .min(1)
    .superRefine((inputs, ctx) => {
      const first = new Map<string, number>();
      inputs.forEach(({ detector }, k) => {
        const at = first.get(detector);
        if (at === undefined) first.set(detector, k);
        else ctx.addIssue({ code: 'custom', path: [k, 'detector'], message: `detector "${detector}" is already input ${at + 1}: list each detector once, with one weight` });
      });
    })
    .describe('The detectors whose signals make up the risk, each with its weight (distinct detectors).'),
  within: positiveDurationSchema.describe('How long (event time) a signal keeps counting towards the risk of its key.'),
  op: z.enum(OPS).default('>=').describe('Comparison that raises the alert: risk <op> value.'),
  value: z.number().finite().describe('The risk bound.'),
});

export type Config = z.infer<typeof schema>;

/** One input detector's latest signal for a key. */
interface Contribution {
  input: number;
  time: number;
  evidence: string[];
}

interface KeyState {
  /** Latest input signal time seen for the key. */
  now: number;
  /** Whether the risk met the bound at the last judgement (no new signal until it stops). */
  above: boolean;
  /** At most one per input, oldest first. */
  contributions: Contribution[];
}

/** Snapshot of a key: contributions by detector name, so that a reordered config restores them. */
type KeySnap = [number, boolean, Array<[string, number, string[]]>];

export class ScoreCore implements DetectorCore {
  readonly input = 'signal';
  private readonly state: KeyedState<KeyState>;
  readonly perKey: PerKeyState<KeyState>;
  private readonly index: Map<string, number>;

  constructor(
    private readonly cfg: Config,
    private readonly ctx: DetectorContext,
  ) {
    this.state = new KeyedState(cfg.maxKeys);
    this.perKey = { state: this.state, what: `detector ${cfg.name}`, encode: (s) => this.encode(s), decode: (v) => this.decode(v) };
    this.index = new Map(cfg.inputs.map((inp, i) => [inp.detector, i]));
  }

  /** `e` is another detector's signal: payload `{ detector, observed, score, evidence }`, time and id its own. */
  add(key: string, e: VEvent, emit: Emit): void {
    const cfg = this.cfg;
    const detector = e.payload.detector;
    const input = typeof detector === 'string' ? this.index.get(detector) : undefined;
    if (input === undefined) return;
    const raw = e.payload.evidence;
    const evidence = Array.isArray(raw) ? lastN(raw.filter((x): x is string => typeof x === 'string'), this.ctx.evidenceLimit) : [];
    let st = this.state.touch(key);
    if (st === undefined) {
      st = { now: e.time, above: false, contributions: [] };
      this.state.set(key, st);
    }
    const now = Math.max(st.now, e.time);
    st.now = now;
    this.expire(st, now - cfg.within);
    const list = st.contributions;
    if (e.time >= now - cfg.within) {
      const at = list.findIndex((c) => c.input === input);
      if (at < 0 || list[at].time <= e.time) {
        if (at >= 0) list.splice(at, 1);
        // Usually the latest: insert from the end, keeping the list in time order.
        let i = list.length;
        while (i > 0 && list[i - 1].time > e.time) i--;
        list.splice(i, 0, { input, time: e.time, evidence });
      }
    }
    if (list.length === 0) {
      // A stale input signal alone: nothing to judge, the key is forgotten.
      this.state.delete(key);
      return;
    }
    const risk = this.risk(list);
    const met = crosses(cfg.op, risk, cfg.value);
    // The signal judged is not the pipeline's event being judged: name it.
    emit.judged(key, now, risk, risk, boundStrength(cfg.op, risk, cfg.value), met, evidenceRef(e));
    if (!met) {
      st.above = false;
      return;
    }
    if (st.above) return;
    st.above = true;
    const parts = list.map((c) => {
      const w = cfg.inputs[c.input].weight;
      return `${cfg.inputs[c.input].detector} (${w >= 0 ? '+' : ''}${formatNumber(w)})`;
    });
    const seen = new Set<string>();
    const union: string[] = [];
    for (const c of list) {
      for (const ref of c.evidence) {
        if (seen.has(ref)) continue;
        seen.add(ref);
        union.push(ref);
      }
    }
    const bound = cfg.op === '>=' ? `threshold ${formatNumber(cfg.value)}` : `threshold: ${OP_TEXT[cfg.op]} ${formatNumber(cfg.value)}`;
    emit.signal({
      key,
      time: now,
      identity: `signal:${detector as string}:${evidenceRef(e)}`,
      revision: 0,
      window: { start: list[0].time, end: now },
      observed: risk,
      threshold: cfg.value,
      score: boundScore(cfg.op, risk, cfg.value),
      explanation: `${cfg.name}: ${this.ctx.keyLabel} ${key} reached risk ${formatNumber(risk)} (${bound}) from ${parts.join(', ')} within ${formatDuration(cfg.within)}.`,
      evidence: lastN(union, this.ctx.evidenceLimit),
      details: {
        within: cfg.within,
        contributions: list.map((c) => ({ detector: cfg.inputs[c.input].detector, weight: cfg.inputs[c.input].weight, time: c.time })),
      },
    });
  }

  /** Sum of the weights of `list[from..]` (summed afresh, in order, so that it does not depend on the history). */
  private risk(list: readonly Contribution[], from = 0): number {
    let r = 0;
    for (let i = from; i < list.length; i++) r += this.cfg.inputs[list[i].input].weight;
    return r;
  }

  /** Drop contributions older than `horizon`, oldest first, re-arming when the risk stops meeting the bound. */
  private expire(st: KeyState, horizon: number): void {
    const list = st.contributions;
    let drop = 0;
    while (drop < list.length && list[drop].time < horizon) {
      drop++;
      if (!crosses(this.cfg.op, this.risk(list, drop), this.cfg.value)) st.above = false;
    }
    if (drop > 0) list.splice(0, drop);
  }

  advance(w: number): void {
    const horizon = w - this.cfg.within;
    this.state.expireFront((st) => st.contributions.length === 0 || st.contributions[st.contributions.length - 1].time < horizon);
  }

  stats(): { keys: number; evicted: number } {
    return { keys: this.state.size, evicted: this.state.evicted };
  }

  private encode(s: KeyState): KeySnap {
    return [s.now, s.above, s.contributions.map((c): [string, number, string[]] => [this.cfg.inputs[c.input].detector, c.time, c.evidence.slice()])];
  }

  private decode(v: unknown): KeyState {
    const what = this.perKey.what;
    const s = v as KeySnap;
    if (!Array.isArray(s) || typeof s[0] !== 'number' || typeof s[1] !== 'boolean' || !Array.isArray(s[2])) throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot entry`);
    const contributions: Contribution[] = [];
    for (const c of s[2]) {
      if (!Array.isArray(c) || typeof c[0] !== 'string' || typeof c[1] !== 'number' || !Array.isArray(c[2])) throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot entry`);
      const input = this.index.get(c[0]);
      // An input removed from the config since the checkpoint no longer counts.
      if (input !== undefined) contributions.push({ input, time: c[1], evidence: c[2].slice() });
    }
    return { now: s[0], above: s[1], contributions };
  }

  snapshot(): unknown {
    return this.state.snapshot((s) => this.encode(s));
  }

  restore(state: unknown): void {
    this.state.restore(state, (v) => this.decode(v), this.perKey.what);
  }
}

export function create(config: Config, ctx: DetectorContext): DetectorCore {
  return new ScoreCore(config, ctx);
}
