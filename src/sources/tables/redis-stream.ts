/**
 * A table in a Redis stream: each entry is a row (its fields), keyed by one of its fields, a version
 * of that key valid from its time. Read whole with XRANGE, page by page, before the first event; live,
 * followed with XREAD BLOCK from the last entry read, each entry applied as it is read. Entries are
 * never deletions. A lost connection keeps the rows and is retried with backoff (one warning per outage).
 */
import { z } from 'zod';
import { VigieError } from '../../errors.js';
import { checkRedisConnection, createRedis, describeRedisTarget, redisConnectionShape, type RedisClient } from '../../redis/connection.js';
import { positiveDurationSchema } from '../../time/duration.js';
import { BadRows, commonTableShape, TableHolder, tableTimeSchema, toRow, type RowSpec, type Table, type TableContext, heldTable } from './types.js';
import type { VersionedTable } from './versioned.js';

export const type = 'redis-stream';

export const schema = z
  .strictObject({
    ...commonTableShape,
    type: z.literal(type).describe('Selects the redis-stream table.'),
    ...redisConnectionShape,
    stream: z.string().min(1).describe('Key of the Redis stream, e.g. `verdicts`: each entry is a row.'),
    key: z.string().min(1).describe('Entry field holding the row key, matched against the event field named by `enrich.on`.'),
    time: z
      .union([z.literal('entry'), tableTimeSchema])
      .optional()
      .describe('Event-time versioning: `{ field, format }` (the row is valid from the time in that entry field), or `entry` (from the milliseconds of the entry id). Absent: one current row per key, the last entry read.'),
    block: positiveDurationSchema.default(1000).describe('`vigie run`: how long each XREAD waits for new entries (BLOCK) before asking again.'),
    count: z.number().int().min(1).max(100_000).default(1000).describe('Entries asked for by each XRANGE (load) and XREAD (live) call.'),
  })
  .superRefine((c, ctx) => checkRedisConnection(c, ctx))
  .describe('A table in a Redis stream, read whole at start and followed live.');
export type Config = z.infer<typeof schema>;

/** A stream entry as ioredis gives it: the id, then field, value, field, value... */
type Entry = [id: string, fields: string[]];

/** Milliseconds of an entry id (`1700000000000-0` -> 1700000000000). */
export function entryMillis(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

/** The id right after `id` (XRANGE's start is inclusive; `(id` needs Redis 6.2). */
export function nextEntryId(id: string): string {
  const dash = id.indexOf('-');
  return `${id.slice(0, dash)}-${BigInt(id.slice(dash + 1)) + 1n}`;
}

/** Delay before retry number `attempt` (1, 2, ...): doubling from 100 ms, at most 5 s. */
export function followBackoff(attempt: number): number {
  return Math.min(5000, 100 * 2 ** Math.min(attempt - 1, 16));
}

export function create(config: Config, ctx: TableContext): Table {
  const spec: RowSpec = { key: config.key, time: typeof config.time === 'object' ? config.time : undefined, fields: config.fields };
  const holder = new TableHolder(config.name, config.time !== undefined, config, ctx.metrics);
  const log = ctx.logger.child({ table: config.name });
  const target = describeRedisTarget(config);
  let client: RedisClient | undefined;
  let lastError: Error | undefined;
  /** Id of the last entry read ('0-0': none yet). */
  let lastId = '0-0';
  let closed = false;
  let following: Promise<void> | undefined;
  let wake: (() => void) | undefined;

  function apply(entries: Entry[], into: VersionedTable, bad: BadRows): void {
    for (const [id, flat] of entries) {
      lastId = id;
      const record: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) record[flat[i]] = flat[i + 1];
      const r = toRow(record, spec, undefined, config.time === 'entry' ? entryMillis(id) : 0);
      if ('error' in r) bad.add(`entry ${id}`, r.error);
      else into.put(r.key, r.time, r.row);
    }
  }

  function reportBad(bad: BadRows): void {
    if (bad.count === 0) return;
    ctx.metrics?.tableBadRows.inc({ table: config.name }, bad.count);
    log.warn({ stream: config.stream, badRows: bad.count, first: bad.first }, 'table entries skipped: malformed');
  }

  function connect(): RedisClient {
    if (client !== undefined) return client;
    const c = createRedis(config, {
      lazyConnect: true,
      // The follow loop retries on its own: a lost connection fails the command at once.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // A reply never coming (a half-open connection) counts as an outage too.
      commandTimeout: config.block + config.connectTimeout,
      retryStrategy: followBackoff,
      connectionName: `vigie-table-${config.name}`.replace(/[^A-Za-z0-9_.:-]/g, '_'),
    });
    c.on('error', (err: Error) => {
      lastError = err;
      log.debug({ target, err: err.message }, 'table connection error');
    });
    client = c;
    return c;
  }

  /** Read every entry present now, page by page, into a fresh table. */
  async function readAll(c: RedisClient): Promise<VersionedTable> {
    const into = holder.fresh();
    const bad = new BadRows();
    let start = '-';
    for (;;) {
      const page = (await c.xrange(config.stream, start, '+', 'COUNT', config.count)) as Entry[];
      apply(page, into, bad);
      if (page.length < config.count) break;
      start = nextEntryId(lastId);
    }
    reportBad(bad);
    return into;
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Live: new entries from the last one read, until closed; outages keep the rows and are retried. */
  async function follow(c: RedisClient): Promise<void> {
    let failures = 0;
    let downSince = 0;
    while (!closed) {
      let entries: Entry[];
      try {
        if (c.status === 'wait' || c.status === 'end') await c.connect();
        const reply = (await c.xread('COUNT', config.count, 'BLOCK', config.block, 'STREAMS', config.stream, lastId)) as Array<[string, Entry[]]> | null;
        entries = reply?.[0]?.[1] ?? [];
      } catch (err) {
        if (closed) return;
        failures++;
        if (failures === 1) {
          downSince = Date.now();
          ctx.metrics?.tableReloadFailures.inc({ table: config.name });
          log.warn({ stream: config.stream, target, reason: (err as Error).message }, 'table cannot read the stream: keeping the rows, retrying');
        }
        await sleep(followBackoff(failures));
        continue;
      }
      if (failures > 0) {
        log.info({ stream: config.stream, target, retries: failures, downMs: Date.now() - downSince }, 'table following the stream again');
        failures = 0;
      }
      if (entries.length === 0) continue;
      const bad = new BadRows();
      apply(entries, holder.current, bad);
      reportBad(bad);
      holder.report();
    }
  }

  async function stop(): Promise<void> {
    closed = true;
    wake?.();
    const c = client;
    client = undefined;
    c?.disconnect();
    await following;
  }

  return heldTable(config.name, type, holder, {
    async load() {
      try {
        const c = connect();
        await c.connect().catch((err: Error) => {
          throw lastError ?? err;
        });
        holder.swap(await readAll(c), Date.now());
      } catch (err) {
        await stop();
        throw new VigieError('VIGIE_ERR_TABLE', `table "${config.name}": cannot read stream ${config.stream} from ${target}: ${(err as Error).message}`, { cause: err });
      }
      log.info({ stream: config.stream, rows: holder.rows, lastId }, 'table loaded');
      // Replay: the table as it was at start, whatever is added meanwhile (deterministic results).
      if (ctx.live && !closed) following = follow(client!);
      else await stop();
    },
    close: stop,
  });
}
