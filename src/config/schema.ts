import { z } from 'zod';
import { durationSchema } from '../time/duration.js';
import { sourceSchema } from '../sources/index.js';
import { pipelineSchema } from '../engine/pipeline.js';
import { sinkSchema } from '../../sinks/index.js';
import { stateSchema } from '../state/checkpoint-store.js';

/** The whole configuration of a Vigie job. The single source of truth for validation, defaults, types and docs. */
export const configSchema = z
  .strictObject({
    name: z.string().min(1).default('vigie').describe('Job name, shown in logs and the summary.'),
    time: z
      .strictObject({
        maxOutOfOrderness: durationSchema.default(5000).describe('Bound on disorder within a partition: W(p) = largest event time seen on p - maxOutOfOrderness.'),
        idleTimeout: durationSchema.default(0).describe('A partition silent for this long (processing time) stops holding the watermark back; 0 disables idleness. Useful live with several partitions; irrelevant in file replay.'),
        tick: durationSchema.default(1000).describe('Live: how often idleness is checked and the watermark re-evaluated without input.'),
      })
      .default({ maxOutOfOrderness: 5000, idleTimeout: 0, tick: 1000 })
      .describe('Event time and watermarks (see "Semantics in short" in the README).'),
    sources: z.array(sourceSchema).min(1).describe('Where events come from.'),
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
    metrics: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Serve /metrics, /healthz and /readyz.'),
        host: z.string().default('127.0.0.1').describe('Address to bind; loopback by default.'),
        port: z.number().int().min(0).max(65535).default(9464).describe('Port to listen on (0: any free port).'),
      })
      .default({ enabled: true, host: '127.0.0.1', port: 9464 })
      .describe('Prometheus metrics and health endpoints.'),
  })
  .superRefine((cfg, ctx) => {
    const unique = (items: Array<{ name: string }>, path: string) => {
      const seen = new Set<string>();
      items.forEach((it, i) => {
        if (seen.has(it.name)) ctx.addIssue({ code: 'custom', path: [path, i, 'name'], message: `duplicate ${path.slice(0, -1)} name "${it.name}"` });
        seen.add(it.name);
      });
    };
    unique(cfg.sources, 'sources');
    unique(cfg.pipelines, 'pipelines');
    unique(cfg.sinks, 'sinks');
    const sourceNames = new Set(cfg.sources.map((s) => s.name));
    const detectorNames = new Map<string, number>();
    cfg.pipelines.forEach((p, i) => {
      p.sources?.forEach((s, j) => {
        if (!sourceNames.has(s)) ctx.addIssue({ code: 'custom', path: ['pipelines', i, 'sources', j], message: `unknown source "${s}" (defined: ${[...sourceNames].join(', ')})` });
      });
      const aggNames = new Set<string>();
      p.aggregates.forEach((a, j) => {
        if (aggNames.has(a.name)) ctx.addIssue({ code: 'custom', path: ['pipelines', i, 'aggregates', j, 'name'], message: `duplicate aggregate name "${a.name}"` });
        aggNames.add(a.name);
      });
      p.detectors.forEach((d, j) => {
        if (detectorNames.has(d.name)) ctx.addIssue({ code: 'custom', path: ['pipelines', i, 'detectors', j, 'name'], message: `duplicate detector name "${d.name}": detector names must be unique in the config (they identify alerts)` });
        detectorNames.set(d.name, i);
        if ('aggregate' in d && !aggNames.has(d.aggregate)) {
          ctx.addIssue({ code: 'custom', path: ['pipelines', i, 'detectors', j, 'aggregate'], message: `unknown aggregate "${d.aggregate}" (defined in this pipeline: ${[...aggNames].join(', ')})` });
        }
      });
    });
  });

export type VigieConfig = z.infer<typeof configSchema>;
export type VigieConfigInput = z.input<typeof configSchema>;
