/**
 * A table in Redis hashes under a key prefix (`merchant:42` -> row key `42`, its fields the hash's),
 * read whole with SCAN and HGETALL at start and again every `refresh` (the new content is swapped in
 * whole; a failed refresh keeps the previous rows).
 */
import { z } from 'zod';
import type { Redis } from 'ioredis';
import { VigieError } from '../../errors.js';
import { checkRedisConnection, createRedis, describeRedisTarget, isCluster, redisConnectionShape, type RedisClient } from '../../redis/connection.js';
import { durationSchema } from '../../time/duration.js';
import { BadRows, commonTableShape, TableHolder, tableTimeSchema, toRow, type RowSpec, type Table, type TableContext, heldTable } from './types.js';

export const type = 'redis';

export const schema = z
  .strictObject({
    ...commonTableShape,
    type: z.literal(type).describe('Selects the redis table.'),
    ...redisConnectionShape,
    prefix: z.string().min(1).describe('Key prefix of the hashes, e.g. `merchant:`: the hash `merchant:42` is the row of key `42`.'),
    time: tableTimeSchema.optional(),
    refresh: durationSchema.default(60_000).describe('`vigie run`: read the hashes again this often (0: never). Replay reads them once.'),
    scanCount: z.number().int().min(1).max(100_000).default(1000).describe('COUNT hint of each SCAN call.'),
  })
  .superRefine((c, ctx) => checkRedisConnection(c, ctx))
  .describe('A table in Redis hashes under a key prefix, refreshed periodically.');
export type Config = z.infer<typeof schema>;

/** A glob pattern matching exactly the keys that start with `prefix`. */
export function prefixPattern(prefix: string): string {
  return `${prefix.replace(/[\\*?[\]]/g, (c) => `\\${c}`)}*`;
}

export function create(config: Config, ctx: TableContext): Table {
  const spec: RowSpec = { key: undefined, time: config.time, fields: config.fields };
  const holder = new TableHolder(config.name, config.time !== undefined, config, ctx.metrics);
  const log = ctx.logger.child({ table: config.name });
  let client: RedisClient | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  async function scanNode(node: Redis, into: ReturnType<typeof holder.fresh>, bad: BadRows): Promise<void> {
    const pattern = prefixPattern(config.prefix);
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', config.scanCount);
      cursor = next;
      if (keys.length === 0) continue;
      const pipe = node.pipeline();
      for (const k of keys) pipe.hgetall(k);
      const replies = (await pipe.exec()) ?? [];
      replies.forEach(([err, hash], j) => {
        const key = keys[j].slice(config.prefix.length);
        // A key of another type (WRONGTYPE) or removed meanwhile.
        if (err) return bad.add(`key ${keys[j]}`, 'not a hash');
        const h = hash as Record<string, string>;
        if (Object.keys(h).length === 0 || key === '') return;
        const r = toRow(h, spec, key);
        if ('error' in r) bad.add(`key ${keys[j]}`, r.error);
        else into.put(r.key, r.time, r.row);
      });
    } while (cursor !== '0');
  }

  async function read(): Promise<void> {
    const c = (client ??= createRedis(config, { lazyConnect: true, maxRetriesPerRequest: 2, connectionName: `vigie-table-${config.name}` }));
    const into = holder.fresh();
    const bad = new BadRows();
    const nodes = isCluster(c) ? c.nodes('master') : [c];
    for (const node of nodes) await scanNode(node, into, bad);
    if (bad.count > 0) {
      ctx.metrics?.tableBadRows.inc({ table: config.name }, bad.count);
      log.warn({ prefix: config.prefix, badRows: bad.count, first: bad.first }, 'table rows skipped: malformed');
    }
    holder.swap(into, Date.now());
  }

  function schedule(): void {
    if (closed || !ctx.live || config.refresh === 0) return;
    timer = setTimeout(async () => {
      try {
        await read();
        log.debug({ rows: holder.rows }, 'table refreshed');
      } catch (err) {
        ctx.metrics?.tableReloadFailures.inc({ table: config.name });
        log.warn({ target: describeRedisTarget(config), reason: (err as Error).message }, 'table refresh failed: keeping the previous rows');
      }
      schedule();
    }, config.refresh);
    timer.unref();
  }

  return heldTable(config.name, type, holder, {
    async load() {
      try {
        await read();
      } catch (err) {
        throw new VigieError('VIGIE_ERR_TABLE', `table "${config.name}": cannot read hashes ${config.prefix}* from ${describeRedisTarget(config)}: ${(err as Error).message}`, { cause: err });
      }
      log.info({ prefix: config.prefix, rows: holder.rows }, 'table loaded');
      schedule();
    },
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      const c = client;
      client = undefined;
      if (c !== undefined) await c.quit().catch(() => c.disconnect());
    },
  });
}
