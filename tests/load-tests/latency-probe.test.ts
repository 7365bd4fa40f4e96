import { describe, expect, it } from 'vitest';
import { LatencyHistogram, alertFromEntry, dueEpochMs, entryMs, probe, type AppendedAlert } from '../../load-tests/latency-probe.js';
import { metricValue } from '../../load-tests/vigie-proc.js';
import { peerAlertForProbe } from '../../load-tests/standard-peer.js';
import { midRunOffset } from '../../load-tests/standard-phases.js';

const S = { startEpochMs: 1_700_000_000_000, rate: 200 };

describe('latency probe', () => {
  it('knows when a load-generator event was due, and only for its ids', () => {
    expect(dueEpochMs('e0', S)).toBe(S.startEpochMs);
    expect(dueEpochMs('e1000', S)).toBe(S.startEpochMs + 5000);
    expect(dueEpochMs('e3', S)).toBe(S.startEpochMs + 15);
    for (const id of ['x12', 'e', 'e-1', 'e1.5', 'e01', 'payments:0:12']) expect(dueEpochMs(id, S)).toBeUndefined();
  });

  it('reads the append time of a stream entry id', () => {
    expect(entryMs('1700000000123-4')).toBe(1_700_000_000_123);
    expect(() => entryMs('abc')).toThrow(/not a stream entry id/);
  });

  it('gives the quantiles of an HDR histogram to within 0.1%', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 10_000; i++) h.record(i / 10); // 0.1 .. 1000 ms
    const s = h.summary();
    expect(s.count).toBe(10_000);
    expect(Math.abs(s.p50Ms - 500) / 500).toBeLessThan(0.002);
    expect(Math.abs(s.p99Ms - 990) / 990).toBeLessThan(0.002);
    expect(Math.abs(s.p999Ms - 999) / 999).toBeLessThan(0.002);
    expect(Math.abs(s.maxMs - 1000) / 1000).toBeLessThan(0.002);
    expect(h.negative).toBe(0);
    expect(new LatencyHistogram().summary().p99Ms).toBeNaN();
  });

  it('counts latencies below zero beyond the 1 ms resolution, and refuses non-finite ones', () => {
    const h = new LatencyHistogram();
    h.record(-0.5);
    h.record(-3);
    expect(h.negative).toBe(1);
    expect(h.count).toBe(2);
    expect(() => h.record(Number.NaN)).toThrow(RangeError);
  });

  it('measures detection from the due time, windows from their close, and the engine part from the release', () => {
    const alerts: AppendedAlert[] = [
      // Event e200 was due at +1000 ms; its alert appended at +6100: 5100 ms, of which 100 after the 5 s wait.
      { appendMs: S.startEpochMs + 6100, detector: 'velocity', trigger: 'e200', eventTime: S.startEpochMs + 1000 },
      // An out-of-order event (event time 2 s before it was due) is released 2 s earlier.
      { appendMs: S.startEpochMs + 6300, detector: 'velocity', trigger: 'e400', eventTime: S.startEpochMs + 0 },
      // A window ending at +10 s closes at +15 s; appended at +15,050.
      { appendMs: S.startEpochMs + 15_050, detector: 'beneficiaries-1h', trigger: 'e9', eventTime: S.startEpochMs + 10_000, windowEnd: S.startEpochMs + 10_000 },
      // A cooldown summary: no trigger.
      { appendMs: S.startEpochMs + 9000, detector: 'velocity' },
      // Not a load-generator event.
      { appendMs: S.startEpochMs + 9000, detector: 'velocity', trigger: 'payments:1:7', eventTime: S.startEpochMs },
    ];
    const r = probe(alerts, S, { windowDetectors: new Set(['beneficiaries-1h']), closeDelayMs: 5000 });
    expect(r.detection.count).toBe(2);
    expect(r.detection.maxMs).toBeCloseTo(5100, -1);
    expect(r.windows.count).toBe(1);
    expect(r.windows.p50Ms).toBeCloseTo(50, 0);
    expect(r.afterRelease.count).toBe(3);
    expect(r.afterRelease.maxMs).toBeCloseTo(1300, -1);
    expect(r.unmeasured).toBe(2);
    expect(Object.keys(r.perDetector)).toEqual(['beneficiaries-1h', 'velocity']);
    expect(r.negative).toBe(0);
  });

  it('puts shifted event times back on the schedule clock', () => {
    // Event times run 1 h behind the schedule: a window ending at schedule +10 s is stamped 1 h earlier.
    const shifted = { ...S, eventTimeOffsetMs: -3_600_000 };
    const alerts: AppendedAlert[] = [
      { appendMs: S.startEpochMs + 15_020, detector: 'beneficiaries-1h', eventTime: S.startEpochMs + 10_000 - 3_600_000, windowEnd: S.startEpochMs + 10_000 - 3_600_000 },
      { appendMs: S.startEpochMs + 6100, detector: 'velocity', trigger: 'e200', eventTime: S.startEpochMs + 1000 - 3_600_000 },
    ];
    const r = probe(alerts, shifted, { windowDetectors: new Set(['beneficiaries-1h']), closeDelayMs: 5000 });
    expect(r.windows.p50Ms).toBeCloseTo(20, 0);
    expect(r.detection.p50Ms).toBeCloseTo(5100, -1);
    expect(r.afterRelease.maxMs).toBeCloseTo(100, -1);
  });

  it('leaves out the alerts due during the warm-up', () => {
    const alerts: AppendedAlert[] = [
      { appendMs: S.startEpochMs + 9000, detector: 'velocity', trigger: 'e10', eventTime: S.startEpochMs + 50 },
      { appendMs: S.startEpochMs + 9000, detector: 'velocity', trigger: 'e1000', eventTime: S.startEpochMs + 5000 },
    ];
    const r = probe(alerts, S, { windowDetectors: new Set(), closeDelayMs: 5000, fromEpochMs: S.startEpochMs + 1000 });
    expect(r.warmup).toBe(1);
    expect(r.detection.count).toBe(1);
    expect(r.detection.p50Ms).toBeCloseTo(4000, -1);
  });

  it('reads an alert from the fields the Redis sink writes', () => {
    const a = alertFromEntry('1700000000500-0', ['id', 'x', 'detector', 'new-device', 'eventTime', '1700000000000', 'windowStart', '1', 'windowEnd', '1700000000000', 'trigger', 'e7']);
    expect(a).toEqual({ appendMs: 1_700_000_000_500, detector: 'new-device', trigger: 'e7', eventTime: 1_700_000_000_000, windowEnd: 1_700_000_000_000 });
  });
});

describe('the peer and the live runs', () => {
  it('reads a peer alert: the window from a beneficiaries-1h trigger, the event id otherwise', () => {
    expect(peerAlertForProbe({ detector: 'beneficiaries-1h', key: 'c1', trigger: '1700000000000-1700003600000', appendMs: 5 })).toEqual({ appendMs: 5, detector: 'beneficiaries-1h', windowEnd: 1_700_003_600_000 });
    expect(peerAlertForProbe({ detector: 'velocity-10m', key: 'c1', trigger: 'e42', appendMs: 7 })).toEqual({ appendMs: 7, detector: 'velocity-10m', trigger: 'e42' });
  });

  it('puts an hour boundary of event time in the middle of the measured part', () => {
    const now = Date.parse('2026-12-05T13:20:00.000Z');
    const offset = midRunOffset(5, 30, now);
    expect(offset).toBeLessThanOrEqual(0);
    expect(offset).toBeGreaterThan(-3_600_000);
    // 17.5 s after the start, event time is on the hour.
    expect((now + 17_500 + offset) % 3_600_000).toBe(0);
  });
});

describe('metrics', () => {
  it('sums a counter over its labels in a Prometheus exposition, and no other metric', () => {
    const text = [
      '# HELP vigie_events_in_total Raw inputs',
      '# TYPE vigie_events_in_total counter',
      'vigie_events_in_total{source="a"} 10',
      'vigie_events_in_total{source="b"} 32',
      'vigie_events_in_total_created 5',
      'vigie_events_in 7',
    ].join('\n');
    expect(metricValue(text, 'vigie_events_in_total')).toBe(42);
    expect(metricValue(text, 'vigie_events_in')).toBe(7);
    expect(metricValue(text, 'vigie_missing')).toBe(0);
  });
});
