import { Packr } from 'msgpackr';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { durationSchema } from '../time/duration.js';

/** A partition's state with the input position it covers (SEMANTICS.md rule 13). */
export interface Checkpoint {
  v: 1;
  /** Last input offset whose effects the state includes; processing resumes after it. */
  offset: number;
  /** Watermark tracker snapshot of the partition. */
  watermark: unknown;
  /** Per pipeline: [name, hash of its config, snapshot]. Restored only when the hash matches. */
  pipelines: Array<[string, string, unknown]>;
  savedAt: number;
}

export interface CheckpointStore {
  load(id: string): Promise<Checkpoint | undefined>;
  save(id: string, cp: Checkpoint): Promise<number>;
  close(): Promise<void>;
}

export const stateSchema = z
  .strictObject({
    store: z.enum(['none', 'redis']).default('none').describe('Where partition state is checkpointed: none (state is lost on restart), or redis.'),
    redisUrl: z.string().default('redis://127.0.0.1:6379').describe('Redis URL (redis:// or rediss:// for TLS); e.g. "${REDIS_URL}". A password in the URL is better given with passwordEnv.'),
    passwordEnv: z.string().optional().describe('Environment variable holding the Redis password (ACL user in the URL).'),
    prefix: z.string().min(1).default('vigie').describe('Prefix of every key written.'),
    interval: durationSchema.default(5000).describe('How often (processing time) each partition\'s state is checkpointed; offsets are committed right after.'),
    ttl: durationSchema.default(7 * 86_400_000).describe('Checkpoints expire after this long without being rewritten (a bound on stored data).'),
  })
  .default({ store: 'none', redisUrl: 'redis://127.0.0.1:6379', prefix: 'vigie', interval: 5000, ttl: 7 * 86_400_000 })
  .describe('State checkpoints for partitioned (Kafka) sources.');
export type StateConfig = z.infer<typeof stateSchema>;

// Plain msgpack (no record extension) so that checkpoints stay readable by other tools; keeps ±Infinity.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** Checkpoints in Redis: one msgpack value per partition, written with a TTL. */
export class RedisCheckpointStore implements CheckpointStore {
  private readonly redis: Redis;

  constructor(private readonly cfg: StateConfig) {
    const password = cfg.passwordEnv ? process.env[cfg.passwordEnv] : undefined;
    this.redis = new Redis(cfg.redisUrl, { password, lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: true });
  }

  private key(id: string): string {
    return `${this.cfg.prefix}:checkpoint:${id}`;
  }

  async load(id: string): Promise<Checkpoint | undefined> {
    const buf = await this.redis.getBuffer(this.key(id));
    if (buf === null) return undefined;
    const cp = packr.unpack(buf) as Checkpoint;
    return cp?.v === 1 ? cp : undefined;
  }

  /** Resolves with the encoded size once Redis has it. */
  async save(id: string, cp: Checkpoint): Promise<number> {
    const buf = packr.pack(cp);
    await this.redis.set(this.key(id), buf, 'PX', this.cfg.ttl);
    return buf.byteLength;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
