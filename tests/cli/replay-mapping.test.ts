import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Alert, WindowResult } from '../../src/types.js';
import { tempDir, vigie } from '../helpers/cli.js';

/*
 * Two sources never designed together (one says `cust_id`, the other `customer`) feed one pipeline keyed
 * by `customer` through their mapping: `vigie replay` gives what one file with unified names gives.
 */

const T0 = Date.parse('2026-01-01T00:00:00Z');
let dir: string;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const PIPELINE = `
pipelines:
  - name: per-customer
    key: customer
    missing: { amount: { default: 0 } }
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }, { name: total, fn: sum, field: amount }]
    detectors: [{ name: busy, type: threshold, aggregate: n, op: '>=', value: 4, severity: high }]
sinks: [{ name: c, type: console, outputs: [alerts] }]
`;

beforeAll(() => {
  dir = tempDir('vigie-mapping-');
  const r = rng(3);
  const shop: string[] = [];
  const app: string[] = [];
  const unified: string[] = [];
  let t = T0;
  for (let i = 0; i < 3000; i++) {
    t += Math.floor(r() * 3000);
    const customer = `c${Math.floor(r() * 40)}`;
    const amount = r() < 0.8 ? Math.floor(r() * 100) : undefined;
    const fromShop = r() < 0.5;
    const noCustomer = r() < 0.03;
    const rec = { id: `e${i}`, ts: t, amount };
    if (fromShop) shop.push(JSON.stringify({ ...rec, ...(noCustomer ? {} : { cust_id: customer }) }));
    else app.push(JSON.stringify({ ...rec, ...(noCustomer ? {} : { customer }) }));
    unified.push(JSON.stringify({ ...rec, ...(noCustomer ? {} : { customer }) }));
  }
  writeFileSync(join(dir, 'shop.ndjson'), `${shop.join('\n')}\n`);
  writeFileSync(join(dir, 'app.ndjson'), `${app.join('\n')}\n`);
  writeFileSync(join(dir, 'all.ndjson'), `${unified.join('\n')}\n`);
  writeFileSync(
    join(dir, 'two.yaml'),
    `time: { maxOutOfOrderness: 1h }
sources:
  - { name: shop, type: ndjson-file, path: shop.ndjson, rename: { cust_id: customer }, required: [customer] }
  - { name: app, type: ndjson-file, path: app.ndjson, required: [customer] }
${PIPELINE}`,
  );
  writeFileSync(
    join(dir, 'one.yaml'),
    `time: { maxOutOfOrderness: 1h }
sources:
  - { name: all, type: ndjson-file, path: all.ndjson, required: [customer] }
${PIPELINE}`,
  );
});

function replay(cfg: string, extra: string[] = []) {
  const out = join(dir, `out-${cfg}-${extra.length}`);
  const r = vigie(['replay', '-c', join(dir, cfg), '--out', out, '--outputs', 'alerts,results,dead-letters', ...extra]);
  expect(r.status, r.stderr).toBe(0);
  const lines = <T>(f: string): T[] =>
    readFileSync(join(out, f), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as T);
  return {
    summary: JSON.parse(r.stdout) as { sources: Record<string, { in: number; events: number; deadLettered: Record<string, number> }>; pipelines: Record<string, unknown> },
    results: lines<WindowResult>('results.jsonl')
      .map((x) => JSON.stringify([x.key, x.start, x.end, x.revision, x.count, x.values]))
      .sort(),
    alerts: lines<Alert>('alerts.jsonl')
      .map((a) => JSON.stringify([a.id, a.key, a.window, a.observed]))
      .sort(),
    dead: lines<{ reason: string; detail: string }>('dead-letters.jsonl'),
  };
}

describe('vigie replay: heterogeneous sources mapped to one schema', () => {
  it('two files naming the customer differently give the same results, alerts and counts as one file with unified names', () => {
    const two = replay('two.yaml');
    const one = replay('one.yaml');
    expect(one.results.length).toBeGreaterThan(100);
    expect(one.alerts.length).toBeGreaterThan(5);
    expect(two.results).toEqual(one.results);
    expect(two.alerts).toEqual(one.alerts);
    expect(two.summary.pipelines).toEqual(one.summary.pipelines);
    expect((two.summary.pipelines['per-customer'] as { missingKey: number }).missingKey).toBe(0);
    // Records without a customer: dead-lettered at ingestion as missing_field, by either source.
    const s = two.summary.sources;
    const missing = (s.shop.deadLettered.missing_field ?? 0) + (s.app.deadLettered.missing_field ?? 0);
    expect(missing).toBeGreaterThan(0);
    expect(missing).toBe(one.summary.sources.all.deadLettered.missing_field);
    expect(s.shop.in + s.app.in).toBe(one.summary.sources.all.in);
    expect(two.dead.every((d) => d.reason === 'missing_field' && d.detail === 'missing required field "customer"')).toBe(true);
  });

  it('a file given with --input keeps the mapping of the source it replaces', () => {
    const configured = replay('two.yaml');
    const input = replay('two.yaml', ['--input', `shop=${join(dir, 'shop.ndjson')}`]);
    expect(input.results).toEqual(configured.results);
    expect(input.summary.sources).toEqual(configured.summary.sources);
  });
});
