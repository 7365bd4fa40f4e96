/**
 * Fleet-wide hot reload through Redis (the real server of the test setup, `services().redisUrl`):
 * two engines in this process, each with its reloader on the same key and channel, under keys of this
 * test's own (removed afterwards). SET + PUBLISH switches both; an invalid config is rejected by both;
 * every outcome is in the audit stream with the instance that had it.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigReloader } from '../../src/engine/reload-watch.js';
import { Engine } from '../../src/engine/engine.js';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { mappingSchema } from '../../src/sources/mapping.js';
import type { RawBatch, Source } from '../../src/sources/types.js';
import { memorySink } from '../../sinks/memory.js';
import { services } from '../infra/index.js';

const id = `vigie-test-reload:${process.pid}:${randomUUID().slice(0, 8)}`;
const KEY = `${id}:config`;
const CHANNEL = `${id}:changed`;
const STREAM = `${id}:audit`;

/** A live source that yields nothing until closed. */
function idleSource(): Source & { end(): void } {
  let wake: (() => void) | undefined;
  let ended = false;
  return {
    name: 'in',
    type: 'test',
    format: 'object',
    mapping: mappingSchema.parse({}),
    partitions: () => [0],
    async *batches(): AsyncGenerator<RawBatch> {
      while (!ended) await new Promise<void>((r) => (wake = r));
    },
    async close() {},
    end() {
      ended = true;
      wake?.();
    },
  };
}

const yaml = (value: number | string, reload = '') => `
time: { maxOutOfOrderness: 0, tick: 1h }
sources: [{ name: in, type: stdin }]
pipelines:
  - name: pay
    key: user
    window: { type: tumbling, size: 10s }
    aggregates: [{ name: n, fn: count }]
    detectors:
      - { name: big, type: threshold, aggregate: n, value: ${value} }
metrics: { enabled: false }
${reload}
`;

const reloadSection = (instance: string) => `reload:
  watchFile: false
  redis: { url: "${services().redisUrl}", key: "${KEY}", channel: "${CHANNEL}", auditStream: "${STREAM}", instance: ${instance} }`;

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

interface Node {
  name: string;
  engine: Engine;
  metrics: EngineMetrics;
  reloader: ConfigReloader;
  source: ReturnType<typeof idleSource>;
  done: Promise<unknown>;
}

describe('fleet reload through Redis', () => {
  let redis: Redis;
  const nodes: Node[] = [];

  beforeAll(async () => {
    redis = new Redis(services().redisUrl, { lazyConnect: true });
    await redis.connect();
    for (const name of ['node-a', 'node-b']) {
      const loaded = parseConfig(yaml(3, reloadSection(name)), `${name}.yaml`);
      const metrics = new EngineMetrics(false);
      const source = idleSource();
      const engine = new Engine({ loaded, mode: 'live', sources: [source], sinks: [memorySink()], metrics });
      const done = engine.run();
      const reloader = new ConfigReloader({ engine, file: `${name}.yaml`, settings: loaded.config.reload, metrics });
      // Subscribed, and the key read (absent: the file's config goes on).
      await reloader.start();
      nodes.push({ name, engine, metrics, reloader, source, done });
    }
  });

  afterAll(async () => {
    for (const n of nodes) {
      await n.reloader.close();
      n.engine.stop();
      n.source.end();
      await n.done;
    }
    await redis?.del(KEY, STREAM);
    redis?.disconnect();
  });

  const audit = async () =>
    (await redis.xrange(STREAM, '-', '+')).map(([, fields]) => {
      const o: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) o[fields[i]] = fields[i + 1];
      return o;
    });

  it('SET + PUBLISH: every instance applies the new config and reports its version; an invalid one is rejected by all', async () => {
    const before = nodes.map((n) => n.engine.version);
    expect(nodes.every((n) => n.reloader.instance === n.name)).toBe(true);

    // The fleet's config: the same pipelines with a new threshold (and no reload section of its own: the
    // reload settings of a running instance only change with a restart).
    const text = yaml(5);
    const next = parseConfig(text, 'fleet.yaml');
    await redis.set(KEY, text);
    expect(await redis.publish(CHANNEL, 'reload')).toBe(2);
    await until(() => nodes.every((n) => n.engine.version === next.version), 'both instances on the new version');
    for (const n of nodes) expect(await n.metrics.text()).toContain(`vigie_config_info{version="${next.version}"} 1`);

    await until(async () => (await audit()).length >= 2, 'two audit entries');
    const applied = await audit();
    expect(applied).toHaveLength(2);
    expect(applied.map((e) => e.instance).sort()).toEqual(['node-a', 'node-b']);
    for (const e of applied) {
      expect(e).toMatchObject({ mechanism: 'redis', outcome: 'applied', version: next.version, errors: '[]', changed: '["big"]', added: '[]', removed: '[]' });
      expect(before).toContain(e.previous);
      expect(Date.parse(e.time)).not.toBeNaN();
    }
    for (const n of nodes) expect(await n.metrics.text()).toMatch(/vigie_config_reloads_total\{mechanism="redis",outcome="applied"\} 1/);

    // An invalid config: both reject it, keep running the previous one, and say why.
    await redis.set(KEY, yaml('"five"'));
    await redis.publish(CHANNEL, 'reload');
    await until(async () => (await audit()).length >= 4, 'two more audit entries');
    const all = await audit();
    expect(all).toHaveLength(4);
    const rejected = all.slice(2);
    expect(rejected.map((e) => e.instance).sort()).toEqual(['node-a', 'node-b']);
    for (const e of rejected) {
      expect(e).toMatchObject({ mechanism: 'redis', outcome: 'rejected', version: '', previous: next.version });
      const errors = JSON.parse(e.errors) as string[];
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.join('\n')).toMatch(/redis:.*pipelines\[0\]\.detectors\[0\]\.value/);
    }
    expect(nodes.every((n) => n.engine.version === next.version)).toBe(true);
    for (const n of nodes) expect(await n.metrics.text()).toMatch(/vigie_config_reloads_total\{mechanism="redis",outcome="rejected"\} 1/);
  });
});
