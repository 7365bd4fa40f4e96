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
      const inPipeline = new Set(p.detectors.map((d) => d.name));
      p.detectors.forEach((d, j) => {
        const at = (...rest: PropertyKey[]) => ['pipelines', i, 'detectors', j, ...rest];
        if (detectorNames.has(d.name)) ctx.addIssue({ code: 'custom', path: at('name'), message: `duplicate detector name "${d.name}": detector names must be unique in the config (they identify alerts)` });
        detectorNames.set(d.name, i);
        for (const field of ['aggregate', 'numerator', 'denominator'] as const) {
          const ref = (d as Record<string, unknown>)[field];
          if (typeof ref !== 'string') continue;
          if (p.window === undefined) {
            ctx.addIssue({ code: 'custom', path: at('type'), message: `detector type "${d.type}" judges window results, but this pipeline has no window` });
            break;
          }
          if (!aggNames.has(ref)) ctx.addIssue({ code: 'custom', path: at(field), message: `unknown aggregate "${ref}" (defined in this pipeline: ${[...aggNames].join(', ') || 'none'})` });
        }
        const refs: Array<[string, PropertyKey[]]> = [
          ...(d.requires?.detectors ?? []).map((n, k): [string, PropertyKey[]] => [n, at('requires', 'detectors', k)]),
          ...(((d as { inputs?: Array<{ detector: string }> }).inputs ?? []).map((inp, k): [string, PropertyKey[]] => [inp.detector, at('inputs', k, 'detector')])),
        ];
        for (const [n, path] of refs) {
          if (n === d.name) ctx.addIssue({ code: 'custom', path, message: `detector "${d.name}" cannot refer to itself` });
          else if (!inPipeline.has(n)) ctx.addIssue({ code: 'custom', path, message: `unknown detector "${n}" (detectors of this pipeline: ${[...inPipeline].join(', ')})` });
        }
      });
    });
  });

export type VigieConfig = z.infer<typeof configSchema>;
export type VigieConfigInput = z.input<typeof configSchema>;
