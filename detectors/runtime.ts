import type { Alert, QueueEntry, Severity, VEvent, WindowResult } from '../src/types.js';
import { evidenceRef } from '../src/types.js';
import { alertId, isoTime } from './alert.js';
import { formatDuration } from '../src/time/duration.js';
import { MinHeap } from '../src/util/heap.js';
import { configHash } from '../src/util/json.js';
import { plural, type CommonConfig } from './common.js';
import { KeyedState, SharedKeys, type KeyedEntries } from '../src/util/keyed-state.js';
import { createCore, type DetectorConfig } from './index.js';
import { signalEvent, topoOrder } from './dependencies.js';
import { ResultTriggers } from './triggers.js';
import { judgedOf } from './judgements.js';
import type { DetectorContext, Emit, PeerJudgements, Score, Signal } from './types.js';
import { stateConfig, type Cooldown, type DetectorCounts, type Outputs, type RestoreMatch, type RuntimeContext, type Slot } from './runtime-types.js';
import { VigieError } from '../src/errors.js';
import { ChangedKeys } from '../src/util/key-order.js';
import { heldKeys, restoreKeyed, restoreWhole, snapshotKey, snapshotMeta, snapshotWhole, type DetectorsMeta, type WholeSnapshot } from './runtime-state.js';

export type { DetectorCounts, Outputs, RestoreMatch, RuntimeContext } from './runtime-types.js';

/** A pending event of an event detector, released once the watermark has passed its time. */
interface Pending {
  key: string;
  e: VEvent;
}

/** Signal memory per key: the event time of each detector's last signal (for `requires`). */
type Memory = number[];

/**
 * The detectors of one pipeline. Event detectors get the pipeline's events in event-time order (each
 * once the watermark passes it, so results do not depend on arrival order); result detectors get the
 * window results as they are emitted. Signals become alerts here, after the `requires` conditions and
 * the per-key cooldown. Deterministic: in replay, detection times are watermarks.
 */
export class DetectorSet {
  readonly slots: Slot[];
  private readonly pending = new MinHeap<Pending>();
  /** The slots whose detectors take events, in order (the per-event loop goes through these only). */
  private readonly eventSlots: Slot[];
  readonly memory: KeyedState<Memory> | undefined;
  /** Keys whose state changed since last taken (per-key checkpoints), once enabled. */
  readonly changes = new ChangedKeys();
  private readonly memorySpan: number;
  private w = -Infinity;
  /** Watermark at which what is being emitted now was emitted (stamps detection times). */
  private at = -Infinity;
  private out: Outputs = { alerts: [], shadowAlerts: [], scores: [], queue: [] };
  private scoresOut: Score[] = [];
  /** Events released before the pipeline's watermark passed them (maxPending reached), since last taken. */
  private releasedEarly = 0;
  /** Per slot, the strength and value it gave the input being judged now (NaN: not judged). */
  private readonly strengths: Float64Array;
  private readonly observedNow: Float64Array;
  private readonly crossedNow: Float64Array;
  /** The event being judged now (for the `ref` of event detectors' scores). */
  private judging: VEvent | undefined;
  /** The window results being judged now, and an index of them built on a first signal (for triggers). */
  private judgingResults: readonly WindowResult[] | undefined;
  private resultTriggers: ResultTriggers | undefined;
  /** While a signal feeds `score` detectors: its trigger (their signals carry it). */
  private feeding: { trigger: string | undefined } | undefined;

  constructor(
    configs: readonly DetectorConfig[],
    private readonly ctx: RuntimeContext,
  ) {
    const ordered = topoOrder(configs, ctx.pipeline);
    this.strengths = new Float64Array(ordered.length).fill(NaN);
    this.observedNow = new Float64Array(ordered.length).fill(NaN);
    this.crossedNow = new Float64Array(ordered.length).fill(NaN);
    const names = new Map(ordered.map((c, i) => [c.name, i]));
    const peers: PeerJudgements = {
      index: (name) => names.get(name),
      strength: (i) => this.strengths[i],
      observed: (i) => this.observedNow[i],
      crossed: (i) => this.crossedNow[i],
    };
    // One key lookup per event for the per-key states of the keyed event detectors and the cooldowns.
    const keys = new SharedKeys();
    const coreCtx: DetectorContext = { ...ctx, peers, keys };
    this.slots = ordered.map((config) => {
      const core = createCore(config, coreCtx);
      const slot: Slot = {
        name: config.name,
        config,
        hash: configHash([stateConfig(config), ctx.stateScope?.[core.input] ?? null]),
        core,
        emit: undefined as unknown as Emit,
        cooldown: new KeyedState(config.maxKeys, keys),
        requires: [],
        feeds: [],
        counts: { signals: 0, suppressed: 0, unmet: 0, evicted: 0, keys: 0 },
        reportedEvictions: 0,
      };
      return slot;
    });
    const index = new Map(this.slots.map((s, i) => [s.name, i]));
    let span = 0;
    this.slots.forEach((s, i) => {
      if (s.config.requires) {
        s.requires = s.config.requires.detectors.map((n) => index.get(n) as number);
        span = Math.max(span, s.config.requires.within);
      }
      const inputs = (s.config as { inputs?: Array<{ detector: string }> }).inputs;
      if (inputs) for (const inp of inputs) this.slots[index.get(inp.detector) as number].feeds.push(i);
      const pipeline = ctx.pipeline;
      const detector = s.name;
      const publish =
        s.config.scores && ctx.publishScores !== false
          ? (key: string, time: number, observed: number, score: number, strength: number, anomalous: boolean, ref: string | undefined) => {
              const r = ref ?? (this.judging === undefined ? '' : evidenceRef(this.judging));
              this.scoresOut.push({ pipeline, detector, key, time, ref: r, observed, score, strength, anomalous });
            }
          : undefined;
      // Judgements other pipelines read (see board.ts) are recorded as they are made.
      const record = ctx.board?.wants(pipeline, detector) ? ctx.board.recorder(pipeline, detector, s.config.maxKeys) : undefined;
      s.emit = {
        signal: (sig) => this.onSignal(i, sig),
        elide: (key, time) => this.elide(i, key, time),
        rank: (entries) => {
          for (const q of entries) this.out.queue.push(q);
        },
        judged: judgedOf({ i, strengths: this.strengths, observedNow: this.observedNow, crossedNow: this.crossedNow, record, publish }),
      };
    });
    this.memorySpan = span;
    this.memory = span > 0 ? new KeyedState(Math.max(...this.slots.map((s) => s.config.maxKeys))) : undefined;
    this.eventSlots = this.slots.filter((s) => s.core.input === 'event');
    for (const s of this.slots) {
      s.core.perKey?.state.track(this.changes);
      s.cooldown.track(this.changes);
    }
    this.memory?.track(this.changes);
  }

  get size(): number {
    return this.slots.length;
  }

  /** True when some detector takes events (the pipeline then buffers events until the watermark passes them). */
  get wantsEvents(): boolean {
    return this.eventSlots.length > 0;
  }

  get watermark(): number {
    return this.w;
  }

  /** Per detector, the hash of its config and input (see {@link RuntimeContext.stateScope}). */
  hashes(): Map<string, string> {
    return new Map(this.slots.map((s) => [s.name, s.hash]));
  }

  /**
   * Queue an on-time event for the event detectors; false when the watermark has already passed it.
   * When more than `maxPending` events wait, the detectors' watermark moves up to just past the
   * earliest of them, releasing it (and any of the same time) now into `out`: memory stays bounded
   * when the input's disorder outgrows it, and events later arriving behind that point are late.
   */
  offer(key: string, e: VEvent, out: Outputs): boolean {
    if (this.eventSlots.length === 0) return true;
    if (e.time < this.w) return false;
    const pending = this.pending;
    pending.push(e.time, { key, e });
    const max = this.ctx.maxPending;
    if (max !== undefined && pending.size > max) {
      const before = pending.size;
      this.advance(pending.peekPriority() + 1, out);
      this.releasedEarly += before - pending.size;
    }
    return true;
  }

  /** Events released early since the last call (see {@link offer}). */
  takeReleasedEarly(): number {
    const n = this.releasedEarly;
    this.releasedEarly = 0;
    return n;
  }

  /** Window results just emitted (before the watermark moves on). */
  onResults(results: readonly WindowResult[], out: Outputs): void {
    this.out = out;
    this.scoresOut = out.scores;
    this.at = results[results.length - 1].watermark;
    this.judgingResults = results;
    try {
      for (const s of this.slots) if (s.core.input === 'result') s.core.addResults?.(results, s.emit);
    } finally {
      this.judgingResults = this.resultTriggers = undefined;
    }
  }

  /**
   * Move to watermark `w`: release the events it passed to the event detectors, in event-time order,
   * then let every detector expire state, then close the cooldowns that ended.
   */
  advance(w: number, out: Outputs): void {
    if (w <= this.w) return;
    this.w = w;
    this.at = w;
    this.out = out;
    this.scoresOut = out.scores;
    const pending = this.pending;
    const eventSlots = this.eventSlots;
    while (pending.size > 0 && pending.peekPriority() < w) {
      const { key, e } = pending.pop() as Pending;
      this.judging = e;
      this.strengths.fill(NaN);
      this.observedNow.fill(NaN);
      this.crossedNow.fill(NaN);
      for (let i = 0; i < eventSlots.length; i++) eventSlots[i].core.add?.(key, e, eventSlots[i].emit);
    }
    this.judging = undefined;
    for (const s of this.slots) s.core.advance(w, s.emit);
    for (const s of this.slots) this.closeCooldowns(s, w);
    if (this.memory) {
      const horizon = w - this.memorySpan;
      this.memory.expireFront((m) => Math.max(...m) < horizon);
    }
  }

  /**
   * A batch starts: later pipelines of the task, which read this one's judgements (board.ts), are at
   * this watermark at least, so judgements older than what was valid then can go.
   */
  beginBatch(): void {
    this.ctx.board?.advancing(this.ctx.pipeline, this.w);
  }

  /** Take and reset the counters, per detector, with the keys held now and the evictions since last taken. */
  takeCounts(): Array<[string, DetectorCounts]> {
    return this.slots.map((s) => {
      const st = s.core.stats();
      const evicted = st.evicted + s.cooldown.evicted;
      const c = { ...s.counts, keys: st.keys, evicted: evicted - s.reportedEvictions };
      s.reportedEvictions = evicted;
      s.counts.signals = s.counts.suppressed = s.counts.unmet = 0;
      return [s.name, c];
    });
  }

  /** The events waiting for the watermark, as [time, key, event]. */
  private pendingItems(): Array<[number, string, VEvent]> {
    const items: Array<[number, string, VEvent]> = [];
    // In pop order: pushing them back in this order (here and on restore) keeps ties in arrival order.
    const drained: Pending[] = [];
    while (this.pending.size > 0) drained.push(this.pending.pop() as Pending);
    for (const p of drained) {
      items.push([p.e.time, p.key, p.e]);
      this.pending.push(p.e.time, p);
    }
    return items;
  }

  /** The meta part of a per-key checkpoint (see runtime-state.ts): all but the keys' entries. */
  snapshotMeta(): DetectorsMeta {
    return snapshotMeta(this, this.snapshotBase());
  }

  /** What both snapshot forms hold beside the detectors: the watermark, the pending events, the board's judgements. */
  private snapshotBase(): { w: number; pending: Array<[number, string, VEvent]>; board?: unknown } {
    return { w: this.w, pending: this.pendingItems(), ...(this.ctx.board ? { board: this.ctx.board.snapshot(this.ctx.pipeline) } : {}) };
  }

  /** A key's entry of a per-key checkpoint; undefined when no detector holds anything for it. */
  snapshotKey(key: string): unknown[] | undefined {
    return snapshotKey(this, key);
  }

  /** Every key some detector holds state for. */
  keys(): Set<string> {
    return heldKeys(this);
  }

  /**
   * Restore a per-key checkpoint: its meta part and the keys' entries (any order); a
   * whole snapshot (checkpoints of earlier versions) as {@link restore}. Returns the detectors restored.
   */
  restoreParts(meta: unknown, keyed: KeyedEntries, match: RestoreMatch = 'by-hash'): string[] {
    const m = meta as DetectorsMeta;
    if (m?.v !== 3) return this.restore(meta, match);
    if (!Array.isArray(m.pending)) throw new VigieError('VIGIE_ERR_SNAPSHOT', `detectors of pipeline "${this.ctx.pipeline}": bad snapshot`);
    this.restorePending(m.w, m.pending);
    return this.restoredNames(restoreKeyed(this, m, keyed, match, this.ctx.pipeline), m.board);
  }

  private restorePending(w: number, items: Array<[number, string, VEvent]>): void {
    this.w = w;
    while (this.pending.size > 0) this.pending.pop();
    if (this.eventSlots.length > 0) for (const [time, key, e] of items) this.pending.push(time, { key, e });
  }

  /** The whole state (hot reloads). */
  snapshot(): unknown {
    return snapshotWhole(this, this.snapshotBase());
  }

  /**
   * Restore a snapshot: the watermark and the pending events always (when some detector takes events);
   * per detector, its state and cooldowns when it matches (see {@link RestoreMatch}); a detector that
   * does not match, or was not in the snapshot, starts fresh, and one in the snapshot only is dropped.
   * The same path serves hot reloads and checkpoints of earlier versions. Returns the names of the
   * detectors restored.
   */
  restore(state: unknown, match: RestoreMatch = 'by-hash'): string[] {
    const s = state as WholeSnapshot;
    if ((s?.v !== 1 && s?.v !== 2) || !Array.isArray(s.pending) || !Array.isArray(s.detectors)) throw new VigieError('VIGIE_ERR_SNAPSHOT', `detectors of pipeline "${this.ctx.pipeline}": bad snapshot`);
    this.restorePending(s.w, s.pending);
    return this.restoredNames(restoreWhole(this, s, match), s.board);
  }

  /** The names of the slots restored; the judgement board keeps those detectors' judgements. */
  private restoredNames(restored: boolean[], board: unknown): string[] {
    const names = this.slots.filter((_, i) => restored[i]).map((s) => s.name);
    this.ctx.board?.restore(this.ctx.pipeline, board as Array<[string, unknown]> | undefined, new Set(names));
    return names;
  }

  /**
   * After a hot reload restored `names` from `prev`: evictions already reported there are not
   * reported again (metrics count them once).
   */
  carryCounters(prev: DetectorSet, names: readonly string[]): void {
    const before = new Map(prev.slots.map((x) => [x.name, x]));
    for (const slot of this.slots) {
      const old = before.get(slot.name);
      if (old !== undefined && names.includes(slot.name)) slot.reportedEvictions = old.reportedEvictions;
    }
  }

  // --- signals to alerts ---

  private onSignal(i: number, sig: Signal): void {
    const slot = this.slots[i];
    slot.counts.signals++;
    if (sig.trigger === undefined) sig.trigger = this.triggerOf(sig);
    this.remember(i, sig.key, sig.time);
    const outer = this.feeding;
    this.feeding = { trigger: sig.trigger };
    try {
      for (const j of slot.feeds) this.slots[j].core.add?.(sig.key, signalEvent(slot.name, sig), this.slots[j].emit);
    } finally {
      this.feeding = outer;
    }
    if (!slot.config.emit) return;
    if (slot.requires.length > 0 && !this.requirementsMet(slot, sig.key, sig.time)) {
      slot.counts.unmet++;
      return;
    }
    const cooldown = slot.config.cooldown;
    if (cooldown > 0 && sig.revision === 0) {
      const open = slot.cooldown.peek(sig.key);
      if (open !== undefined && sig.time < open.until) {
        open.suppressed++;
        if (sig.time > open.lastTime) open.lastTime = sig.time;
        slot.counts.suppressed++;
        return;
      }
      if (open !== undefined) this.summarise(slot, open);
      const alert = this.alert(slot, sig);
      slot.cooldown.set(sig.key, { until: sig.time + cooldown, suppressed: 0, first: alert, lastTime: sig.time });
      this.deliver(alert);
      return;
    }
    this.deliver(this.alert(slot, sig));
  }

  /**
   * The event whose judgement raised `sig`: the trigger of the signal feeding a `score` detector; the
   * event being judged; for a window result, the event a sliding evaluation belongs to, or the last
   * recorded event when the result's evidence holds all its events (else unknown).
   */
  private triggerOf(sig: Signal): string | undefined {
    if (this.feeding !== undefined) return this.feeding.trigger;
    if (this.judging !== undefined) return evidenceRef(this.judging);
    if (this.judgingResults === undefined) return undefined;
    this.resultTriggers ??= new ResultTriggers(this.judgingResults);
    return this.resultTriggers.of(sig);
  }

  /** Live alerts to the analysts' output; alerts of detectors in shadow mode to the shadow output only. */
  private deliver(a: Alert): void {
    if (a.shadow) this.out.shadowAlerts.push(a);
    else this.out.alerts.push(a);
  }

  /** The signal memory of `key` notes a signal of slot `i` at `time` (for `requires`). */
  private remember(i: number, key: string, time: number): void {
    if (this.memory === undefined) return;
    let m = this.memory.touch(key);
    if (m === undefined) {
      m = new Array<number>(this.slots.length).fill(-Infinity);
      this.memory.set(key, m);
    }
    if (time > m[i]) m[i] = time;
  }

  /**
   * See {@link Emit.elide}: what onSignal does with a revision-0 signal that ends without an alert and
   * feeds no detector (counts, signal memory, the open cooldown's tally), without the signal.
   */
  private elide(i: number, key: string, time: number): boolean {
    const slot = this.slots[i];
    if (slot.feeds.length > 0) return false;
    if (slot.config.emit) {
      const unmet = slot.requires.length > 0 && (this.remember(i, key, time), !this.requirementsMet(slot, key, time));
      if (unmet) {
        slot.counts.signals++;
        slot.counts.unmet++;
        return true;
      }
      const open = slot.config.cooldown > 0 ? slot.cooldown.peek(key) : undefined;
      if (open === undefined || !(time < open.until)) return false;
      this.remember(i, key, time);
      slot.counts.signals++;
      open.suppressed++;
      if (time > open.lastTime) open.lastTime = time;
      slot.counts.suppressed++;
      return true;
    }
    this.remember(i, key, time);
    slot.counts.signals++;
    return true;
  }

  private requirementsMet(slot: Slot, key: string, time: number): boolean {
    const m = this.memory?.peek(key);
    if (m === undefined) return false;
    const since = time - (slot.config.requires as { within: number }).within;
    const ok = (j: number): boolean => m[j] >= since;
    return slot.config.requires?.mode === 'any' ? slot.requires.some(ok) : slot.requires.every(ok);
  }

  private closeCooldowns(slot: Slot, w: number): void {
    // On every move of the watermark: nothing allocated while the oldest cooldown still runs.
    if ((slot.cooldown.oldest()?.until ?? Infinity) > w) return;
    const due: Cooldown[] = [];
    slot.cooldown.expireFront((c) => {
      if (c.until > w) return false;
      due.push(c);
      return true;
    });
    for (const c of due) this.summarise(slot, c);
  }

  /** One alert saying how many repeats a cooldown suppressed (none when it suppressed nothing). */
  private summarise(slot: Slot, c: Cooldown): void {
    if (c.suppressed === 0) return;
    // Not raised by one event: the summary names no trigger.
    const { trigger: _trigger, ...a } = c.first;
    const cd = formatDuration(slot.config.cooldown);
    this.deliver({
      ...a,
      id: alertId(a.detector, a.key, `repeats:${a.id}`, 0),
      revision: 0,
      eventTime: c.lastTime,
      detectedAt: this.ctx.detectionTime(this.at),
      suppressed: c.suppressed,
      repeatsOf: a.id,
      // The version running now (a hot reload may have happened since the first alert).
      configVersion: this.ctx.configVersion,
      explanation:
        `${a.detector}: ${plural(c.suppressed, 'further alert')} for ${this.ctx.keyLabel} ${a.key} ${c.suppressed === 1 ? 'was' : 'were'} suppressed ` +
        `between ${isoTime(a.eventTime)} and ${isoTime(c.lastTime)} (cooldown ${cd}) after alert ${a.id}: ${a.explanation}`,
    });
  }

  private alert(slot: Slot, sig: Signal): Alert {
    const c = slot.config;
    return {
      id: alertId(c.name, sig.key, sig.identity, sig.revision),
      detector: c.name,
      detectorType: c.type,
      pipeline: this.ctx.pipeline,
      severity: c.severity as Severity,
      key: sig.key,
      window: sig.window,
      revision: sig.revision,
      eventTime: sig.time,
      detectedAt: this.ctx.detectionTime(this.at),
      observed: sig.observed,
      threshold: sig.threshold,
      score: sig.score,
      explanation: c.description ? `${sig.explanation} ${c.description}` : sig.explanation,
      evidence: sig.evidence,
      configVersion: this.ctx.configVersion,
      ...(sig.details ? { details: sig.details } : {}),
      ...(c.shadow ? { shadow: true as const } : {}),
      ...(sig.trigger !== undefined ? { trigger: sig.trigger } : {}),
    };
  }
}
