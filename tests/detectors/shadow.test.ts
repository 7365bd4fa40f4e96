import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createSink, sinkSchema } from '../../sinks/index.js';
import { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/log.js';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { memorySource } from '../../src/sources/memory.js';
import { collectSink, config } from '../helpers/collect.js';
import { services } from '../infra/index.js';

// The live rule alerts at 3 events a minute; the shadow candidate tries 2.
const CFG = `
time: { maxOutOfOrderness: 0 }
sources: [{ name: in, type: stdin }]
pipelines:
  - name: users
    key: user
    detectors:
      - { name: burst, type: velocity, lookback: 1m, value: 3, cooldown: 10m }
      - { name: burst-candidate, type: velocity, lookback: 1m, value: 2, cooldown: 10m, shadow: true }
sinks: [{ name: c, type: console }]
metrics: { enabled: false }
`;

const T0 = Date.UTC(2026, 0, 1);
function records(): object[] {
  const out: object[] = [];
  // u1: a burst of 3 (both rules); u2: 2 events (only the candidate); then time moves on.
  for (let i = 0; i < 3; i++) out.push({ id: `a${i}`, ts: T0 + i * 10_000, user: 'u1' });
  for (let i = 0; i < 2; i++) out.push({ id: `b${i}`, ts: T0 + 40_000 + i * 10_000, user: 'u2' });
  out.push({ id: 'end', ts: T0 + 3_600_000, user: 'u9' });
  return out;
}

describe('shadow mode', () => {
  it('delivers shadow alerts on the shadow output only, and counts them beside the live ones', async () => {
    const sink = collectSink();
    const metrics = new EngineMetrics({ defaultMetrics: false });
    const summary = await new Engine({ loaded: config(CFG), mode: 'replay', sources: [memorySource(records(), { name: 'in', batchSize: 2 })], sinks: [sink], metrics }).run();
    expect(sink.alerts.map((a) => [a.detector, a.key])).toEqual([['burst', 'u1']]);
    expect(sink.alerts.every((a) => a.shadow === undefined)).toBe(true);
    // The candidate fires on u1's 2nd event, its 3rd is a suppressed repeat (summarised when the cooldown ends), and on u2.
    expect(sink.shadowAlerts.map((a) => [a.detector, a.key, a.shadow, a.suppressed ?? 0])).toEqual([
      ['burst-candidate', 'u1', true, 0],
      ['burst-candidate', 'u2', true, 0],
      ['burst-candidate', 'u1', true, 1],
    ]);
    // u1's first shadow alert came before the live one (3rd event): no overlap; its summary (at the 3rd event) does
    // overlap; u2 had no live alert.
    expect(summary.shadowAlerts).toEqual({ total: 3, byDetector: { 'burst-candidate': { total: 3, overlapping: 1 } } });
    expect(summary.alerts.byDetector['burst-candidate']).toBeUndefined();
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/vigie_shadow_alerts_total\{detector="burst-candidate",severity="medium"\} 3/);
    expect(text).toMatch(/vigie_shadow_alerts_overlapping_total\{detector="burst-candidate"\} 1/);
    expect(text).not.toMatch(/vigie_alerts_total\{detector="burst-candidate"/);
  });

  describe('with the Redis sink', () => {
    const redis = new Redis(services().redisUrl);
    const tag = randomUUID().slice(0, 8);
    afterAll(async () => {
      const keys = await redis.keys(`shadowtest-${tag}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    });

    it('never writes shadow alerts to the analysts\' stream', async () => {
      const live = `shadowtest-${tag}:alerts`;
      const shadow = `shadowtest-${tag}:shadow`;
      const sink = createSink(
        sinkSchema.parse({ name: 'r', type: 'redis', url: services().redisUrl, outputs: ['alerts', 'shadowAlerts'], stream: live, shadowStream: shadow, prefix: `shadowtest-${tag}`, channel: '' }),
        { baseDir: process.cwd(), stdout: process.stdout, logger: silentLogger },
      );
      try {
        await new Engine({ loaded: config(CFG), mode: 'replay', sources: [memorySource(records(), { name: 'in', batchSize: 2 })], sinks: [sink] }).run();
      } finally {
        await sink.close();
      }
      const detectorsIn = async (stream: string) =>
        (await redis.xrange(stream, '-', '+')).map(([, fields]) => fields[fields.indexOf('detector') + 1]);
      expect(await detectorsIn(live)).toEqual(['burst']);
      expect(await detectorsIn(shadow)).toEqual(['burst-candidate', 'burst-candidate', 'burst-candidate']);
    });
  });
});
