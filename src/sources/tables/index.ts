/**
 * Reference tables: the registry of table types, their config, and the set of a run's tables
 * (loaded before the first batch, closed at the end).
 */
import { z } from 'zod';
import { VigieError } from '../../errors.js';
import * as file from './file.js';
import * as kafka from './kafka.js';
import * as redis from './redis.js';
import * as redisStream from './redis-stream.js';
import type { Table, TableContext, TableLookup } from './types.js';

export type { Table, TableContext, TableLookup } from './types.js';
export type { Row } from './versioned.js';

/** Config of one table: chosen by `type`. */
export const tableSchema = z.discriminatedUnion('type', [file.schema, kafka.schema, redis.schema, redisStream.schema]);
export type TableConfig = z.infer<typeof tableSchema>;

/** Build the table a config names (nothing is read before `load`). */
export function createTable(config: TableConfig, ctx: TableContext): Table {
  switch (config.type) {
    case 'file':
      return file.create(config, ctx);
    case 'kafka':
      return kafka.create(config, ctx);
    case 'redis':
      return redis.create(config, ctx);
    case 'redis-stream':
      return redisStream.create(config, ctx);
  }
}

/** The tables of a run, by name. */
export class Tables {
  readonly byName: ReadonlyMap<string, Table>;

  constructor(readonly list: readonly Table[]) {
    this.byName = new Map(list.map((t) => [t.name, t]));
  }

  /** What pipelines look rows up in. */
  get lookups(): ReadonlyMap<string, TableLookup> {
    return this.byName;
  }

  /** Load every table at once; the first failure closes them all and is thrown (a VigieError). */
  async load(): Promise<void> {
    const results = await Promise.allSettled(this.list.map((t) => t.load()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed === undefined) return;
    await this.close();
    const err = failed.reason;
    throw err instanceof VigieError ? err : new VigieError('VIGIE_ERR_TABLE', `a table could not be loaded: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.list.map((t) => t.close()));
  }
}
