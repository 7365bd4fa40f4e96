import { z } from 'zod';
import { pseudonymiseSchema } from '../privacy/pseudonymise.js';
import { durationSchema } from '../time/duration.js';
import { sourceSchema } from '../sources/index.js';
import { tableSchema } from '../sources/tables/index.js';
import { pipelineSchema } from './pipeline.js';
import { sinkSchema } from '../../sinks/index.js';
import { stateSchema } from '../state/checkpoint-store.js';
import { repartitionSchema } from './repartition.js';
import { checkRedisConnection, redisConnectionShape } from '../redis/connection.js';
import { checkReferences, REFERENCE_CHECK } from './refs.js';

/** The whole configuration of a Vigie job. The single source of truth for validation, defaults, types and docs. */
export const configSchema = z
  .strictObject({
    name: z.string().min(1).default('vigie').describe('Job name, shown in logs and the summary.'),
    time: z
      .strictObject({
        maxOutOfOrderness: durationSchema.default(5000).describe('Bound on disorder within a partition: W(p) = largest event time seen on p - maxOutOfOrderness.'),
        idleTimeout: durationSchema.default(0).describe('A partition silent for this long (processing time) stops holding the watermark back; 0 disables idleness. Useful live with several partitions; irrelevant in file replay.'),
        tick: durationSchema.default(1000).describe('Live: how often idleness is checked and the watermark re-evaluated without input.'),
        maxFutureSkew: durationSchema
          .default(86_400_000)
          .describe(
            'Live: an event more than this far ahead of processing time is dead-lettered (reason future_time) and does not move the watermark, so one record dated 2100 cannot make every later event late. ' +
              'The default of a day also tolerates local times mislabelled as UTC; 0 disables.',
          ),
        maxJump: durationSchema
          .default(86_400_000)
          .describe(
            'Replay: an event more than this far ahead of the latest time of its partition (or the first of a partition) waits until a later event confirms the new time by being at most this far behind it; ' +
              'confirmed events are admitted in their order, so well-formed input is unchanged. One that `jumpPatience` later events do not confirm is dead-lettered (future_time). 0 disables.',
          ),
        jumpPatience: z
          .number()
          .int()
          .min(1)
          .max(1_000_000)
          .default(1000)
          .describe('Replay: how many later events of its partition may fail to confirm a jump before the jumping event is dead-lettered (see maxJump).'),
      })
      .default({ maxOutOfOrderness: 5000, idleTimeout: 0, tick: 1000, maxFutureSkew: 86_400_000, maxJump: 86_400_000, jumpPatience: 1000 })
      .describe('Event time and watermarks (see "Semantics in short" in the README).'),
    sources: z.array(sourceSchema).min(1).describe('Where events come from.'),
    tables: z
      .array(tableSchema)
      .optional()
      .describe('Reference data (merchants, terminals, watch lists) that pipelines add to events with `enrich`: files, compacted Kafka topics, Redis hashes or Redis streams, loaded before the first event and kept up to date.'),
    pipelines: z.array(pipelineSchema).min(1).describe('What is computed and detected.'),
    sinks: z
      .array(sinkSchema)
      .default([{ name: 'console', type: 'console', outputs: ['alerts'], color: false }])
      .describe('Where alerts, window results and dead letters go.'),
    engine: z
      .strictObject({
        batchSize: z.number().int().min(1).max(1_000_000).default(4096).describe('Records per batch for sources read as fast as possible (files, replay).'),
        maxInflightBatches: z.number().int().min(1).max(1024).default(8).describe('Batches read but not yet acknowledged by the sinks; sources wait beyond this (backpressure).'),
        shutdownTimeout: durationSchema.default(30000).describe('After SIGTERM/SIGINT, the most `vigie run` waits for in-flight batches, sink flushes, checkpoints and commits before exiting with code 1.'),
      })
      .default({ batchSize: 4096, maxInflightBatches: 8, shutdownTimeout: 30000 })
      .describe('Engine tuning.'),
    state: stateSchema,
    repartition: repartitionSchema,
    metrics: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Serve /metrics, /healthz and /readyz.'),
        host: z.string().default('127.0.0.1').describe('Address to bind; loopback by default.'),
        port: z.number().int().min(0).max(65535).default(9464).describe('Port to listen on (0: any free port).'),
      })
      .default({ enabled: true, host: '127.0.0.1', port: 9464 })
      .describe('Prometheus metrics and health endpoints.'),
    reload: z
      .strictObject({
        watchFile: z.boolean().default(true).describe('`vigie run`: re-read the config file when it changes (SIGHUP always re-reads it).'),
        redis: z
          .strictObject({
            ...redisConnectionShape,
            key: z.string().min(1).describe('Redis key holding the config (YAML text) the fleet runs.'),
            channel: z.string().min(1).describe('Pub/sub channel: on any message, every instance reads the key and applies it.'),
            auditStream: z.string().min(1).default('vigie:config:audit').describe('Stream where every instance records each reload applied or rejected (trimmed to about 10,000 entries).'),
            instance: z.string().min(1).optional().describe('Name of this instance in the audit stream (default: hostname:pid).'),
          })
          .superRefine((c, ctx) => checkRedisConnection(c, ctx))
          .optional()
          .describe('Fleet-wide reloads: the config in a Redis key, applied by every instance on a message on a channel (and at start).'),
      })
      .optional()
      .describe('Hot reload of pipelines (windows, aggregates, detectors) while `vigie run` runs; changes to anything else are rejected and need a restart.'),
    privacy: z
      .strictObject({
        pseudonymise: pseudonymiseSchema.optional().describe('Replace personal identifiers by keyed pseudonyms at ingestion, before any pipeline, state, log or output.'),
      })
      .optional()
      .describe('Privacy by design: pseudonymisation of personal identifiers (purpose limitation is declared per pipeline with `purpose` and `fields`).'),
  })
  .superRefine((cfg, ctx) => {
    // The same checks run on the raw config when parts of it do not parse (see refs.ts and load.ts),
    // which then drops these (marked) issues, as zod may also run this on a partly parsed config.
    for (const issue of checkReferences(cfg)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message, params: { [REFERENCE_CHECK]: true } });
  });

export type VigieConfig = z.infer<typeof configSchema>;
export type VigieConfigInput = z.input<typeof configSchema>;
