import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { createGenerator, customersFor, DEFAULT_RATE, PAYMENT_DEFAULTS, PAYMENT_TYPOLOGIES, SCENARIOS, TELEMETRY_DEFAULTS, type GeneratorOptions } from '../generator/index.js';
// A stable spread of keys over partitions, the same on every run and machine.
import { hashString } from '../generator/rng.js';
import { positiveDurationSchema, durationSchema } from '../time/duration.js';
import { mappingShape } from './mapping.js';
import type { RawBatch, RawRecord, Source, SourceContext } from './types.js';

export const type = 'generator';

/**
 * Built-in, seeded generator of realistic events with labelled cases (fraud typologies or incidents).
 * Example: `{ name: demo, type: generator, scenario: payments, rate: 50, seed: 7 }`
 */
export const schema = z
  .strictObject({
    name: z.string().min(1).describe('Source name, unique in the config.'),
    type: z.literal(type),
    scenario: z.enum(SCENARIOS).describe('payments: cards, logins, transfers, with fraud typologies (card_testing, account_takeover, impossible_travel, mule_fan_in, amount_outlier); telemetry: service requests with incidents (error_spike, latency_degradation, traffic_drop); cards: card transactions at terminals with fraud typologies (large-amount, compromised-terminal, compromised-card), event time in `time` (set `time: { field: time }`), a day at a time. Each labelled event carries `label` and `case`.'),
    seed: z.number().int().default(1).describe('Seed: the same seed and options always give the same events.'),
    rate: z.number().positive().optional().describe('Mean events per second of event time (default: 0.15 for payments, 20 for telemetry).'),
    customers: z.number().int().min(10).max(2_000_000).optional().describe('payments: number of customers (default: about 13,000 per event/s, so that normal customers make a few payments a day).'),
    services: z.number().int().min(1).max(1000).optional().describe('telemetry: number of services (default 8).'),
    fraudRate: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe(`payments: probability, after each normal event, that a fraud case starts (default ${PAYMENT_DEFAULTS.fraudRate}: at 0.15 events/s, a case every hour or so). A demo wants far more: config/demo.yaml has 0.02 at 10 events/s, a case every five seconds.`),
    typologies: z
      .array(z.enum(PAYMENT_TYPOLOGIES))
      .min(1)
      .optional()
      .describe('payments: the fraud typologies cases are drawn from, in their usual proportions to one another (default: all). Leave out those no rule of the config is meant to find.'),
    incidentRate: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe(`telemetry: probability, after each request, that an incident starts on a service (default ${TELEMETRY_DEFAULTS.incidentRate}: at 20 events/s, one every half hour or so).`),
    diurnal: z
      .boolean()
      .default(true)
      .describe("Traffic follows the time of day (payments: each customer's local hour; telemetry: UTC), so `rate` is a daily mean and the hour decides the actual rate. false: a flat `rate`, whatever the hour (demos)."),
    realtime: z.boolean().default(true).describe('Pace events on the clock, event times starting now. false: as fast as the engine takes them, event times starting at `start`.'),
    start: z.string().datetime({ offset: true }).default('2026-01-01T00:00:00Z').describe('First event time when not realtime (ISO-8601).'),
    events: z.number().int().positive().optional().describe('Stop after this many events (required when not realtime).'),
    partitions: z.number().int().min(1).max(256).default(1).describe('Number of partitions events are spread over, by customer or service: each has its own watermark, as Kafka partitions do.'),
    disorder: durationSchema.default(0).describe('Maximum out-of-orderness of event times within the stream.'),
    tick: positiveDurationSchema.default(100).describe('In realtime, how often due events are released.'),
    backfill: durationSchema
      .default(0)
      .describe('In realtime: event times start this long before now, and the events of that span are released at once (a backlog to catch up on, as after a restart) before the stream follows the clock. Cases that take minutes to unfold (card testing, takeovers, incidents) then show from the first seconds.'),
    ...mappingShape,
  })
  .refine((c) => c.realtime || c.events !== undefined, { message: 'events is required when realtime is false', path: ['events'] });
export type Config = z.infer<typeof schema>;

/** The generator options a source config stands for (all but the first event time). */
export function generatorOptions(config: Config): Omit<GeneratorOptions, 'start'> {
  const rate = config.rate ?? DEFAULT_RATE[config.scenario];
  return {
    seed: config.seed,
    ratePerSecond: rate,
    disorderMs: config.disorder,
    customers: config.customers ?? customersFor(rate),
    services: config.services,
    fraudRate: config.fraudRate,
    typologies: config.typologies,
    incidentRate: config.incidentRate,
    diurnal: config.diurnal,
  };
}

/** Build a generator source. */
export function create(config: Config, ctx: SourceContext): Source {
  const parts = Array.from({ length: config.partitions }, (_, i) => i);
  const offsets = new Array<number>(config.partitions).fill(0);
  const keyField = config.scenario === 'telemetry' ? 'service' : 'customer';

  function split(events: Record<string, unknown>[], end: boolean): RawBatch[] {
    const byPart: RawRecord[][] = parts.map(() => []);
    for (const e of events) {
      const p = config.partitions === 1 ? 0 : hashString(String(e[keyField] ?? '')) % config.partitions;
      byPart[p].push({ offset: ++offsets[p], data: e });
    }
    const out: RawBatch[] = [];
    for (const p of parts) if (byPart[p].length > 0 || end) out.push({ partition: p, records: byPart[p], end });
    return out;
  }

  return {
    name: config.name,
    type,
    format: 'object',
    mapping: config,
    partitions: () => parts,
    async *batches(): AsyncGenerator<RawBatch> {
      const limit = config.events ?? Infinity;
      const options = generatorOptions(config);
      let produced = 0;
      if (!config.realtime) {
        const gen = createGenerator(config.scenario, { ...options, start: Date.parse(config.start) });
        while (produced < limit) {
          const n = Math.min(ctx.batchSize, limit - produced);
          produced += n;
          yield* split(gen.next(n), produced >= limit);
        }
        return;
      }
      const gen = createGenerator(config.scenario, { ...options, start: ctx.clock.now() - config.backfill });
      let lookahead: Record<string, unknown>[] = [];
      while (produced < limit && !ctx.signal.aborted) {
        const now = ctx.clock.now();
        let due: Record<string, unknown>[] = [];
        for (;;) {
          if (lookahead.length === 0) lookahead = gen.next(64);
          if (((lookahead[0].ts ?? lookahead[0].time) as number) > now || produced >= limit) break;
          due.push(lookahead.shift() as Record<string, unknown>);
          produced++;
          // A backfill is a backlog: it goes out in batches of the usual size, not as one huge batch.
          if (due.length >= ctx.batchSize) {
            yield* split(due, produced >= limit);
            due = [];
          }
        }
        if (due.length > 0) yield* split(due, produced >= limit);
        if (produced >= limit) return;
        try {
          await sleep(config.tick, undefined, { signal: ctx.signal });
        } catch {
          return;
        }
      }
    },
    async close() {},
  };
}
