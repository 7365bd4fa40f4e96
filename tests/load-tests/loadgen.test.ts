import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/generator/rng.js';
import {
  BURST, EventFactory, LagHistogram, MAX_EVENTS, ZipfSampler, dueCount, plannedEvents, runSchedule, scheduledOffset, serialize,
  type Clock, type EventOptions,
} from '../../load-tests/loadgen.js';

/** Pearson's chi-square of observed counts against probabilities. */
function chiSquare(counts: number[], probs: (k: number) => number, draws: number): number {
  let x = 0;
  for (let k = 0; k < counts.length; k++) {
    const e = probs(k) * draws;
    x += (counts[k] - e) ** 2 / e;
  }
  return x;
}

function draw(z: ZipfSampler, seed: number, n: number): number[] {
  const rng = new Rng(seed);
  const counts = new Array<number>(z.n).fill(0);
  for (let i = 0; i < n; i++) counts[z.sample(rng)]++;
  return counts;
}

describe('ZipfSampler', () => {
  it('draws ranks with frequencies that follow the law (chi-square), and not those of another exponent', () => {
    const z = new ZipfSampler(50, 1.2);
    const n = 200_000;
    const counts = draw(z, 7, n);
    // Critical value of chi-square with 49 degrees of freedom at p = 0.001.
    expect(chiSquare(counts, (k) => z.probability(k), n)).toBeLessThan(85.35);
    const other = new ZipfSampler(50, 1.0);
    expect(chiSquare(counts, (k) => other.probability(k), n)).toBeGreaterThan(1000);
    // Rank 0 is the most frequent, and about 2^1.2 times as frequent as rank 1.
    expect(counts[0] / counts[1]).toBeGreaterThan(2.15);
    expect(counts[0] / counts[1]).toBeLessThan(2.45);
  });

  it('is uniform with s = 0', () => {
    const z = new ZipfSampler(20, 0);
    const n = 100_000;
    const counts = draw(z, 3, n);
    expect(chiSquare(counts, () => 1 / 20, n)).toBeLessThan(43.82); // 19 degrees of freedom, p = 0.001
    expect(z.probability(5)).toBeCloseTo(0.05, 12);
  });

  it('probabilities add up to 1 over a large key space', () => {
    const z = new ZipfSampler(100_000, 1.1);
    let sum = 0;
    for (let k = 0; k < z.n; k++) sum += z.probability(k);
    expect(sum).toBeCloseTo(1, 9);
    const rng = new Rng(1);
    for (let i = 0; i < 1000; i++) {
      const k = z.sample(rng);
      expect(k >= 0 && k < z.n && Number.isInteger(k)).toBe(true);
    }
  });

  it('is deterministic for a seed, and another seed gives another sequence', () => {
    const z = new ZipfSampler(1000, 0.9);
    const seq = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 500 }, () => z.sample(rng));
    };
    expect(seq(42)).toEqual(seq(42));
    expect(seq(42)).not.toEqual(seq(43));
  });

  it('refuses a negative exponent or an empty key space', () => {
    expect(() => new ZipfSampler(10, -0.5)).toThrow(RangeError);
    expect(() => new ZipfSampler(0, 1)).toThrow(RangeError);
  });
});

/** A clock that only moves when slept on, or when a send takes time. */
function fakeClock(): Clock & { t: number } {
  const c = {
    t: 1000,
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += ms;
    },
  };
  return c;
}

describe('open-loop schedule', () => {
  it('event i is due i / rate seconds after the start', () => {
    expect(scheduledOffset(0, 1000)).toBe(0);
    expect(scheduledOffset(250, 1000)).toBe(250);
    expect(scheduledOffset(3, 200)).toBe(15);
    expect(dueCount(0, 1000, 10_000)).toBe(1);
    expect(dueCount(9.99, 1000, 10_000)).toBe(10);
    expect(dueCount(10, 1000, 10_000)).toBe(11);
    expect(dueCount(1e9, 1000, 10_000)).toBe(10_000);
    expect(dueCount(-1, 1000, 10_000)).toBe(0);
  });

  it('sends each event no earlier than its scheduled time and keeps the schedule when the producer stalls', async () => {
    const run = async (stallAt: number | undefined) => {
      const clock = fakeClock();
      const lags = new LagHistogram();
      const sends: Array<{ from: number; to: number; at: number }> = [];
      let stalled = false;
      const res = await runSchedule({ rate: 2000, total: 4000, tickMs: 5, maxBatch: 100_000 }, clock, lags, async (from, to) => {
        sends.push({ from, to, at: clock.t });
        if (stallAt !== undefined && !stalled && to > stallAt) {
          stalled = true;
          clock.t += 300; // the broker holds this send for 300 ms
        }
      });
      return { res, lags, sends, start: res.startMs };
    };
    for (const stall of [undefined, 1000]) {
      const { res, lags, sends, start } = await run(stall);
      // Every event once, in order.
      expect(sends[0].from).toBe(0);
      for (let k = 1; k < sends.length; k++) expect(sends[k].from).toBe(sends[k - 1].to);
      expect(sends.at(-1)?.to).toBe(4000);
      expect(lags.count).toBe(4000);
      for (const s of sends) {
        const elapsed = s.at - start;
        // Never early: the last event of a send was due at the send.
        expect(scheduledOffset(s.to - 1, 2000)).toBeLessThanOrEqual(elapsed + 1e-9);
        // Never held back: a send carries everything due at its time.
        expect(s.to).toBe(dueCount(elapsed, 2000, 4000));
      }
      // The last event leaves within a tick of its scheduled time (1999.5 ms), stall or not.
      expect(res.lastSendMs).toBeGreaterThanOrEqual(1999.5);
      expect(res.lastSendMs).toBeLessThan(1999.5 + 5);
      if (stall === undefined) {
        expect(lags.max).toBeLessThan(5);
      } else {
        // The send after the stall carries the 600 events that fell due meanwhile, and their lag shows it.
        const after = sends.find((s) => s.from > 1000 && s.at - start > 500);
        expect(after !== undefined && after.to - after.from).toBeGreaterThan(590);
        expect(lags.max).toBeGreaterThan(300);
        expect(lags.max).toBeLessThan(310);
        expect(lags.quantile(0.5)).toBeLessThan(5);
        expect(lags.quantile(0.99)).toBeGreaterThan(100);
      }
    }
  });

  it('plans min(rate x duration, count) events and refuses more than the cap', () => {
    expect(plannedEvents(1000, 2, undefined)).toBe(2000);
    expect(plannedEvents(1000, 2, 500)).toBe(500);
    expect(plannedEvents(1000, undefined, 700)).toBe(700);
    expect(plannedEvents(3, 0.5, undefined)).toBe(2);
    expect(plannedEvents(1e6, 1000, 10)).toBe(10);
    expect(() => plannedEvents(1e6, 100, undefined)).toThrow(/above the cap of 50000000/);
    expect(() => plannedEvents(1, undefined, MAX_EVENTS + 1)).toThrow(/above the cap/);
    expect(() => plannedEvents(1000, undefined, undefined)).toThrow(/--duration or --count/);
    expect(() => plannedEvents(0, 1, undefined)).toThrow(/--rate/);
  });
});

describe('LagHistogram', () => {
  it('gives quantiles to a bucket and the exact max', () => {
    const h = new LagHistogram();
    for (let i = 0; i < 99; i++) h.record(1.23);
    h.record(2500.5);
    expect(h.count).toBe(100);
    expect(h.quantile(0.5)).toBeCloseTo(1.3, 9);
    expect(h.quantile(0.99)).toBeCloseTo(1.3, 9);
    expect(h.quantile(1)).toBe(2500.5);
    expect(h.max).toBe(2500.5);
    h.record(-3); // a send a hair early counts as no lag
    expect(h.quantile(0.001)).toBeCloseTo(0.1, 9);
  });
});

const base: EventOptions = { seed: 1, keys: 1000, zipf: 0, size: 0, outOfOrder: 0, maxDelay: 1000, fraudRate: 0 };

describe('EventFactory', () => {
  it('moves back the event time of the asked fraction of events, by 1..max-delay ms', () => {
    const f = new EventFactory({ ...base, outOfOrder: 0.2, maxDelay: 500 });
    const n = 20_000;
    let moved = 0;
    for (let i = 0; i < n; i++) {
      const e = f.next(1_000_000 + i);
      const d = 1_000_000 + i - e.ts;
      if (d !== 0) {
        moved++;
        expect(d >= 1 && d <= 500).toBe(true);
      }
    }
    expect(moved).toBe(f.delayedEvents);
    expect(moved / n).toBeGreaterThan(0.19);
    expect(moved / n).toBeLessThan(0.21);
    const none = new EventFactory(base);
    for (let i = 0; i < 1000; i++) expect(none.next(i).ts).toBe(i);
  });

  it('labels the asked fraction of events as fraud, in bursts of small payments on one card', () => {
    const f = new EventFactory({ ...base, fraudRate: 0.05 });
    const events = Array.from({ length: 40_000 }, (_, i) => f.next(i));
    const fraud = events.filter((e) => e.label === 'card_testing');
    expect(fraud.length).toBe(f.fraudEvents);
    expect(fraud.length / events.length).toBeGreaterThan(0.04);
    expect(fraud.length / events.length).toBeLessThan(0.06);
    const cases = new Map<string, typeof fraud>();
    for (const e of fraud) cases.set(e.case as string, [...(cases.get(e.case as string) ?? []), e]);
    for (const burst of cases.values()) {
      expect(burst.length).toBeLessThanOrEqual(BURST);
      expect(new Set(burst.map((e) => e.card)).size).toBe(1);
      for (const e of burst) expect(e.amount).toBeLessThanOrEqual(2);
    }
    expect(events.filter((e) => e.label === null && e.case === null).length).toBe(events.length - fraud.length);
    const none = new EventFactory(base);
    for (let i = 0; i < 5000; i++) expect(none.next(i).label).toBeNull();
  });

  it('draws customers by the Zipf law of --keys and --zipf, the same events for the same seed', () => {
    const f = new EventFactory({ ...base, keys: 100, zipf: 1.5 });
    const counts = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const e = f.next(i);
      counts.set(e.customer, (counts.get(e.customer) ?? 0) + 1);
      expect(e.card).toBe(`k${e.customer.slice(1)}`);
    }
    const z = new ZipfSampler(100, 1.5);
    expect((counts.get('c0') ?? 0) / 20_000).toBeCloseTo(z.probability(0), 1);
    for (const c of counts.keys()) expect(Number(c.slice(1))).toBeLessThan(100);
    const a = new EventFactory({ ...base, seed: 9, outOfOrder: 0.1, fraudRate: 0.01 });
    const b = new EventFactory({ ...base, seed: 9, outOfOrder: 0.1, fraudRate: 0.01 });
    for (let i = 0; i < 2000; i++) expect(a.next(i)).toEqual(b.next(i));
  });

  it('pads the JSON to --size bytes and carries produced_at', () => {
    const e = new EventFactory(base).next(1_700_000_000_000);
    const plain = serialize(e, 1_700_000_000_123, 0);
    expect(JSON.parse(plain)).toEqual({ ...e, produced_at: 1_700_000_000_123 });
    const padded = serialize(e, 1_700_000_000_123, 600);
    expect(Buffer.byteLength(padded)).toBe(600);
    expect(JSON.parse(padded).produced_at).toBe(1_700_000_000_123);
    expect(serialize(e, 1, 10)).toBe(serialize(e, 1, 0)); // smaller than the event: unpadded
    expect(() => new EventFactory({ ...base, outOfOrder: 1.5 })).toThrow(/--out-of-order/);
  });
});
