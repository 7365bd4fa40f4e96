import { z } from 'zod';
import type { VEvent } from '../src/types.js';
import { isoTime } from './alert.js';
import { formatDuration, positiveDurationSchema } from '../src/time/duration.js';
import { evidenceRef } from '../src/types.js';
import { commonFields, compileMatch, lastN, matchSchema } from './common.js';
import { KeyedState } from '../src/util/keyed-state.js';
import type { PerKeyState, DetectorContext, DetectorCore, Emit } from './types.js';
import { VigieError } from '../src/errors.js';

export const type = 'sequence';

/**
 * Sequence: a key's events match steps A, then B (then C…) in this order, the last one no later than
 * `within` after the first: account takeover (login from a new device, password change, large transfer),
 * card-not-present test then cash-out, a series of failed logins then a success.
 * Example: `{ name: ato-sequence, type: sequence, within: 30m, steps: [{ name: login, match: { type: login, new_device: true } },
 * { name: password_change, match: { type: password_change } }, { name: transfer, match: { type: transfer, amount: { gte: 1000 } } }] }`
 *
 * Semantics (per key; events come in event-time order):
 * - A *partial match* is a prefix of the steps matched by distinct events of the key, in order. Every event
 *   advances each partial match whose next step it matches (one step per partial match: an event never
 *   fills two steps of the same match), and an event matching step 0 also starts a new partial match.
 * - Non-strict (default): other events may occur between steps. `strict: true`: every event of the key
 *   (that passes `match`) must be the next step of a partial match, or that partial match is broken.
 * - A partial match expires when an event (or the watermark) is more than `within` after its first step:
 *   a match is complete when its last step is at most `within` after its first (both ends inclusive).
 *   Expired matches are counted (`timedOut`) when dropped: on the key's next event, or with the whole key
 *   on `advance` once all its partial matches have expired.
 * - Of two partial matches at the same step, only the more recent one (later first step) is kept: every
 *   future completion of the older is a completion of the newer at the same event, and the newer expires
 *   later (so the match reported is the tightest). A key thus holds at most one partial match per step,
 *   fewer when `maxPartials` is smaller; beyond it the oldest is dropped (counted in `dropped`).
 * - When an event completes a match, the detector signals once and drops every partial match of the key:
 *   older partial matches are always at least as advanced as newer ones, so the completed match is the
 *   oldest alive and all others started at or after its start; a completion of any of them would report
 *   events overlapping this one. A new occurrence starts after the completing event (which does not start
 *   one itself).
 */
export const schema = z.strictObject({
  ...commonFields,
  type: z.literal(type),
  steps: z
    .array(
      z.strictObject({
        name: z.string().min(1).describe('Name of the step in explanations, e.g. `password_change`.'),
        match: matchSchema.describe('Conditions an event must meet to be this step (`{}`: any event).'),
      }),
    )
    .min(2)
    .describe('The steps, in the order they must occur (at least 2); each is filled by a distinct event of the key.'),
  within: positiveDurationSchema.describe('Most event time from the first step to the last (inclusive).'),
  strict: z
    .boolean()
    .default(false)
    .describe('true: the steps must be consecutive among the key\'s events (those passing `match`); any other event of the key breaks a partial match. false: other events may occur in between.'),
  match: matchSchema.optional().describe('Consider only events matching these conditions (others are ignored by this detector, in strict mode too).'),
  maxPartials: z
    .number()
    .int()
    .min(1)
    .default(16)
    .describe('Most partial matches kept per key (at most one per step is ever needed); beyond it the oldest is dropped.'),
});

export type Config = z.infer<typeof schema>;

/** A prefix of the steps, matched: the time and evidence ref of the event of each step. */
interface Partial {
  times: number[];
  refs: string[];
}

interface KeyState {
  /** Oldest first (by first step). */
  partials: Partial[];
}

type PartialSnap = [number[], string[]];

/** "2024-05-01T10:00:03Z" for the first step, "10:04:10Z" for later steps of the same day. */
function stepTime(ms: number, day: string): string {
  const iso = isoTime(ms).replace('.000Z', 'Z');
  return iso.startsWith(day) ? iso.slice(day.length + 1) : iso;
}

export class SequenceCore implements DetectorCore {
  readonly input = 'event';
  /** Partial matches dropped because they could no longer complete within `within` (cumulative). */
  timedOut = 0;
  /** Partial matches dropped because a key held `maxPartials` already (cumulative). */
  dropped = 0;
  /** Partial matches broken by an unexpected event in strict mode (cumulative). */
  broken = 0;
  private readonly state: KeyedState<KeyState>;
  readonly perKey: PerKeyState<KeyState>;
  private readonly matches: (p: Record<string, unknown>) => boolean;
  private readonly steps: Array<(p: Record<string, unknown>) => boolean>;

  constructor(
    private readonly cfg: Config,
    private readonly ctx: DetectorContext,
  ) {
    this.state = new KeyedState(cfg.maxKeys);
    this.perKey = { state: this.state, what: `detector ${cfg.name}`, encode: (s) => this.encode(s), decode: (v) => this.decode(v), rest: () => [this.timedOut, this.dropped, this.broken], restoreRest: (x) => this.restoreCounters(x) };
    this.matches = compileMatch(cfg.match);
    this.steps = cfg.steps.map((s) => compileMatch(s.match));
  }

  /** Partial matches held now, over all keys. */
  get partials(): number {
    let n = 0;
    for (const [, st] of this.state.entries()) n += st.partials.length;
    return n;
  }

  add(key: string, e: VEvent, emit: Emit): void {
    const cfg = this.cfg;
    if (!this.matches(e.payload)) return;
    const n = this.steps.length;
    const hits = new Array<boolean>(n);
    let any = false;
    for (let k = 0; k < n; k++) any = (hits[k] = this.steps[k](e.payload)) || any;
    const st = this.state.peek(key);
    const t = e.time;
    if (st === undefined && !hits[0]) {
      emit.judged(key, t, 0, 0, 0, false);
      return;
    }
    let partials = st?.partials ?? [];
    // Oldest first: the expired ones are at the front.
    const horizon = t - cfg.within;
    let expired = 0;
    while (expired < partials.length && partials[expired].times[0] < horizon) expired++;
    if (expired > 0) {
      this.timedOut += expired;
      partials = partials.slice(expired);
    }
    if (!any && !cfg.strict) {
      if (expired > 0) this.put(key, partials, false);
      this.judged(key, t, partials, emit);
      return;
    }
    const ref = evidenceRef(e);
    const next: Partial[] = [];
    let done: Partial | undefined;
    for (const p of partials) {
      const k = p.times.length;
      if (hits[k]) {
        const q = { times: [...p.times, t], refs: [...p.refs, ref] };
        if (k + 1 === n) done = q;
        else next.push(q);
      } else if (cfg.strict) this.broken++;
      else next.push(p);
    }
    if (done !== undefined) {
      this.state.delete(key);
      emit.judged(key, t, n, 1, 1, true);
      this.signal(key, done, emit);
      return;
    }
    if (hits[0]) next.push({ times: [t], refs: [ref] });
    // One partial match per step: keep the most recent (the list is in order of first step).
    const kept: Partial[] = [];
    const seen = new Set<number>();
    for (let i = next.length - 1; i >= 0; i--) {
      const len = next[i].times.length;
      if (seen.has(len)) continue;
      seen.add(len);
      kept.push(next[i]);
    }
    kept.reverse();
    while (kept.length > cfg.maxPartials) {
      kept.shift();
      this.dropped++;
    }
    this.put(key, kept, true);
    this.judged(key, t, kept, emit);
  }

  /** Progress of a key after an event: steps of its most advanced partial match, over the steps. */
  private judged(key: string, t: number, partials: readonly Partial[], emit: Emit): void {
    let steps = 0;
    for (let i = 0; i < partials.length; i++) if (partials[i].times.length > steps) steps = partials[i].times.length;
    const share = steps / this.steps.length;
    emit.judged(key, t, steps, share, share, false);
  }

  private put(key: string, partials: Partial[], touch: boolean): void {
    if (partials.length === 0) this.state.delete(key);
    else if (touch) this.state.set(key, { partials });
    else (this.state.peek(key) as KeyState).partials = partials;
  }

  private signal(key: string, m: Partial, emit: Emit): void {
    const cfg = this.cfg;
    const n = m.times.length;
    const t = m.times[n - 1];
    const day = isoTime(m.times[0]).slice(0, 10);
    const steps = cfg.steps
      .map((s, k) => `${s.name} (${k === 0 ? isoTime(m.times[0]).replace('.000Z', 'Z') : stepTime(m.times[k], day)})`)
      .join(', then ');
    emit.signal({
      key,
      time: t,
      identity: `event:${m.refs[n - 1]}`,
      revision: 0,
      window: { start: m.times[0], end: t },
      observed: n,
      threshold: n,
      score: 1,
      explanation: `${cfg.name}: ${this.ctx.keyLabel} ${key} did ${steps} within ${formatDuration(cfg.within)}.`,
      evidence: lastN(m.refs, this.ctx.evidenceLimit),
      details: { steps: cfg.steps.map((s) => s.name), times: m.times.slice(), within: cfg.within, strict: cfg.strict },
    });
  }

  advance(w: number): void {
    const horizon = w - this.cfg.within;
    // A key whose most recent partial match has expired has nothing alive; partial matches of keys kept
    // alive by a newer one are dropped (and counted) on the key's next event.
    this.state.expireFront((st) => {
      const dead = st.partials.length === 0 || st.partials[st.partials.length - 1].times[0] < horizon;
      if (dead) this.timedOut += st.partials.length;
      return dead;
    });
  }

  stats(): { keys: number; evicted: number } {
    return { keys: this.state.size, evicted: this.state.evicted };
  }

  private encode(st: KeyState): PartialSnap[] {
    return st.partials.map((p) => [p.times.slice(), p.refs.slice()]);
  }

  private decode(snap: unknown): KeyState {
    const what = this.perKey.what;
    if (!Array.isArray(snap) || snap.length === 0) throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot entry`);
    const n = this.steps.length;
    const partials: Partial[] = [];
    for (const p of snap) {
      if (!Array.isArray(p) || !Array.isArray(p[0]) || !Array.isArray(p[1]) || p[0].length !== p[1].length || p[0].length < 1) {
        throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot entry (partial match)`);
      }
      // Steps removed from the config since the checkpoint: a partial match this long cannot continue.
      if (p[0].length < n) partials.push({ times: p[0].slice(), refs: p[1].slice() });
    }
    return { partials };
  }

  /** The counters, as [timedOut, dropped, broken]. */
  private restoreCounters(x: unknown): void {
    const [timedOut, dropped, broken] = Array.isArray(x) ? (x as unknown[]) : [];
    if (typeof timedOut !== 'number' || typeof dropped !== 'number' || typeof broken !== 'number') {
      throw new VigieError('VIGIE_ERR_SNAPSHOT', `${this.perKey.what}: bad snapshot (expected the counters [timedOut, dropped, broken])`);
    }
    this.timedOut = timedOut;
    this.dropped = dropped;
    this.broken = broken;
  }

  snapshot(): unknown {
    return { keys: this.state.snapshot((s) => this.encode(s)), timedOut: this.timedOut, dropped: this.dropped, broken: this.broken };
  }

  restore(state: unknown): void {
    const s = state as { keys?: unknown; timedOut?: unknown; dropped?: unknown; broken?: unknown } | null;
    if (s === null || typeof s !== 'object') throw new VigieError('VIGIE_ERR_SNAPSHOT', `${this.perKey.what}: bad snapshot (expected { keys, timedOut, dropped, broken })`);
    this.restoreCounters([s.timedOut, s.dropped, s.broken]);
    this.state.restore(s.keys, (v) => this.decode(v), this.perKey.what);
  }
}

export function create(config: Config, ctx: DetectorContext): DetectorCore {
  return new SequenceCore(config, ctx);
}
