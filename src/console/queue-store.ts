/**
 * Reading the ranked queues of `model` detectors back from Redis, as the redis sink writes them with
 * `outputs: [queue]`: one hash per detector and period (`k:KEY` -> the line as JSON, `period` -> what
 * it covers), filled by every task of the job, listed newest first in a sorted set by period start
 * (sinks/redis-commands.ts, docs/redis.md).
 */
import type { RedisClient } from '../redis/connection.js';
import { queueKeys } from '../../sinks/redis-commands.js';
import type { QueueEntry } from '../types.js';

/** One published period of one detector's queue. */
export interface QueuePeriod {
  detector: string;
  pipeline: string;
  start: number;
  end: number;
  /** Lines published (the detector's `queue.k`, or fewer keys met in the period). */
  lines: number;
}

/** The keys the sink writes under `prefix` (sinks/redis-commands.ts queueKeys). */
export function queueIndexKey(prefix: string, cluster = false): string {
  return queueKeys({ prefix, cluster }, '', 0)[1];
}

export function queuePeriodKey(prefix: string, detector: string, start: number, cluster = false): string {
  return queueKeys({ prefix, cluster }, detector, start)[0];
}

/** The period a hash describes (its `period` field), or undefined when it is not one. */
function parsePeriod(text: string | null | undefined): Omit<QueuePeriod, 'lines'> | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const p = JSON.parse(text) as Record<string, unknown>;
    if (typeof p.detector === 'string' && typeof p.pipeline === 'string' && Number.isFinite(p.start) && Number.isFinite(p.end)) {
      return { detector: p.detector, pipeline: p.pipeline, start: p.start as number, end: p.end as number };
    }
  } catch {
    // not a period
  }
  return undefined;
}

/**
 * A period's lines from every task that published it, ranked as the model ranks (highest risk first,
 * then by key): one task's own ranking is kept, several tasks' lines are merged into one.
 */
export function rankLines(lines: readonly QueueEntry[], k: number): QueueEntry[] {
  return [...lines]
    .sort((a, b) => b.score - a.score || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .slice(0, k)
    .map((q, i) => ({ ...q, rank: i + 1 }));
}

/** A stored line, or undefined when it is not one (another writer's data is never trusted blindly). */
export function parseQueueLine(text: string | null | undefined): QueueEntry | undefined {
  if (typeof text !== 'string') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const q = v as Record<string, unknown>;
  const num = (k: string) => typeof q[k] === 'number' && Number.isFinite(q[k]);
  const str = (k: string) => typeof q[k] === 'string';
  if (!(str('detector') && str('pipeline') && str('key') && str('ref') && num('start') && num('end') && num('rank') && num('score') && num('time'))) return undefined;
  return { pipeline: q.pipeline, detector: q.detector, start: q.start, end: q.end, rank: q.rank, key: q.key, score: q.score, ref: q.ref, time: q.time } as QueueEntry;
}

export class QueueStore {
  private readonly index: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly cluster = false,
  ) {
    this.index = queueIndexKey(prefix, cluster);
  }

  /** The newest `limit` periods (of `detector` when given), newest first. Periods whose hash expired are left out. */
  async periods(limit: number, detector?: string): Promise<QueuePeriod[]> {
    // Periods of other detectors may come first: read a bounded window of the index, then filter.
    const keys = await this.redis.zrevrange(this.index, 0, Math.min(10_000, detector === undefined ? limit : limit * 20) - 1);
    if (keys.length === 0) return [];
    const p = this.redis.pipeline();
    for (const k of keys) p.hget(k, 'period').hlen(k);
    const replies = (await p.exec()) ?? [];
    const out: QueuePeriod[] = [];
    for (let i = 0; i < keys.length && out.length < limit; i++) {
      const period = parsePeriod(replies[2 * i]?.[1] as string | null);
      if (period === undefined || (detector !== undefined && period.detector !== detector)) continue;
      out.push({ ...period, lines: Math.max(0, Number(replies[2 * i + 1]?.[1] ?? 0) - 1) });
    }
    return out;
  }

  /** The first `k` lines of a period, ranked over every task that published it; undefined when the period is not stored. */
  async lines(detector: string, start: number, k: number): Promise<QueueEntry[] | undefined> {
    const all = await this.redis.hgetall(queuePeriodKey(this.prefix, detector, start, this.cluster));
    const lines: QueueEntry[] = [];
    for (const [field, text] of Object.entries(all)) {
      if (!field.startsWith('k:')) continue;
      const line = parseQueueLine(text);
      if (line !== undefined) lines.push(line);
    }
    if (lines.length === 0) return undefined;
    return rankLines(lines, k);
  }
}
