import { z } from 'zod';
import type { QueueEntry, VEvent } from '../src/types.js';
import { evidenceRef } from '../src/types.js';
import { formatDuration, positiveDurationSchema } from '../src/time/duration.js';
import { VigieError } from '../src/errors.js';
import { formatNumber } from './alert.js';
import { commonFields, compileMatch, matchSchema, scalarField } from './common.js';
import { featureReaders, featureSchema, type FeatureConfig, type FeatureFill } from './model-features.js';
import { OnlineLogistic, unitHash, type LearnerSnapshot } from './model-learner.js';
import { RankQueue, type QueueSnapshot } from './model-queue.js';
import { PendingRows } from './model-pending.js';
import type { DetectorContext, DetectorCore, DetectorTable, Emit } from './types.js';

export const type = 'model';

/**
 * Model: a risk score learnt from confirmed reports. Every event it judges gets a risk in [0, 1] from
 * an online logistic regression over named features (event fields, the strengths the pipeline's other
 * detectors gave the same event, reference tables read at the event's time: another entity's reports
 * or risk). The event is kept for `learnAfter` of event time; then it is learnt from, as positive when
 * a report naming it is valid in the `labels` table at that time, as negative otherwise. So an event at
 * time t is scored by a model that learnt only from events older than t - learnAfter, with the reports
 * known at their report times: replay and live agree, and nothing is learnt from the future.
 * Example: `{ name: risk, type: model, labels: { table: reports }, features: [{ name: amount, field: amount,
 * transform: log }, { name: terminal-reports, table: reports-by-terminal, on: terminal, stat: count, within: 28d }] }`.
 * See docs/scoring.md.
 */
export const schema = z.strictObject({
  ...commonFields,
  type: z.literal(type),
  match: matchSchema.optional(),
  features: z
    .array(featureSchema)
    .min(1)
    .max(256)
    .superRefine((fs, ctx) => {
      const seen = new Set<string>();
      fs.forEach((f, i) => {
        if (seen.has(f.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `feature "${f.name}" is already defined: names must be unique` });
        if ('ratio' in f) {
          for (const side of ['of', 'to'] as const) {
            if (!seen.has(f.ratio[side])) ctx.addIssue({ code: 'custom', path: [i, 'ratio', side], message: `"${f.ratio[side]}" is not a feature listed before this one (${[...seen].join(', ') || 'none'})` });
          }
        }
        seen.add(f.name);
      });
    })
    .describe('What the model weighs: event fields, other detectors\' strengths on the same event, table lookups at the event time.'),
  labels: z
    .strictObject({
      table: z.string().min(1).describe('Table of reports keyed by the id of the event they confirm, with `time` = the report time.'),
      on: z.string().min(1).optional().describe('Event field holding the id the reports name; absent: the event id.'),
      field: z.string().min(1).optional().describe('Report field holding the verdict; absent: every report is a positive.'),
      positive: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1).default(['fraud']).describe('Verdicts that count as positive (with `field`).'),
    })
    .describe('Where confirmed outcomes come from: a reference table (file, compacted Kafka topic, Redis hashes) read at event time.'),
  learnAfter: positiveDurationSchema
    .default(7 * 86_400_000)
    .describe('How long after its time an event is learnt from: reports valid by then decide its label (the reporting delay the unit works with).'),
  learningRate: z.number().positive().max(10).default(0.05).describe('AdaGrad base learning rate.'),
  l2: z.number().min(0).max(1).default(0.0001).describe('L2 shrinkage of the weights.'),
  negativeRate: z.number().gt(0).max(1).default(0.2).describe('Share of negative events learnt from (picked by a hash of the event id); scores are corrected for it.'),
  warmup: z.number().int().min(0).default(20).describe('Positive events learnt from before the model raises alerts (its scores are published from the start).'),
  value: z.number().gt(0).max(1).optional().describe('Alert when the risk is at or above this; absent: the model scores and ranks but raises no alert.'),
  explain: z.number().int().min(0).max(20).default(3).describe('How many of the features that raised the risk most an alert names.'),
  maxPending: z.number().int().min(1).default(2_000_000).describe('Events kept awaiting their label at most; beyond it the oldest is learnt from early (as known then), counted.'),
  queue: z
    .strictObject({
      k: z.number().int().min(1).max(100_000).default(100).describe('How many keys the unit can handle per period.'),
      every: positiveDurationSchema.default(86_400_000).describe('Period ranked (a day, a shift), aligned on UTC midnight.'),
      exclude: z
        .strictObject({
          table: z.string().min(1).describe('Table keyed by the pipeline key (the card...) whose rows mark keys already confirmed.'),
        })
        .optional()
        .describe('Leave out keys already confirmed at the period end.'),
    })
    .optional()
    .describe('Publish, per period, the k keys with the highest risk met (the `queue` output).'),
  scores: z.boolean().default(true).describe('Publish the risk of every judged event on the `scores` output.'),
});

export type Config = z.infer<typeof schema>;

type Snap = { v: 1; names: string[]; learner: LearnerSnapshot; pending: Array<[string, number, number[]]>; forcedEarly: number; queue?: QueueSnapshot };

export class ModelCore implements DetectorCore {
  readonly input = 'event';
  private readonly learner: OnlineLogistic;
  private readonly fill: FeatureFill;
  private readonly matches: (p: Record<string, unknown>) => boolean;
  private readonly labels: DetectorTable | undefined;
  private readonly queue: RankQueue | undefined;
  /** Events awaiting their label: label id, time and features. */
  private readonly pending: PendingRows;
  /** The features of the event being judged. */
  private readonly x: Float64Array;
  /** Events learnt from before `learnAfter` because `maxPending` was reached. */
  private forcedEarly = 0;
  private readonly contrib: Float64Array;
  private queued: QueueEntry[] = [];

  constructor(
    private readonly cfg: Config,
    private readonly ctx: DetectorContext,
  ) {
    this.fill = featureReaders(cfg.name, cfg.features, ctx);
    this.matches = compileMatch(cfg.match);
    this.learner = new OnlineLogistic({ features: cfg.features.length, learningRate: cfg.learningRate, l2: cfg.l2, negativeRate: cfg.negativeRate });
    this.contrib = new Float64Array(cfg.features.length);
    this.x = new Float64Array(cfg.features.length);
    this.pending = new PendingRows(cfg.features.length);
    this.labels = ctx.tables?.get(cfg.labels.table);
    const q = cfg.queue;
    if (q !== undefined) {
      const excl = q.exclude === undefined ? undefined : ctx.tables?.get(q.exclude.table);
      this.queue = new RankQueue({
        pipeline: ctx.pipeline,
        detector: cfg.name,
        k: q.k,
        every: q.every,
        ...(excl ? { confirmed: (key: string, t: number) => excl.lookup(key, t) !== undefined } : {}),
      });
    }
  }

  add(key: string, e: VEvent, emit: Emit): void {
    if (!this.matches(e.payload)) return;
    this.learnUntil(e.time - this.cfg.learnAfter);
    const x = this.x;
    this.fill(e, x);
    this.learner.observe(x);
    const explain = this.cfg.value !== undefined;
    const p = this.learner.predict(x, explain ? this.contrib : undefined);
    const bound = this.cfg.value;
    const warm = this.learner.positives >= this.cfg.warmup;
    const anomalous = warm && bound !== undefined && p >= bound;
    emit.judged(key, e.time, p, p, p / (bound ?? 0.5), anomalous);
    if (anomalous) this.signal(key, e, x, p, bound as number, emit);
    const id = this.labelId(e);
    if (id !== undefined) {
      this.pending.push(id, e.time, x);
      if (this.pending.size > this.cfg.maxPending) {
        this.learnOldest(e.time);
        this.forcedEarly++;
      }
    }
    if (this.queue !== undefined) this.queue.add(key, e.time, p, evidenceRef(e), this.queued);
    if (this.queued.length > 0) this.flushQueue(emit);
  }

  advance(w: number, emit: Emit): void {
    // Learning here only takes events that the next event judged would learn first anyway: the
    // weights an event is scored with do not depend on when the watermark moved.
    this.learnUntil(w - this.cfg.learnAfter);
    if (this.queue !== undefined) {
      this.queue.advance(w, this.queued);
      if (this.queued.length > 0) this.flushQueue(emit);
    }
  }

  stats() {
    return { keys: this.queue?.keys ?? 0, evicted: this.forcedEarly };
  }

  snapshot(): Snap {
    const pending = this.pending.rows();
    return {
      v: 1,
      names: this.cfg.features.map((f) => f.name),
      learner: this.learner.snapshot(),
      pending,
      forcedEarly: this.forcedEarly,
      ...(this.queue ? { queue: this.queue.snapshot() } : {}),
    };
  }

  restore(state: unknown): void {
    const s = state as Snap;
    if (s?.v !== 1 || !Array.isArray(s.pending) || !Array.isArray(s.names)) throw new VigieError('VIGIE_ERR_SNAPSHOT', `model "${this.cfg.name}": bad snapshot`);
    const names = this.cfg.features.map((f) => f.name);
    if (s.names.join('\u0000') !== names.join('\u0000') || !this.learner.restore(s.learner)) {
      throw new VigieError('VIGIE_ERR_SNAPSHOT', `model "${this.cfg.name}": snapshot has features ${s.names.join(', ')}, the config has ${names.join(', ')}`);
    }
    this.pending.clear();
    for (const [id, t, x] of s.pending) this.pending.push(id, t, x);
    this.forcedEarly = s.forcedEarly ?? 0;
    this.queue?.restore(s.queue);
  }

  /** Weights by feature name, with the counts learnt from (for reports and tests). */
  weights(): { features: Record<string, number>; intercept: number; positives: number; negatives: number } {
    const w = this.learner.w;
    return {
      features: Object.fromEntries(this.cfg.features.map((f, i) => [f.name, w[i]])),
      intercept: w[w.length - 1],
      positives: this.learner.positives,
      negatives: this.learner.negatives,
    };
  }

  private labelId(e: VEvent): string | undefined {
    return this.cfg.labels.on === undefined ? evidenceRef(e) : scalarField(e, this.cfg.labels.on);
  }

  /** Learn from every pending event with a time before `until` (its label decided at time + learnAfter). */
  private learnUntil(until: number): void {
    const p = this.pending;
    for (let t = p.oldestTime(); t !== undefined && t < until; t = p.oldestTime()) this.learnOldest(t + this.cfg.learnAfter);
  }

  /** Learn from the oldest pending event with the labels known at `at`, and drop it. */
  private learnOldest(at: number): void {
    const p = this.pending;
    const id = p.oldestId();
    const y = this.isPositive(id, at) ? 1 : 0;
    if (y === 1 || unitHash(id) < this.cfg.negativeRate) this.learner.learn(p.oldestX(), y, p.oldestOffset());
    p.shift();
  }

  private isPositive(id: string, at: number): boolean {
    const row = this.labels?.lookup(id, at);
    if (row === undefined) return false;
    const field = this.cfg.labels.field;
    if (field === undefined) return true;
    return this.cfg.labels.positive.includes(row[field] as never);
  }

  private flushQueue(emit: Emit): void {
    emit.rank?.(this.queued);
    this.queued = [];
  }

  private signal(key: string, e: VEvent, x: Float64Array, p: number, bound: number, emit: Emit): void {
    const order = [...this.contrib.keys()].filter((i) => this.contrib[i] > 0).sort((a, b) => this.contrib[b] - this.contrib[a] || a - b);
    const top = order.slice(0, this.cfg.explain);
    const f = this.cfg.features;
    const shown = (feat: FeatureConfig, v: number): string => (!('table' in feat) && 'field' in feat && this.ctx.mayShow?.(feat.field) === false ? '(hidden)' : formatNumber(v));
    const why = top.map((i) => `${f[i].name} ${shown(f[i], x[i])} (+${formatNumber(this.contrib[i])})`).join(', ');
    const learnt = this.learner.positives;
    emit.signal({
      key,
      time: e.time,
      identity: `event:${evidenceRef(e)}`,
      revision: 0,
      window: null,
      observed: round(p),
      threshold: bound,
      score: round(p / bound),
      explanation:
        `${this.cfg.name}: risk ${formatNumber(round(p))} for ${this.ctx.keyLabel} ${key} is at or above ${formatNumber(bound)}` +
        (why === '' ? '' : `; raised most by ${why}`) +
        `; learnt from ${learnt} confirmed and ${this.learner.negatives} other events, labels decided ${formatDuration(this.cfg.learnAfter)} after each event.`,
      evidence: this.ctx.evidenceLimit > 0 ? [evidenceRef(e)] : [],
      details: { contributions: Object.fromEntries(top.map((i) => [f[i].name, round(this.contrib[i])])) },
    });
  }
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

export function create(config: Config, ctx: DetectorContext): DetectorCore {
  return new ModelCore(config, ctx);
}
