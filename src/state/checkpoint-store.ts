import { Packr } from 'msgpackr';
import type { Logger } from 'pino';
import { z } from 'zod';
import { silentLogger } from '../log.js';
import { createRedis, describeRedisTarget, redisConnectionShape, type RedisClient, type RedisConnectionOptions } from '../redis/connection.js';
import { durationSchema } from '../time/duration.js';
import { VigieError } from '../errors.js';
import { keyedEntries, type KeyedEntries } from '../util/keyed-state.js';

/** The meta part of a partition's checkpoint: the input position it covers and what is not per key. */
export interface Checkpoint {
  /** 3: a key's field holds its windows' and its detectors' entries; 2 (read only): its windows' entries, detectors whole in the meta part. */
  v: 2 | 3;
  /** Last input offset whose effects the state includes; processing resumes after it. */
  offset: number;
  /** Watermark tracker snapshot of the partition. */
  watermark: unknown;
  /** Per pipeline: [name, hash of its config, meta state (window clock, detectors)]. */
  pipelines: Array<[string, string, unknown]>;
  /** Ids the partition's source remembers for de-duplication (`dedup` in its mapping); absent without. */
  dedup?: unknown;
  savedAt: number;
}

/** An incremental checkpoint: the meta part and the keys changed since the previous one. */
export interface CheckpointDelta {
  meta: Checkpoint;
  /** [pipeline index, key, the key's entry ([windows' entries, detectors' entry]), or null when the key has no state any more] */
  changes: Array<[number, string, unknown[] | null]>;
  /** True when the stored keys must be replaced entirely (first checkpoint of a fresh state). */
  full: boolean;
}

/** A checkpoint as loaded: the meta part and, per pipeline index, all window entries of all keys and the detectors' entry of each key. */
export interface LoadedCheckpoint {
  meta: Checkpoint;
  entries: unknown[][];
  keyed: KeyedEntries[];
}

/** A checkpoint as read from Redis: the meta value and the keys hash as field, value, field, value... */
export interface RawCheckpoint {
  meta: Buffer;
  fields: Buffer[];
}

/**
 * Decode a stored checkpoint; undefined for a meta value of an unknown version (the partition then
 * starts fresh). Fields are `<pipeline index>:<key>`; the key is read only for a detectors' entry.
 */
export function decodeCheckpoint(raw: RawCheckpoint): LoadedCheckpoint | undefined {
  const meta = packr.unpack(raw.meta) as Checkpoint;
  if (meta?.v !== 2 && meta?.v !== 3) return undefined;
  const loaded: LoadedCheckpoint = { meta, entries: meta.pipelines.map(() => []), keyed: meta.pipelines.map(keyedEntries) };
  const { fields } = raw;
  for (let f = 0; f + 1 < fields.length; f += 2) {
    const field = fields[f];
    const colon = field.indexOf(58); // ':'
    const i = pipelineIndex(field, colon);
    if (i < 0 || i >= meta.pipelines.length) continue;
    addEntry(loaded, i, packr.unpack(fields[f + 1]), () => field.toString('utf8', colon + 1));
  }
  return loaded;
}

/** What a checkpoint whose fields were never stored loads as (tests, and a process that keeps its own). */
export function loadDelta(delta: Pick<CheckpointDelta, 'meta' | 'changes'>): LoadedCheckpoint {
  const loaded: LoadedCheckpoint = { meta: delta.meta, entries: delta.meta.pipelines.map(() => []), keyed: delta.meta.pipelines.map(keyedEntries) };
  for (const [i, key, value] of delta.changes) if (value !== null && i < delta.meta.pipelines.length) addEntry(loaded, i, value, () => key);
  return loaded;
}

/** One key's stored value into a loaded checkpoint (its layout depends on the checkpoint's version). */
function addEntry(loaded: LoadedCheckpoint, i: number, value: unknown, key: () => string): void {
  const v3 = loaded.meta.v === 3;
  const windows = (v3 ? (value as unknown[])[0] : value) as unknown[];
  if (!Array.isArray(windows)) throw new VigieError('VIGIE_ERR_SNAPSHOT', `checkpoint: bad entry for a key of pipeline ${i}`);
  const list = loaded.entries[i];
  for (let j = 0; j < windows.length; j++) list.push(windows[j]);
  const detectors = v3 ? (value as unknown[])[1] : null;
  if (detectors !== null && detectors !== undefined) {
    loaded.keyed[i].keys.push(key());
    loaded.keyed[i].entries.push(detectors);
  }
}

/** The pipeline index that starts a field (`<index>:<key>`, its colon at `colon`), read from its bytes; -1 if none. */
function pipelineIndex(field: Buffer, colon: number): number {
  if (colon <= 0) return -1;
  let i = 0;
  for (let j = 0; j < colon; j++) {
    const c = field[j];
    if (c < 48 || c > 57) return -1;
    i = i * 10 + (c - 48);
  }
  return i;
}

export interface CheckpointStore {
  /**
   * Take ownership of a partition's checkpoint and load it. Ownership is an epoch: from now on, writes
   * of any earlier owner (a member fenced out by a rebalance, whose write was still in flight) are refused.
   */
  acquire(id: string): Promise<{ epoch: number; checkpoint: LoadedCheckpoint | undefined }>;
  /** Write atomically if `epoch` still owns the partition; resolves with the bytes written, or -1 when fenced out. */
  save(id: string, epoch: number, delta: CheckpointDelta): Promise<number>;
  close(): Promise<void>;
}

/**
 * Conditional, atomic checkpoint write. KEYS: epoch, meta, keys hash. ARGV: epoch, ttl ms, full (0/1),
 * meta, number of fields to set, then field/value pairs, then fields to delete. A write of a
 * superseded owner is refused (returns 0), so a late write can never mix two owners' states.
 */
const SAVE_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] == '1' then redis.call('UNLINK', KEYS[3]) end
local nset = tonumber(ARGV[5])
local i = 6
while i < 6 + 2 * nset do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
while i <= #ARGV do
  redis.call('HDEL', KEYS[3], ARGV[i])
  i = i + 1
end
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/** Fields one command carries at most when a checkpoint is written (bounded arguments, short commands). */
export const SAVE_CHUNK = 10_000;

/**
 * Commit of a staged checkpoint. KEYS: epoch, meta, keys hash, staging hash. ARGV: epoch, ttl ms, full
 * (0/1), meta. The staging hash holds field/value pairs, and for an incremental checkpoint the fields
 * to delete with an empty value (a stored value is never empty: it is a msgpack array). Full: the
 * staging hash replaces the keys hash; incremental: it is merged in. Refused (0) for a superseded owner.
 */
const COMMIT_STAGED_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  redis.call('UNLINK', KEYS[4])
  return 0
end
if ARGV[3] == '1' then
  redis.call('UNLINK', KEYS[3])
  if redis.call('EXISTS', KEYS[4]) == 1 then redis.call('RENAME', KEYS[4], KEYS[3]) end
else
  local kv = redis.call('HGETALL', KEYS[4])
  for i = 1, #kv, 2 do
    if kv[i + 1] == '' then redis.call('HDEL', KEYS[3], kv[i]) else redis.call('HSET', KEYS[3], kv[i], kv[i + 1]) end
  end
  redis.call('UNLINK', KEYS[4])
end
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

export const stateSchema = z
  .strictObject({
    store: z.enum(['none', 'redis']).default('none').describe('Where partition state is checkpointed: none (state is lost on restart), or redis.'),
    redisUrl: z.string().default('redis://127.0.0.1:6379').describe('Redis URL (redis:// or rediss:// for TLS); e.g. "${REDIS_URL}". A password in the URL is better given with passwordEnv.'),
    username: redisConnectionShape.username,
    passwordEnv: z.string().optional().describe('Environment variable holding the Redis password (ACL user in the URL or in `username`).'),
    tls: redisConnectionShape.tls,
    prefix: z.string().min(1).default('vigie').describe('Prefix of every key written.'),
    interval: durationSchema.default(5000).describe('How often (processing time) each partition\'s state is checkpointed; offsets are committed right after.'),
    ttl: durationSchema.default(7 * 86_400_000).describe('Checkpoints expire after this long without being rewritten (a bound on stored data).'),
  })
  .default({ store: 'none', redisUrl: 'redis://127.0.0.1:6379', tls: false, prefix: 'vigie', interval: 5000, ttl: 7 * 86_400_000 })
  .describe('State checkpoints for partitioned (Kafka) sources.');
export type StateConfig = z.infer<typeof stateSchema>;

// Plain msgpack (no record extension) so that checkpoints stay readable by other tools; keeps ±Infinity.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/**
 * Checkpoints in Redis, per partition: a meta value and a hash with one field per (pipeline, key).
 * A checkpoint writes the changed keys, deletes the emptied ones and replaces the meta value in one
 * script (a large checkpoint is staged first, in chunks, then swapped in by one script), so the stored
 * keys and the offset they cover always go together; both carry a TTL.
 */
export class RedisCheckpointStore implements CheckpointStore {
  private readonly redis: RedisClient;
  private readonly target: string;
  /** The last connection error (TLS, refused...), for the message of calls that gave up because of it. */
  private lastError: Error | undefined;
  /** Writes started, for the names of staging hashes. */
  private writes = 0;

  constructor(
    private readonly cfg: StateConfig,
    logger: Logger = silentLogger,
  ) {
    // The shared connection factory (src/redis/connection.ts), fed from this section's own keys.
    const conn: RedisConnectionOptions = { url: cfg.redisUrl, username: cfg.username, passwordEnv: cfg.passwordEnv, tls: cfg.tls };
    this.redis = createRedis(conn, { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: true });
    // Without a listener ioredis prints every connection error raw to stderr. The calls that need the
    // connection reject with the error; the log says it once per distinct message until the next `ready`.
    const target = (this.target = describeRedisTarget(conn));
    let lastLogged: string | undefined;
    this.redis.on('error', (err: Error) => {
      this.lastError = err;
      if (err.message === lastLogged) return;
      lastLogged = err.message;
      logger.warn({ component: 'checkpoint-store', target, err: err.message }, 'checkpoint store: redis connection error');
    });
    this.redis.on('ready', () => {
      lastLogged = undefined;
      this.lastError = undefined;
    });
  }

  /** A call that gave up after its reconnections says why the connection failed, not just that it did. */
  private async call<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      const last = this.lastError;
      if (err instanceof Error && err.name === 'MaxRetriesPerRequestError' && last !== undefined) {
        throw new VigieError('VIGIE_ERR_STATE', `checkpoint store: cannot reach Redis at ${this.target}: ${last.message}`, { cause: err });
      }
      throw err;
    }
  }

  private metaKey(id: string): string {
    return `${this.cfg.prefix}:checkpoint:${id}`;
  }

  private keysKey(id: string): string {
    return `${this.cfg.prefix}:checkpoint:${id}:keys`;
  }

  private epochKey(id: string): string {
    return `${this.cfg.prefix}:checkpoint:${id}:epoch`;
  }

  async acquire(id: string): Promise<{ epoch: number; checkpoint: LoadedCheckpoint | undefined }> {
    const epoch = await this.claim(id);
    return { epoch, checkpoint: await this.load(id) };
  }

  /** The ownership part of {@link acquire}: a new epoch for the partition, without loading its checkpoint. */
  async claim(id: string): Promise<number> {
    const epoch = await this.call(this.redis.incr(this.epochKey(id)));
    await this.call(this.redis.pexpire(this.epochKey(id), this.cfg.ttl));
    return epoch;
  }

  async load(id: string): Promise<LoadedCheckpoint | undefined> {
    const raw = await this.read(id);
    return raw === undefined ? undefined : decodeCheckpoint(raw);
  }

  /** A partition's checkpoint as stored, not decoded: the meta value and the hash's fields and values. */
  async read(id: string): Promise<RawCheckpoint | undefined> {
    // HGETALL as a flat reply: no object with a property per field (slow to build for a large hash).
    const [meta, fields] = await this.call(Promise.all([this.redis.getBuffer(this.metaKey(id)), this.redis.callBuffer('HGETALL', this.keysKey(id)) as Promise<Buffer[]>]));
    return meta === null ? undefined : { meta, fields };
  }

  async save(id: string, epoch: number, delta: CheckpointDelta): Promise<number> {
    let bytes = 0;
    const set: Array<string | Buffer> = [];
    const del: string[] = [];
    for (const [i, key, entries] of delta.changes) {
      const field = `${i}:${key}`;
      if (entries === null) {
        if (!delta.full) del.push(field);
      } else {
        const value = packr.pack(entries);
        bytes += value.byteLength;
        set.push(field, value);
      }
    }
    const meta = packr.pack(delta.meta);
    bytes += meta.byteLength;
    const ok = set.length / 2 + del.length <= SAVE_CHUNK ? await this.saveAtOnce(id, epoch, delta.full, meta, set, del) : await this.saveStaged(id, epoch, delta.full, meta, set, del);
    return ok === 1 ? bytes : -1;
  }

  /** A checkpoint of at most SAVE_CHUNK fields: one script. */
  private async saveAtOnce(id: string, epoch: number, full: boolean, meta: Buffer, set: Array<string | Buffer>, del: string[]): Promise<unknown> {
    const args: Array<string | Buffer | number> = [String(epoch), this.cfg.ttl, full ? '1' : '0', meta, set.length / 2];
    for (let i = 0; i < set.length; i++) args.push(set[i]);
    for (let i = 0; i < del.length; i++) args.push(del[i]);
    return this.call(this.redis.eval(SAVE_SCRIPT, 3, this.epochKey(id), this.metaKey(id), this.keysKey(id), ...args));
  }

  /**
   * A larger checkpoint (a full one of a large state, or many keys changed): its fields go first to a
   * staging hash of this write only, SAVE_CHUNK per HSET, then one script checks the epoch and swaps
   * the staging hash in (full) or merges it (incremental), with the meta value. Until that script,
   * the stored checkpoint is untouched; a staging hash left behind by a failed write expires.
   */
  private async saveStaged(id: string, epoch: number, full: boolean, meta: Buffer, set: Array<string | Buffer>, del: string[]): Promise<unknown> {
    const staging = `${this.keysKey(id)}:staging:${epoch}:${++this.writes}`;
    const p = this.redis.pipeline();
    for (let i = 0; i < set.length; i += 2 * SAVE_CHUNK) p.hset(staging, set.slice(i, i + 2 * SAVE_CHUNK));
    for (let i = 0; i < del.length; i += SAVE_CHUNK) p.hset(staging, del.slice(i, i + SAVE_CHUNK).flatMap((f) => [f, '']));
    p.pexpire(staging, this.cfg.ttl);
    try {
      const replies = (await this.call(p.exec())) ?? [];
      for (const [err] of replies) if (err) throw err;
      return await this.call(this.redis.eval(COMMIT_STAGED_SCRIPT, 4, this.epochKey(id), this.metaKey(id), this.keysKey(id), staging, String(epoch), this.cfg.ttl, full ? '1' : '0', meta));
    } catch (err) {
      await this.redis.unlink(staging).catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
