/**
 * Hot reload of the running config: the swap between batches, what state is kept, what is rejected,
 * and the file trigger. No services: a live engine over a source the test feeds batch by batch.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';
import { loadDelta } from '../../src/state/checkpoint-store.js';
import { ConfigReloader, redactSecrets } from '../../src/engine/reload-watch.js';
import { Engine } from '../../src/engine/engine.js';
import { pipelineSchema } from '../../src/config/pipeline.js';
import { Task } from '../../src/engine/task.js';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { mappingSchema } from '../../src/sources/mapping.js';
import type { RawBatch, Source } from '../../src/sources/types.js';
import { emptyBatch, type Alert, type VEvent } from '../../src/types.js';
import { memorySink } from '../../sinks/memory.js';

/**
 * A source the test feeds: `push` queues one batch; the engine (maxInflightBatches: 1) asks for the
 * next batch only once the previous one is delivered, so `delivered(n)` waits for the n-th batch.
 */
function feedSource(name = 'in') {
  const queue: RawBatch[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  let pulls = 0;
  let pushed = 0;
  let offset = 0;
  const source: Source = {
    name,
    type: 'test',
    format: 'object',
    mapping: mappingSchema.parse({}),
    partitions: () => [0],
    async *batches(): AsyncGenerator<RawBatch> {
      for (;;) {
        pulls++;
        while (queue.length === 0 && !ended) await new Promise<void>((r) => (wake = r));
        const next = queue.shift();
        if (next === undefined) return;
        yield next;
      }
    },
    async close() {},
  };
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  return {
    source,
    /** Queue a batch of events of user `u` at these times; resolves once the engine has delivered it. */
    async push(times: number[], user = 'u'): Promise<void> {
      queue.push({ partition: 0, records: times.map((ts) => ({ offset: ++offset, data: { id: `e${ts}`, ts, user } })), end: false });
      pushed++;
      poke();
      await until(() => pulls > pushed, `batch ${pushed} delivered`);
    },
    end(): void {
      ended = true;
      poke();
    },
  };
}

async function eventually(cond: () => Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(10);
  }
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(5);
  }
}

const SOURCES = `sources: [{ name: in, type: stdin }]`;
const HEAD = `
time: { maxOutOfOrderness: 0, tick: 1h }
engine: { maxInflightBatches: 1 }
metrics: { enabled: false }
reload: { watchFile: true }
`;

/** v1: `big` (n >= 3), `burst` (5 in 1m), `steady` (3 in 1m), `gone` (every event). */
const V1 = `${HEAD}
${SOURCES}
pipelines:
  - name: pay
    key: user
    window: { type: tumbling, size: 10s }
    aggregates: [{ name: n, fn: count }]
    detectors:
      - { name: big, type: threshold, aggregate: n, value: 3, cooldown: 0 }
      - { name: burst, type: velocity, lookback: 1m, value: 5, cooldown: 0 }
      - { name: steady, type: velocity, lookback: 1m, value: 3, cooldown: 0 }
      - { name: gone, type: velocity, lookback: 1m, value: 1, cooldown: 0 }
`;

/** v2: `big` now n >= 2, `steady` looks back 2m (changed), `burst` as it was, `gone` removed, `newbie` added. */
const V2 = `${HEAD}
${SOURCES}
pipelines:
  - name: pay
    key: user
    window: { type: tumbling, size: 10s }
    aggregates: [{ name: n, fn: count }]
    detectors:
      - { name: burst, type: velocity, lookback: 1m, value: 5, cooldown: 0 }
      - { name: big, type: threshold, aggregate: n, value: 2, cooldown: 0 }
      - { name: steady, type: velocity, lookback: 2m, value: 3, cooldown: 0 }
      - { name: newbie, type: velocity, lookback: 1m, value: 100, cooldown: 0 }
`;

const at = (alerts: Alert[], detector: string) => alerts.filter((a) => a.detector === detector).map((a) => [a.eventTime, a.configVersion]);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'vigie-reload-'));
  dirs.push(d);
  return d;
}

function start(yaml: string, file = 'v1.yaml') {
  const feed = feedSource();
  const sink = memorySink('mem', ['alerts']);
  const metrics = new EngineMetrics(false);
  const loaded = parseConfig(yaml, file);
  const engine = new Engine({ loaded, mode: 'live', sources: [feed.source], sinks: [sink], metrics });
  const done = engine.run();
  const stop = async () => {
    engine.stop();
    feed.end();
    return done;
  };
  return { feed, sink, metrics, engine, loaded, stop };
}

describe('hot reload: Engine.reload', () => {
  it('swaps between batches: new values from the next batch, unchanged detectors keep their state, changed ones restart, removed ones stop', async () => {
    const { feed, sink, metrics, engine, loaded, stop } = start(V1);
    const v1 = loaded.version;
    await feed.push([1000, 2000, 3000]); // W = 3000
    await feed.push([11000]); // W = 11000: window [0, 10 s) fires (n = 3); 3000 released to the event detectors
    expect(at(sink.alerts, 'big')).toEqual([[10000, v1]]);
    expect(at(sink.alerts, 'steady')).toEqual([[3000, v1]]);
    expect(at(sink.alerts, 'gone')).toEqual([[1000, v1], [2000, v1], [3000, v1]]);
    expect(at(sink.alerts, 'burst')).toEqual([]);

    const next = parseConfig(V2, 'v2.yaml');
    const r = await engine.reload(next, 'api');
    expect(r.applied).toBe(true);
    expect(r.version).toBe(next.version);
    expect(r.previous).toBe(v1);
    expect({ ...r.changes, changed: r.changes.changed.sort() }).toEqual({ added: ['newbie'], changed: ['big', 'steady'], removed: ['gone'], unchanged: ['burst'] });
    expect(r.pipelines).toEqual({ added: [], changed: [], removed: [], unchanged: ['pay'] });
    expect(engine.version).toBe(next.version);
    expect(await metrics.text()).toContain(`vigie_config_info{version="${next.version}"} 1`);

    await feed.push([12000]); // W = 12000: 11000 released
    await feed.push([21000]); // W = 21000: window [10 s, 20 s) fires with n = 2 (11000 from before the swap, 12000 after); 12000 released
    await feed.push([22000]); // W = 22000: 21000 released
    const v2 = next.version;
    // The threshold's new value (2) applies to the window that fired after the swap; the alert carries v2.
    expect(at(sink.alerts, 'big')).toEqual([[10000, v1], [20000, v2]]);
    // burst kept its events: its 5th event (12000) counts 1000, 2000 and 3000, seen before the swap.
    expect(at(sink.alerts, 'burst')).toEqual([[12000, v2], [21000, v2]]);
    const burst = sink.alerts.find((a) => a.detector === 'burst') as Alert;
    expect(burst.observed).toBe(5);
    expect(burst.evidence).toEqual(expect.arrayContaining(['e1000', 'e12000']));
    // steady restarted: with its old events it would have alerted at 11000 and 12000; fresh, its 3rd event is 21000.
    expect(at(sink.alerts, 'steady')).toEqual([[3000, v1], [21000, v2]]);
    // gone is gone: 11000 (pending at the swap) and later events raise nothing.
    expect(at(sink.alerts, 'gone')).toEqual([[1000, v1], [2000, v1], [3000, v1]]);
    expect(sink.alerts.filter((a) => a.configVersion === v2 && a.eventTime < 10000)).toEqual([]);

    const summary = await stop();
    expect(summary.configVersion).toBe(v2);
    expect(summary.detectors.newbie).toMatchObject({ pipeline: 'pay', signals: 0 });
    expect(summary.alerts.byDetector.burst.total).toBe(2);
  });

  it('a fleet config (redis) changing more than pipelines is refused with what to do, since a restart alone meets the same refusal', async () => {
    const { engine, loaded, stop } = start(V1);
    const other = parseConfig(V2.replace('tick: 1h', 'tick: 2h'), 'fleet.yaml');
    const r = await engine.reload(other, 'redis');
    expect(r.applied).toBe(false);
    expect(r.errors).toHaveLength(1);
    expect(r.errors?.[0]).toContain('changes to time need a restart (only pipelines can be reloaded), and a restart alone does not apply them');
    expect(r.errors?.[0]).toContain(`every instance starts from its config file (${loaded.file})`);
    expect(r.errors?.[0]).toContain('put the same time in that file on every instance and restart them');
    await stop();
  });

  it('rejects a config changing more than pipelines, with the reason, and changes nothing', async () => {
    const { feed, sink, engine, loaded, stop } = start(V1);
    await feed.push([1000, 2000, 3000]);
    const other = parseConfig(V2.replace(SOURCES, 'sources: [{ name: in, type: stdin }, { name: more, type: stdin }]').replace('tick: 1h', 'tick: 2h'), 'v3.yaml');
    const r = await engine.reload(other, 'api');
    expect(r.applied).toBe(false);
    expect(r.errors).toEqual(['changes to time need a restart (only pipelines can be reloaded)', 'changes to sources need a restart (only pipelines can be reloaded)']);
    expect(engine.version).toBe(loaded.version);
    await feed.push([11000]);
    // v1 still runs: the threshold is 3, gone still alerts.
    expect(at(sink.alerts, 'big')).toEqual([[10000, loaded.version]]);
    expect(at(sink.alerts, 'gone')).toHaveLength(3);
    // The same config again: nothing to do.
    expect(await engine.reload(parseConfig(V1, 'again.yaml'), 'api')).toMatchObject({ applied: false, unchanged: true });
    await stop();
  });

  it('an invalid config never reaches the engine: every problem is reported, the run goes on', async () => {
    const dir = tempDir();
    const file = join(dir, 'vigie.yaml');
    writeFileSync(file, V1);
    const { feed, sink, engine, metrics, stop } = start(V1, file);
    const before = engine.version;
    const bad = V2.replace('value: 2,', 'value: two,').replace('lookback: 2m', 'lookbak: 2m');
    writeFileSync(file, bad);
    let thrown: unknown;
    try {
      loadConfig(file);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).problems.length).toBeGreaterThanOrEqual(2);

    // Through the reloader (as SIGHUP does): rejected, logged and counted, version unchanged.
    const reloader = new ConfigReloader({ engine, file, settings: { watchFile: false }, metrics, instance: 'test' });
    const entry = await reloader.reloadFile('signal');
    expect(entry).toMatchObject({ outcome: 'rejected', mechanism: 'signal', version: '', previous: before, instance: 'test' });
    expect(entry?.errors.length).toBeGreaterThanOrEqual(2);
    expect(entry?.errors.join('\n')).toMatch(/value/);
    expect(entry?.errors.join('\n')).toMatch(/lookbak/);
    expect(engine.version).toBe(before);
    expect(await metrics.text()).toMatch(/vigie_config_reloads_total\{mechanism="signal",outcome="rejected"\} 1/);
    await feed.push([1000, 2000, 3000]);
    await feed.push([11000]);
    expect(at(sink.alerts, 'big')).toEqual([[10000, before]]);
    await reloader.close();
    await stop();
  });

  it('the file trigger: a new config written to the file (by rename, as editors do) is applied', async () => {
    const dir = tempDir();
    const file = join(dir, 'vigie.yaml');
    writeFileSync(file, V1);
    const loaded = loadConfig(file);
    const { feed, sink, engine, metrics, stop } = (() => {
      const f = feedSource();
      const s = memorySink('mem', ['alerts']);
      const m = new EngineMetrics(false);
      const e = new Engine({ loaded, mode: 'live', sources: [f.source], sinks: [s], metrics: m });
      const done = e.run();
      return { feed: f, sink: s, engine: e, metrics: m, stop: () => (e.stop(), f.end(), done) };
    })();
    const reloader = new ConfigReloader({ engine, file, settings: loaded.config.reload, metrics, debounceMs: 50, instance: 'test' });
    await reloader.start();
    await feed.push([1000, 2000, 3000]);

    // A save without a change of content does nothing.
    writeFileSync(file, V1);
    await sleep(200);
    expect(engine.version).toBe(loaded.version);

    const next = parseConfig(V2, 'x.yaml');
    writeFileSync(join(dir, '.vigie.yaml.tmp'), V2);
    renameSync(join(dir, '.vigie.yaml.tmp'), file);
    await until(() => engine.version === next.version, 'the new config applied', 5000);
    expect(await metrics.text()).toMatch(/vigie_config_reloads_total\{mechanism="file",outcome="applied"\} 1/);

    await feed.push([11000]);
    await feed.push([12000]);
    await feed.push([21000]);
    expect(at(sink.alerts, 'big')).toEqual([[10000, next.version], [20000, next.version]]);

    // Then an invalid edit: rejected, the version stays.
    writeFileSync(file, V2.replace('value: 2,', 'value: -,'));
    await eventually(async () => /vigie_config_reloads_total\{mechanism="file",outcome="rejected"\} 1/.test(await metrics.text()), 'the invalid config rejected');
    expect(engine.version).toBe(next.version);
    await reloader.close();
    await stop();
  });
});

describe('hot reload: task state and checkpoints', () => {
  const deps = (v: string) => ({ configVersion: v, detectionTime: (w: number) => w });
  const pipe = (detectors: unknown[], window: Record<string, unknown> = { type: 'tumbling', size: 10_000 }) =>
    pipelineSchema.parse({ name: 'p', key: 'user', window, aggregates: [{ name: 'n', fn: 'count' }], detectors });
  const burst = { name: 'burst', type: 'velocity', lookback: '1m', value: 3, cooldown: '1m' };
  const big = { name: 'big', type: 'threshold', aggregate: 'n', value: 2, cooldown: 0 };

  function feed(t: Task, times: number[]): Alert[] {
    const b = emptyBatch(0);
    b.partition = 0;
    b.events = times.map((time): VEvent => ({ time, id: `e${time}`, partition: 0, offset: time, source: 's', payload: { user: 'u' } }));
    b.wm = Float64Array.from(b.events, (e) => t.tracker.observe(0, e.time, 0));
    b.watermark = t.tracker.watermark;
    for (const p of t.pipelines) p.process(b);
    return b.alerts;
  }

  it('reconfigure keeps the window when its part is unchanged, restarts it otherwise; the next checkpoint is full', () => {
    const t = new Task('t', [pipe([burst, big])], deps('v1'), { maxOutOfOrderness: 0, idleTimeout: 0 }, 0);
    t.trackChanges();
    feed(t, [1000, 2000]);
    expect(t.checkpoint(0).full).toBe(true);
    feed(t, [3000]);
    expect(t.checkpoint(0).full).toBe(false);
    const swaps = t.reconfigure([pipe([burst, { ...big, value: 5 }])], deps('v2'));
    expect(swaps).toEqual([{ name: 'p', window: 'kept', detectorsKept: ['burst'] }]);
    expect(t.checkpoint(0).full).toBe(true);
    expect(t.pipelines[0].window.keyCount).toBe(1);
    // burst kept its events (1000 and 2000, from before): its 3rd, 3000, alerts (with the new version), then its cooldown holds.
    const alerts = feed(t, [4000, 5000]).filter((a) => a.detector === 'burst');
    expect(alerts.map((a) => [a.eventTime, a.configVersion])).toEqual([[3000, 'v2']]);

    const again = t.reconfigure([pipe([burst], { type: 'tumbling', size: 20_000 })], deps('v3'));
    expect(again).toEqual([{ name: 'p', window: 'restarted', detectorsKept: ['burst'] }]);
    expect(t.pipelines[0].window.keyCount).toBe(0);
    // The fresh window starts at the pipeline's clock, not at the beginning of time.
    expect(t.pipelines[0].window.watermark).toBe(5000);
    const more = feed(t, [25_000]);
    expect(more.filter((a) => a.detector === 'burst')).toEqual([]);
  });

  it('a checkpoint restores per detector: unchanged ones keep their state, changed ones start fresh', () => {
    const wm = { maxOutOfOrderness: 0, idleTimeout: 0 };
    const a = new Task('a', [pipe([burst, big])], deps('v1'), wm, 0);
    feed(a, [1000, 2000, 3000, 4000]);
    const cp = a.checkpoint(0);

    const same = new Task('b', [pipe([burst, big])], deps('v1'), wm, 0);
    expect(same.restore(loadDelta(cp), 0)).toEqual(['p']);
    const changed = new Task('c', [pipe([{ ...burst, value: 4 }, big])], deps('v2'), wm, 0);
    // The window and `big` are restored, `burst` (changed) is not: the pipeline is not restored entirely.
    expect(changed.restore(loadDelta(cp), 0)).toEqual([]);
    expect(changed.pipelines[0].window.keyCount).toBe(1);
    expect(changed.checkpoint(0).full).toBe(false);
    // The restored burst is in its cooldown (alerted at 3000): 5000 is suppressed; the fresh one counts from 4000 on.
    expect(feed(same, [5000, 6000]).filter((a) => a.detector === 'burst')).toEqual([]);
    const fresh = feed(changed, [5000, 6000, 7000, 8000]).filter((a) => a.detector === 'burst');
    expect(fresh.map((x) => x.eventTime)).toEqual([7000]);
  });

  it('the signal memory of `requires` follows the detectors kept, whatever their new order', () => {
    const wm = { maxOutOfOrderness: 0, idleTimeout: 0 };
    const login = { name: 'login', type: 'velocity', lookback: '1h', value: 1, match: { kind: 'login' }, emit: false };
    const pays = { name: 'pays', type: 'velocity', lookback: '5m', value: 2, match: { kind: 'pay' }, cooldown: 0, requires: { detectors: ['login'], within: '20m' } };
    const noWindow = (detectors: unknown[]) => pipelineSchema.parse({ name: 'p', key: 'user', detectors });
    const t = new Task('t', [noWindow([login, pays])], deps('v1'), wm, 0);
    const ev = (time: number, kind: string): VEvent => ({ time, id: `e${time}`, partition: 0, offset: time, source: 's', payload: { user: 'u', kind } });
    const run = (events: VEvent[]) => {
      const b = emptyBatch(0);
      b.events = events;
      b.wm = Float64Array.from(events, (e) => t.tracker.observe(0, e.time, 0));
      b.watermark = t.tracker.watermark;
      for (const p of t.pipelines) p.process(b);
      return b.alerts;
    };
    expect(run([ev(1000, 'login'), ev(2000, 'pay'), ev(2500, 'x')])).toEqual([]);
    // A new detector first: slots are now extra, login, pays (they were login, pays).
    const swaps = t.reconfigure([noWindow([{ name: 'extra', type: 'velocity', lookback: '1m', value: 100 }, pays, login])], deps('v2'));
    expect(swaps[0].detectorsKept.sort()).toEqual(['login', 'pays']);
    const alerts = run([ev(3000, 'pay'), ev(4000, 'x')]);
    // The login signal of 1000 (before the swap) still satisfies `requires`.
    expect(alerts.map((a) => [a.detector, a.eventTime, a.configVersion])).toEqual([['pays', 3000, 'v2']]);
  });

  it('redacts passwords in URLs from audit errors', () => {
    expect(redactSecrets('cannot connect to redis://user:s3cret@host:6379/0 (timeout)')).toBe('cannot connect to redis://user:***@host:6379/0 (timeout)');
  });
});
