/** The `repartition` section: internal topics through which pipelines keyed differently from their input are re-keyed. */
import { z } from 'zod';
import { positiveDurationSchema } from '../time/duration.js';

/** Characters Kafka accepts in a topic name. */
export const TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;

export const repartitionSchema = z
  .strictObject({
    partitions: z
      .number()
      .int()
      .min(0)
      .max(10_000)
      .default(0)
      .describe('Partitions of each repartition topic created by Vigie; 0: as many as the input topics of the pipeline have (the largest count among them). A topic that already exists is used with the partitions it has.'),
    replicationFactor: z.number().int().min(1).max(32).default(1).describe('Replication factor of each repartition topic created by Vigie.'),
    retention: positiveDurationSchema.default(7 * 86_400_000).describe('retention.ms of the repartition topics created by Vigie (cleanup.policy=delete). Longer than any outage of the downstream consumers, or records are lost.'),
    topicPrefix: z
      .string()
      .regex(/^[a-zA-Z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only (Kafka topic names)')
      .max(200)
      .default('')
      .describe('Prefix of the repartition topics, named `<prefix><pipeline>-repartition`; empty: the job name and "-" (`<name>-`).'),
  })
  .default({ partitions: 0, replicationFactor: 1, retention: 7 * 86_400_000, topicPrefix: '' })
  .describe(
    'Re-keying through Kafka: a pipeline whose key differs from the `partitionedBy` of its Kafka sources, or that reads several Kafka topics partitioned by its key (a join of two topics), reads their events through an internal topic keyed by its own key. ' +
      'Only used by `vigie run` with such pipelines; replay and other sources need no topic.',
  );
export type RepartitionConfig = z.infer<typeof repartitionSchema>;

/** Key fields of a pipeline key or a `partitionedBy`, as a list. */
export function keyFields(key: string | readonly string[]): readonly string[] {
  return typeof key === 'string' ? [key] : key;
}

/** True when two keys name the same fields in the same order. */
export function sameKey(a: string | readonly string[], b: string | readonly string[]): boolean {
  const x = keyFields(a);
  const y = keyFields(b);
  return x.length === y.length && x.every((f, i) => f === y[i]);
}

/** The name of a re-keyed pipeline's repartition topic. */
export function repartitionTopic(jobName: string, prefix: string, pipeline: string): string {
  return `${prefix === '' ? `${jobName}-` : prefix}${pipeline}-repartition`;
}

interface SourceLike {
  name: string;
  type: string;
  partitionedBy?: string | string[];
  topics?: readonly string[];
}

/**
 * Whether a pipeline reading `reads` must be re-keyed through its own topic: when one of its Kafka
 * sources is partitioned by another key, or when it reads several Kafka topics partitioned by its
 * key (each topic partition is a task of its own, so the events of one key would otherwise be judged
 * in as many tasks as topics: a join of logins and payments needs both in one task).
 */
export function needsRekey(reads: readonly Record<string, unknown>[], key: string | readonly string[]): boolean {
  const partitioned = reads.filter((s) => s.type === 'kafka' && isKey(s.partitionedBy));
  if (partitioned.some((s) => !sameKey(s.partitionedBy as string | string[], key))) return true;
  let topics = 0;
  for (const s of partitioned) topics += Array.isArray(s.topics) ? s.topics.length : 1;
  return topics > 1;
}
interface PipelineLike {
  name: string;
  key: string | string[];
  sources?: string[];
}

/** A pipeline read through a repartition topic, with the Kafka sources that feed it. */
export interface RekeyedPipeline {
  pipeline: string;
  topic: string;
  sources: string[];
}

/**
 * Pipelines re-keyed through a repartition topic: those reading a Kafka source whose `partitionedBy`
 * differs from their key. Every source such a pipeline reads feeds its topic (refs.ts refuses one
 * that also reads a source without `partitionedBy`).
 */
export function rekeyedPipelines(cfg: { name: string; sources: readonly SourceLike[]; pipelines: readonly PipelineLike[]; repartition: { topicPrefix: string } }): RekeyedPipeline[] {
  const out: RekeyedPipeline[] = [];
  for (const p of cfg.pipelines) {
    const reads = cfg.sources.filter((s) => p.sources === undefined || p.sources.includes(s.name));
    if (!needsRekey(reads as unknown as Record<string, unknown>[], p.key)) continue;
    out.push({ pipeline: p.name, topic: repartitionTopic(cfg.name, cfg.repartition.topicPrefix, p.name), sources: reads.map((s) => s.name) });
  }
  return out;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isKey = (v: unknown): v is string | string[] => (typeof v === 'string' && v.length > 0) || (Array.isArray(v) && v.length > 0 && v.every((f) => typeof f === 'string'));

/**
 * Cross-field rules of re-keying, on a raw (possibly partly valid) config: a re-keyed pipeline reads
 * only Kafka sources with `partitionedBy` (its every input goes through its topic), and its topic
 * name is one Kafka accepts.
 */
export function checkRepartition(cfg: unknown): Array<{ path: PropertyKey[]; message: string }> {
  const out: Array<{ path: PropertyKey[]; message: string }> = [];
  if (!isObj(cfg) || !Array.isArray(cfg.sources) || !Array.isArray(cfg.pipelines)) return out;
  const sources = cfg.sources.filter(isObj).filter((s): s is Obj & { name: string; type: string } => typeof s.name === 'string' && typeof s.type === 'string');
  const rekeying = (s: Obj) => s.type === 'kafka' && isKey(s.partitionedBy);
  const name = typeof cfg.name === 'string' ? cfg.name : 'vigie';
  const prefix = isObj(cfg.repartition) && typeof cfg.repartition.topicPrefix === 'string' ? cfg.repartition.topicPrefix : '';
  cfg.pipelines.forEach((p, i) => {
    if (!isObj(p) || !isKey(p.key) || typeof p.name !== 'string') return;
    const key = p.key;
    const listed = Array.isArray(p.sources) ? p.sources.filter((s): s is string => typeof s === 'string') : undefined;
    const reads = sources.filter((s) => listed === undefined || listed.includes(s.name));
    if (!needsRekey(reads, key)) return;
    const by = reads.find((s) => rekeying(s) && !sameKey(s.partitionedBy as string | string[], key));
    const why =
      by !== undefined
        ? `pipeline "${p.name}" is keyed by ${keyFields(key).join(', ')} while source "${by.name}" is partitioned by ${keyFields(by.partitionedBy as string | string[]).join(', ')}`
        : `pipeline "${p.name}" reads several Kafka topics partitioned by its key`;
    const others = reads.filter((s) => !rekeying(s)).map((s) => s.name);
    if (others.length > 0) {
      out.push({
        path: ['pipelines', i, listed === undefined ? 'key' : 'sources'],
        message:
          `${why}, so it is re-keyed through a repartition topic; ` +
          `it may then read only Kafka sources with partitionedBy, not ${others.map((n) => `"${n}"`).join(', ')}: list its sources (sources: [${reads.filter(rekeying).map((s) => s.name).join(', ')}])`,
      });
    }
    const topic = repartitionTopic(name, prefix, p.name);
    if (!TOPIC_NAME.test(topic) || topic.length > 249) {
      out.push({
        path: prefix === '' ? ['name'] : ['repartition', 'topicPrefix'],
        message: `the repartition topic of pipeline "${p.name}" would be named "${topic}", which Kafka refuses (letters, digits, ".", "_" and "-" only, at most 249): ${prefix === '' ? 'rename the job or set repartition.topicPrefix' : 'change repartition.topicPrefix'}`,
      });
    }
  });
  return out;
}
