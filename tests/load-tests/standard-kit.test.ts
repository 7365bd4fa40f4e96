/**
 * The load-test kit end to end on the suite's broker and Redis, at a small scale: a filled topic drained
 * by `vigie run` of the standard job, then the job live under the open-loop load generator with its
 * alerts measured by the latency probe.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { services } from '../infra/index.js';
import { drainCeiling, fillTopic, latencyLevel, type Services } from '../../load-tests/standard-phases.js';
import type { EventOptions } from '../../load-tests/loadgen.js';

const EVENTS: EventOptions = { seed: 3, keys: 200, zipf: 1.1, size: 0, outOfOrder: 0.1, maxDelay: 3000, fraudRate: 0.05 };

function kit(): Services {
  const { kafkaBrokers: brokers, redisUrl } = services();
  return { kafka: new Kafka({ brokers, clientId: 'vigie-test-kit', logLevel: logLevel.NOTHING }), brokers, redisUrl, logDir: mkdtempSync(join(tmpdir(), 'vigie-kit-')) };
}

describe('the standard job under the load-test kit', () => {
  it('drains a filled topic with one process and counts every event and its alerts', async () => {
    const s = kit();
    const filled = await fillTopic(s, { ...EVENTS, n: 4000, eventRate: 200, partitions: 2 });
    const r = await drainCeiling(s, filled.topic, 4000, 1, 120_000);
    expect(r.events).toBe(4000);
    expect(r.eventsPerSecond).toBeGreaterThan(0);
    expect(r.cpuSeconds).toBeGreaterThanOrEqual(0);
    // 5% of the events come in bursts of 8 on one card: velocity (8 in 10 minutes) fires on them.
    expect(r.alerts).toBeGreaterThan(5);
  }, 180_000);

  it('measures detection latency from the schedule (at least the wait for the watermark, the engine part apart) and window results from their close', async () => {
    const s = kit();
    const level = await latencyLevel(s, EVENTS, { share: 0.5, rate: 400, durationS: 14, warmupS: 2, partitions: 2, timeoutMs: 120_000 });
    expect(level.loadgen.events).toBe(5600);
    expect(level.alerts).toBeGreaterThan(5);
    const p = level.probe;
    expect(p.detection.count).toBeGreaterThan(5);
    expect(p.negative).toBe(0);
    // Event detectors judge an event once the watermark (5 s behind the latest event time) passes it:
    // an alert cannot be out before its event time plus 5 s, 2 s after it was due at the least (3 s out of order).
    expect(p.detection.p50Ms).toBeGreaterThanOrEqual(2000);
    expect(p.afterRelease.count).toBeGreaterThanOrEqual(p.detection.count);
    expect(p.afterRelease.p50Ms).toBeLessThan(p.detection.p50Ms);
    // Event time is shifted so that the customers' tumbling hours close mid-run: window results are
    // measured from their close (window end + 5 s).
    expect(p.windows.count).toBeGreaterThan(10);
    expect(p.windows.p50Ms).toBeGreaterThanOrEqual(0);
  }, 180_000);
});
