/**
 * The labels stream the console's triage writes, read back as the learned scorer reads it: the
 * `redis-stream` tables of docs/console.md (by event for `labels`, by key for the queue's `exclude`),
 * built and loaded with the table module against the real Redis of the global setup (this run's own
 * namespace, removed afterwards).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredAlert } from '../../src/console/alert-entry.js';
import { triageChange, type TriageRequest } from '../../src/console/triage.js';
import { TriageStore } from '../../src/console/triage-store.js';
import { formatProblem, parseConfig, validateConfigText } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { createTable, tableSchema, type Table } from '../../src/sources/tables/index.js';
import { sampleAlert } from '../helpers/alerts.js';
import { ROOT } from '../helpers/cli.js';
import { deleteKeys } from '../helpers/redis-keys.js';
import { services } from '../infra/index.js';

const ns = `vigie:test:console-labels:${randomUUID()}`;
const keys = { prefix: `${ns}:triage`, auditStream: `${ns}:audit`, labelsStream: `${ns}:labels` };
const doc = readFileSync(join(ROOT, 'docs', 'console.md'), 'utf8');
const section = doc.slice(doc.indexOf('## The labels stream'), doc.indexOf('\n## ', doc.indexOf('## The labels stream') + 1));
const example = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';

let redis: Redis;
let url: string;
const opened: Table[] = [];

const stored = (id: string, key: string, evidence: string[]): StoredAlert => ({ ...sampleAlert(id, key, { evidence }), entryId: '1-0', stream: `${ns}:alerts` });

async function triage(req: TriageRequest, alerts: StoredAlert[], at: number): Promise<void> {
  await new TriageStore(redis, keys, 10_000).apply(triageChange(req, alerts, 'analyst', at));
}

/** The docs' example tables, pointed at this run's Redis and labels stream, loaded as a replay loads them. */
async function exampleTables(): Promise<Map<string, Table>> {
  const config = parseConfig(example, 'docs/console.md');
  const tables = new Map<string, Table>();
  for (const t of config.config.tables ?? []) {
    const table = createTable(tableSchema.parse({ ...t, url, stream: keys.labelsStream }), { baseDir: ROOT, logger: silentLogger, live: false });
    opened.push(table);
    await table.load();
    tables.set(t.name, table);
  }
  return tables;
}

beforeAll(async () => {
  url = services().redisUrl;
  redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
});

afterAll(async () => {
  for (const t of opened) await t.close();
  if (redis !== undefined) {
    await deleteKeys(redis, ns);
    redis.disconnect();
  }
});

describe('labels stream as a table', () => {
  it("the docs' example is a valid config: the model reads verdicts by event, the queue leaves out triaged keys", () => {
    expect(example).toContain('type: redis-stream');
    const report = validateConfigText(example, 'docs/console.md', {});
    expect(report.problems.filter((p) => p.severity !== 'warning').map(formatProblem)).toEqual([]);
    const model = parseConfig(example, 'docs/console.md').config.pipelines[0].detectors[0] as unknown as { labels: unknown; queue: { exclude: unknown } };
    expect(model.labels).toEqual({ table: 'verdicts', field: 'verdict', positive: ['confirmed_fraud'] });
    expect(model.queue.exclude).toEqual({ table: 'triaged-cards' });
  });

  it('looks the verdict of an event up at a time, as the triage store wrote it; the latest valid verdict wins', async () => {
    const a1 = stored('a1', 'card-1', ['p1', 'p2']);
    await triage({ subject: 'alert', id: 'a1', state: 'confirmed_fraud' }, [a1], 1000);
    await triage({ subject: 'alert', id: 'a2', state: 'false_positive' }, [stored('a2', 'card-2', ['p3'])], 2000);
    await triage({ subject: 'alert', id: 'a1', state: 'false_positive' }, [a1], 3000);
    await triage({ subject: 'key', id: 'card-3', state: 'confirmed_fraud' }, [stored('a3', 'card-3', ['p4']), stored('a4', 'card-3', ['p4', 'p5'])], 4000);

    const tables = await exampleTables();
    const verdicts = tables.get('verdicts')!;
    const positive = (event: string, t: number) => ['confirmed_fraud'].includes(verdicts.lookup(event, t)?.verdict as string);
    expect(verdicts.rows).toBe(5);
    expect(verdicts.lookup('p1', 999)).toBeUndefined();
    expect(verdicts.lookup('p1', 1000)).toEqual({ event: 'p1', key: 'card-1', verdict: 'confirmed_fraud', alert: 'a1', subject: 'alert', time: '1000' });
    expect(positive('p1', 2999)).toBe(true);
    expect(positive('p1', 3000)).toBe(false);
    expect(verdicts.lookup('p2', 3000)?.verdict).toBe('false_positive');
    expect(positive('p3', 10_000)).toBe(false);
    expect(verdicts.lookup('p5', 4000)).toEqual({ event: 'p5', key: 'card-3', verdict: 'confirmed_fraud', alert: '', subject: 'key', time: '4000' });
    expect(positive('p4', 4000)).toBe(true);
    expect(verdicts.lookup('p-unknown', 10_000)).toBeUndefined();

    // The queue's exclude table: a key is left out once any of its events has a label.
    const triaged = tables.get('triaged-cards')!;
    expect(triaged.lookup('card-1', 999)).toBeUndefined();
    expect(triaged.lookup('card-1', 1000)).toMatchObject({ key: 'card-1' });
    expect(triaged.lookup('card-3', 3999)).toBeUndefined();
    expect(triaged.lookup('card-3', 4000)).toMatchObject({ key: 'card-3', verdict: 'confirmed_fraud' });
    expect(triaged.lookup('card-9', 10_000)).toBeUndefined();
    // One version per triage time (the labels of one change share it).
    expect(triaged.count('card-1', 0, 10_000)).toBe(2);
  });
});
