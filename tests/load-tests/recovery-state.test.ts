import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { Task } from '../../src/engine/task.js';
import { emptyBatch } from '../../src/types.js';
import { START, decision, differences, eventTime, feedBatches, keyCounts, parseLoaders, probeEvents, probeKeys, runBatch, type RecoveryFeed } from '../../load-tests/recovery-state.js';

const standardJob = () => {
  const loaded = loadConfig(join(import.meta.dirname, '../../load-tests/standard-job.yaml'));
  return new Task('payments:0', loaded.config.pipelines, { configVersion: loaded.version, detectionTime: (w) => w }, { maxOutOfOrderness: loaded.config.time.maxOutOfOrderness, idleTimeout: 0 }, 0);
};

describe('bench:recovery feed', () => {
  it('gives every customer one payment per round, in event-time order, within 10 minutes of one hour', () => {
    const f: RecoveryFeed = { keys: 1000, events: 5, seed: 1 };
    const batches = [...feedBatches(f, 300)];
    expect(batches.map((b) => b.length)).toEqual([...Array(16).fill(300), 200]);
    const events = batches.flat();
    expect(events.map((e) => e.offset)).toEqual(events.map((_, i) => i));
    for (let i = 1; i < events.length; i++) expect(events[i].time).toBeGreaterThanOrEqual(events[i - 1].time);
    const perKey = new Map<string, number>();
    for (const e of events) perKey.set(e.payload.customer as string, (perKey.get(e.payload.customer as string) ?? 0) + 1);
    expect(perKey.size).toBe(1000);
    expect([...perKey.values()].every((n) => n === 5)).toBe(true);
    expect(events[0].time).toBe(START);
    expect(events[events.length - 1].time - START).toBeLessThan(10 * 60_000);
    expect(Math.floor(events[events.length - 1].time / 3_600_000)).toBe(Math.floor(START / 3_600_000));
    // The same seed, the same payments.
    expect([...feedBatches(f, 300)].flat()).toEqual(events);
    expect(eventTime(999, 4, f)).toBe(events[events.length - 1].time);
  });

  it('probes the first and last customers after the feed, within the hour', () => {
    expect(probeKeys(1_000_000)).toEqual([0, 142857, 285714, 428571, 571428, 714285, 857142, 999999]);
    expect(probeKeys(3)).toEqual([0, 1, 2]);
    const f: RecoveryFeed = { keys: 100, events: 5, seed: 1 };
    const probe = probeEvents(f);
    expect(probe).toHaveLength(25);
    expect(Math.min(...probe.map((e) => e.time))).toBeGreaterThan(eventTime(99, 4, f));
    expect(Math.floor(Math.max(...probe.map((e) => e.time)) / 3_600_000)).toBe(Math.floor(START / 3_600_000));
    expect(probe[0].offset).toBe(500);
  });

  it('leaves state for every customer in every detector of the standard job, and the probe alerts', () => {
    const f: RecoveryFeed = { keys: 200, events: 5, seed: 3 };
    const task = standardJob();
    for (const events of feedBatches(f, 64)) runBatch(task, events, () => emptyBatch(0));
    expect(task.lastOffset).toBe(999);
    const counts = keyCounts(task);
    expect(counts).toMatchObject({
      'customers/velocity-10m': 200,
      'customers/new-device': 200,
      'customers/impossible-travel': 200,
      'customers/amount-outlier': 200,
      'customer-beneficiaries/window': 200,
    });
    const d = decision(runBatch(task, probeEvents(f), () => emptyBatch(0)));
    // Velocity (8 in 10 minutes) and impossible travel at least, for each of the 8 probed customers.
    expect(d.filter((x) => x.startsWith('alert velocity-10m ')).length).toBe(8);
    expect(d.filter((x) => x.startsWith('alert impossible-travel ')).length).toBe(8);
    expect(d).toEqual([...d].sort((a, b) => (a.split(' ')[0] === b.split(' ')[0] ? a.localeCompare(b) : 0)));
  });

  it('compares key counts and parses --loaders', () => {
    expect(differences({ a: 1, b: 2 }, { a: 1, b: 2 })).toEqual([]);
    expect(differences({ a: 1, b: 2 }, { a: 1, c: 2 })).toEqual(['b: 2 != undefined', 'c: undefined != 2']);
    expect(parseLoaders('current, legacy')).toEqual(['current', 'legacy']);
    expect(() => parseLoaders('current,fast')).toThrow(/unknown loader "fast"/);
    expect(() => parseLoaders(' , ')).toThrow(/at least one/);
  });
});
