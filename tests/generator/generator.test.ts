import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RATE,
  DEFAULT_START,
  INCIDENT_TYPES,
  PAYMENT_TYPOLOGIES,
  Rng,
  SCENARIOS,
  createGenerator,
  generate,
  haversineKm,
  type Scenario,
} from '../../src/generator/index.js';

interface PEvent {
  id: string;
  ts: number;
  type: 'payment' | 'login' | 'password_change' | 'transfer' | 'device_enrolled';
  customer: string;
  device: string;
  ip: string;
  country: string;
  lat: number;
  lon: number;
  channel: 'web' | 'mobile' | 'pos';
  card?: string;
  merchant?: string;
  mcc?: string;
  amount?: number;
  currency?: string;
  status?: 'approved' | 'declined';
  account?: string;
  beneficiary?: string;
  label: string | null;
  case: string | null;
}

interface TEvent {
  id: string;
  ts: number;
  service: string;
  endpoint: string;
  region: string;
  status: number;
  latency_ms: number;
  label: string | null;
  case: string | null;
}

const START = Date.UTC(2024, 2, 1);
const MIN = 60_000;
const HOUR = 3_600_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function groupBy<T, K>(xs: T[], key: (x: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const x of xs) {
    const k = key(x);
    const g = m.get(k);
    if (g) g.push(x);
    else m.set(k, [x]);
  }
  return m;
}

describe('Rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 100 }, () => a.u32());
    const sb = Array.from({ length: 100 }, () => b.u32());
    const sc = Array.from({ length: 100 }, () => c.u32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
  });

  it('forks are deterministic, label-specific and independent of parent consumption', () => {
    const a = new Rng(7);
    const f1 = a.fork('x');
    for (let i = 0; i < 50; i++) a.float();
    const f2 = a.fork('x');
    const g = a.fork('y');
    const s1 = Array.from({ length: 20 }, () => f1.u32());
    const s2 = Array.from({ length: 20 }, () => f2.u32());
    const sg = Array.from({ length: 20 }, () => g.u32());
    expect(s1).toEqual(s2);
    expect(s1).not.toEqual(sg);
    expect(s1).not.toEqual(Array.from({ length: 20 }, () => new Rng(7).u32()));
  });

  it('helpers respect their ranges and moments', () => {
    const r = new Rng(1);
    const n = 50_000;
    let sumN = 0;
    let sumN2 = 0;
    let sumE = 0;
    let hits = 0;
    const seen = new Set<number>();
    let bad = 0;
    for (let i = 0; i < n; i++) {
      const f = r.float();
      if (!(f >= 0 && f < 1)) bad++;
      const k = r.int(3, 7);
      if (!(Number.isInteger(k) && k >= 3 && k <= 7)) bad++;
      seen.add(k);
      const z = r.normal(10, 2);
      sumN += z;
      sumN2 += z * z;
      sumE += r.exp(4);
      if (r.chance(0.3)) hits++;
      if (!['a', 'b', 'c'].includes(r.pick(['a', 'b', 'c']))) bad++;
    }
    expect(bad).toBe(0);
    expect([...seen].sort()).toEqual([3, 4, 5, 6, 7]);
    const mean = sumN / n;
    expect(mean).toBeCloseTo(10, 1);
    expect(Math.sqrt(sumN2 / n - mean * mean)).toBeCloseTo(2, 1);
    expect(sumE / n).toBeCloseTo(0.25, 2);
    expect(hits / n).toBeCloseTo(0.3, 2);
  });
});

// cards is paced by its customers' profiles, a day at a time, not by a rate: tests/generator/cards.test.ts.
describe.each(SCENARIOS.filter((s) => s !== 'cards'))('%s generator: determinism', (scenario: Scenario) => {
  const opts = { seed: 99, start: START, ratePerSecond: scenario === 'payments' ? 5 : 200 };

  it('same options give identical output; another seed differs', () => {
    const a = createGenerator(scenario, opts).next(3000);
    const b = createGenerator(scenario, opts).next(3000);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    const c = createGenerator(scenario, { ...opts, seed: 100 }).next(3000);
    expect(JSON.stringify(c)).not.toBe(JSON.stringify(a));
  });

  it.each([0, 2000])('output does not depend on next() chunking (disorderMs=%i)', (disorderMs) => {
    const o = { ...opts, disorderMs };
    const whole = createGenerator(scenario, o).next(1000);
    const g10 = createGenerator(scenario, o);
    const by10: Record<string, unknown>[] = [];
    for (let i = 0; i < 100; i++) by10.push(...g10.next(10));
    const gIrr = createGenerator(scenario, o);
    const irregular: Record<string, unknown>[] = [];
    for (let k = 0; irregular.length < 1000; k++) irregular.push(...gIrr.next(Math.min(k % 37, 1000 - irregular.length)));
    expect(JSON.stringify(by10)).toBe(JSON.stringify(whole));
    expect(JSON.stringify(irregular)).toBe(JSON.stringify(whole));
  });

  it('generate() matches createGenerator() and applies defaults', () => {
    const viaGenerate = generate(scenario, { seed: 5, events: 500 });
    const viaCreate = createGenerator(scenario, { seed: 5, start: DEFAULT_START, ratePerSecond: DEFAULT_RATE[scenario] }).next(500);
    expect(JSON.stringify(viaGenerate)).toBe(JSON.stringify(viaCreate));
    expect((viaGenerate[0].ts as number) >= DEFAULT_START).toBe(true);
    expect(createGenerator(scenario, opts).next(0)).toEqual([]);
  });

  it('respects the disorder bound, and disorder only permutes the events', () => {
    const disorderMs = scenario === 'payments' ? 3000 : 500;
    const o = { seed: 3, start: START, ratePerSecond: scenario === 'payments' ? 20 : 300 };
    const ordered = createGenerator(scenario, o).next(20_000);
    const shuffled = createGenerator(scenario, { ...o, disorderMs }).next(20_000);
    let max = -Infinity;
    let late = 0;
    let maxLag = 0;
    let violations = 0;
    for (const e of shuffled) {
      const ts = e.ts as number;
      if (ts < max - disorderMs) violations++;
      if (ts < max) {
        late++;
        maxLag = Math.max(maxLag, max - ts);
      }
      max = Math.max(max, ts);
    }
    expect(violations).toBe(0);
    expect(late).toBeGreaterThan(100);
    expect(maxLag).toBeGreaterThan(disorderMs / 3);
    expect(ordered.every((e, i) => i === 0 || (e.ts as number) >= (ordered[i - 1].ts as number))).toBe(true);
    // Same events, other order: compare without ids over a prefix-stable middle range.
    const strip = (xs: Record<string, unknown>[]) => xs.map(({ id: _id, ...rest }) => JSON.stringify(rest));
    const a = new Set(strip(ordered.slice(0, 15_000)));
    const b = strip(shuffled);
    const inOrdered = b.slice(0, 14_000).filter((s) => a.has(s)).length;
    expect(inOrdered).toBe(14_000);
  });

  it('rejects bad options', () => {
    expect(() => createGenerator(scenario, { ...opts, ratePerSecond: 0 })).toThrow(RangeError);
    expect(() => createGenerator(scenario, { ...opts, start: Number.NaN })).toThrow(RangeError);
    expect(() => createGenerator(scenario, opts).next(-1)).toThrow(RangeError);
  });
});

describe('createGenerator', () => {
  it('rejects unknown scenarios', () => {
    expect(() => createGenerator('nope' as Scenario, { seed: 1, start: START, ratePerSecond: 1 })).toThrow(/unknown scenario/);
  });
});

describe('payments: 50k events, seed 1, default rate', () => {
  const events = generate('payments', { seed: 1, events: 50_000 }) as unknown as PEvent[];
  const normal = events.filter((e) => e.label === null);
  const labelled = events.filter((e) => e.label !== null);
  const cases = groupBy(labelled, (e) => e.case as string);
  const casesOf = (typ: string) => [...cases.entries()].filter(([, evs]) => evs[0].label === typ).map(([, evs]) => evs);

  // Per-customer reference data from normal traffic.
  const homeCountry = new Map<string, string>();
  const paymentAmounts = groupBy(
    normal.filter((e) => e.type === 'payment'),
    (e) => e.customer,
  );
  const normalDevices = new Map<string, Set<string>>();
  for (const e of normal) {
    if (!homeCountry.has(e.customer)) homeCountry.set(e.customer, e.country);
    if (e.channel !== 'pos') {
      const s = normalDevices.get(e.customer) ?? new Set<string>();
      s.add(e.device);
      normalDevices.set(e.customer, s);
    }
  }
  const usualAmount = (customer: string) => median((paymentAmounts.get(customer) ?? []).map((e) => e.amount as number));
  const normalBeneficiaries = new Set(normal.filter((e) => e.type === 'transfer').map((e) => e.beneficiary));

  it('has well-formed events', () => {
    const ids = new Set<string>();
    const problems: string[] = [];
    let prev = -Infinity;
    const check = (ok: boolean, what: string, e: PEvent) => {
      if (!ok && problems.length < 10) problems.push(`${what}: ${JSON.stringify(e)}`);
    };
    for (const e of events) {
      check(/^p-\d{9}$/.test(e.id), 'id', e);
      ids.add(e.id);
      check(Number.isInteger(e.ts) && e.ts >= prev, 'ts', e);
      prev = e.ts;
      check(/^C\d{5}$/.test(e.customer), 'customer', e);
      check(['web', 'mobile', 'pos'].includes(e.channel), 'channel', e);
      check(/^[A-Z]{2}$/.test(e.country) && typeof e.lat === 'number' && typeof e.lon === 'number', 'location', e);
      check(typeof e.device === 'string' && typeof e.ip === 'string', 'device/ip', e);
      if (e.type === 'payment' || e.type === 'transfer') {
        check(e.amount! > 0 && Math.round(e.amount! * 100) / 100 === e.amount, 'amount', e);
        check(typeof e.currency === 'string', 'currency', e);
      }
      if (e.type === 'payment') {
        check(e.status === 'approved' || e.status === 'declined', 'status', e);
        check(typeof e.card === 'string' && typeof e.merchant === 'string' && /^\d{4}$/.test(e.mcc ?? ''), 'payment fields', e);
      } else {
        check(e.card === undefined && e.status === undefined, 'non-payment fields', e);
      }
      if (e.type === 'transfer') check(typeof e.beneficiary === 'string' && typeof e.account === 'string', 'transfer fields', e);
      check(['payment', 'login', 'password_change', 'transfer', 'device_enrolled'].includes(e.type), 'type', e);
      check(e.label === null ? e.case === null : typeof e.case === 'string', 'label/case', e);
    }
    expect(problems).toEqual([]);
    expect(ids.size).toBe(events.length);
  });

  it('contains every typology', () => {
    const counts = Object.fromEntries(PAYMENT_TYPOLOGIES.map((t) => [t, casesOf(t).length]));
    for (const t of PAYMENT_TYPOLOGIES) expect(counts[t], t).toBeGreaterThanOrEqual(3);
    for (const [id, evs] of cases) expect(id.startsWith(`${evs[0].label}-`)).toBe(true);
  });

  it('card_testing: >= 10 small payments on one card at many merchants within 10 minutes, mostly declined', () => {
    for (const evs of casesOf('card_testing')) {
      expect(evs.length).toBeGreaterThanOrEqual(10);
      expect(evs.length).toBeLessThanOrEqual(30);
      expect(evs.every((e) => e.type === 'payment')).toBe(true);
      expect(new Set(evs.map((e) => e.card)).size).toBe(1);
      expect(evs.at(-1)!.ts - evs[0].ts).toBeLessThanOrEqual(10 * MIN);
      for (const e of evs) expect(e.amount! >= 0.5 && e.amount! <= 3).toBe(true);
      expect(new Set(evs.map((e) => e.merchant)).size).toBeGreaterThanOrEqual(Math.ceil(evs.length / 2));
      expect(evs.filter((e) => e.status === 'declined').length).toBeGreaterThan(evs.length / 2);
      // The card is one a real customer uses in normal traffic.
      expect(normal.some((e) => e.card === evs[0].card && e.customer === evs[0].customer) || !paymentAmounts.has(evs[0].customer)).toBe(true);
    }
  });

  it('account_takeover: new device login from abroad, password change, enrolment, large transfers to a new beneficiary within 30 minutes', () => {
    for (const evs of casesOf('account_takeover')) {
      const types = evs.map((e) => e.type);
      expect(types.slice(0, 3)).toEqual(['login', 'password_change', 'device_enrolled']);
      const transfers = evs.slice(3);
      expect(transfers.length).toBeGreaterThanOrEqual(1);
      expect(transfers.length).toBeLessThanOrEqual(3);
      expect(transfers.every((e) => e.type === 'transfer')).toBe(true);
      expect(new Set(evs.map((e) => e.customer)).size).toBe(1);
      expect(evs.at(-1)!.ts - evs[0].ts).toBeLessThanOrEqual(30 * MIN);
      const c = evs[0].customer;
      const home = homeCountry.get(c);
      if (home !== undefined) expect(evs[0].country).not.toBe(home);
      expect(normalDevices.get(c)?.has(evs[0].device) ?? false).toBe(false);
      if (paymentAmounts.has(c)) for (const t of transfers) expect(t.amount!).toBeGreaterThanOrEqual(5 * usualAmount(c));
      for (const t of transfers) expect(normalBeneficiaries.has(t.beneficiary)).toBe(false);
    }
  });

  it('impossible_travel: two events of one customer > 3000 km apart within an hour', () => {
    for (const evs of casesOf('impossible_travel')) {
      expect(evs.length).toBe(2);
      const [a, b] = evs;
      expect(a.customer).toBe(b.customer);
      for (const e of evs) expect(['payment', 'login']).toContain(e.type);
      expect(haversineKm(a.lat, a.lon, b.lat, b.lon)).toBeGreaterThan(3000);
      expect(b.ts - a.ts).toBeGreaterThan(0);
      expect(b.ts - a.ts).toBeLessThan(HOUR);
    }
  });

  it('mule_fan_in: >= 15 distinct senders to one new beneficiary within an hour', () => {
    for (const evs of casesOf('mule_fan_in')) {
      expect(evs.every((e) => e.type === 'transfer')).toBe(true);
      expect(new Set(evs.map((e) => e.beneficiary)).size).toBe(1);
      expect(new Set(evs.map((e) => e.customer)).size).toBeGreaterThanOrEqual(15);
      expect(evs.at(-1)!.ts - evs[0].ts).toBeLessThanOrEqual(HOUR);
      expect(normalBeneficiaries.has(evs[0].beneficiary)).toBe(false);
    }
  });

  it("amount_outlier: one payment far above the customer's usual amount", () => {
    for (const evs of casesOf('amount_outlier')) {
      expect(evs.length).toBe(1);
      expect(evs[0].type).toBe('payment');
      const c = evs[0].customer;
      if ((paymentAmounts.get(c)?.length ?? 0) >= 5) expect(evs[0].amount!).toBeGreaterThanOrEqual(5 * usualAmount(c));
    }
  });

  it('normal traffic does not look like fraud', () => {
    expect(labelled.length / events.length).toBeLessThan(0.05);
    // A few payments an hour at most per customer.
    const perHour = groupBy(
      normal.filter((e) => e.type === 'payment'),
      (e) => `${e.customer}|${Math.floor(e.ts / HOUR)}`,
    );
    const counts = [...perHour.values()].map((g) => g.length);
    expect(Math.max(...counts)).toBeLessThanOrEqual(6);
    expect(counts.filter((n) => n >= 4).length / counts.length).toBeLessThan(0.01);
    // One home country per customer, cards and beneficiaries personal and few.
    const byCustomer = groupBy(normal, (e) => e.customer);
    const cardOwner = new Map<string, string>();
    const benOwners = new Map<string, Set<string>>();
    for (const [c, evs] of byCustomer) {
      expect(new Set(evs.map((e) => e.country)).size).toBe(1);
      const cards = new Set(evs.filter((e) => e.type === 'payment').map((e) => e.card as string));
      expect(cards.size).toBeLessThanOrEqual(2);
      for (const card of cards) {
        expect(cardOwner.get(card) ?? c).toBe(c);
        cardOwner.set(card, c);
      }
      const bens = new Set(evs.filter((e) => e.type === 'transfer').map((e) => e.beneficiary as string));
      expect(bens.size).toBeLessThanOrEqual(4);
      for (const b of bens) benOwners.set(b, (benOwners.get(b) ?? new Set()).add(c));
      expect(normalDevices.get(c)?.size ?? 0).toBeLessThanOrEqual(6);
    }
    expect([...benOwners.values()].every((s) => s.size === 1)).toBe(true);
    // Normal payments at 10x the customer's usual amount are rare.
    let big = 0;
    let total = 0;
    for (const [c, pays] of paymentAmounts) {
      if (pays.length < 5) continue;
      const usual = usualAmount(c);
      for (const p of pays) {
        total++;
        if (p.amount! >= 10 * usual) big++;
      }
    }
    expect(big / total).toBeLessThan(0.002);
    // Mostly approved, small share declined.
    const pays = normal.filter((e) => e.type === 'payment');
    expect(pays.filter((e) => e.status === 'declined').length / pays.length).toBeLessThan(0.05);
  });
});

describe('telemetry', () => {
  const events = generate('telemetry', { seed: 1, events: 400_000 }) as unknown as TEvent[];
  const normal = events.filter((e) => e.label === null);
  const cases = groupBy(
    events.filter((e) => e.label !== null),
    (e) => e.case as string,
  );

  it('has well-formed events', () => {
    const problems: string[] = [];
    let prev = -Infinity;
    for (const e of events) {
      const ok =
        /^t-\d{9}$/.test(e.id) &&
        Number.isInteger(e.ts) &&
        e.ts >= prev &&
        typeof e.service === 'string' &&
        /^(GET|POST|PUT|DELETE) \//.test(e.endpoint) &&
        typeof e.region === 'string' &&
        Number.isInteger(e.status) &&
        e.status >= 200 &&
        e.status < 600 &&
        e.latency_ms >= 0 &&
        (e.label === null) === (e.case === null);
      if (!ok && problems.length < 10) problems.push(JSON.stringify(e));
      prev = e.ts;
    }
    expect(problems).toEqual([]);
    expect(new Set(events.map((e) => e.service)).size).toBe(8);
  });

  it('normal traffic is healthy and incidents are a small share', () => {
    expect(1 - normal.length / events.length).toBeLessThan(0.1);
    const err = normal.filter((e) => e.status >= 500).length / normal.length;
    expect(err).toBeGreaterThan(0.002);
    expect(err).toBeLessThan(0.01);
  });

  it('contains every incident type, each with its signature', () => {
    const seen = new Set([...cases.values()].map((evs) => evs[0].label));
    for (const t of INCIDENT_TYPES) expect(seen.has(t), t).toBe(true);
    const normalLatency = new Map<string, number>();
    for (const [svc, evs] of groupBy(normal, (e) => e.service)) normalLatency.set(svc, median(evs.map((e) => e.latency_ms)));
    for (const [id, evs] of cases) {
      const svc = evs[0].service;
      expect(evs.every((e) => e.service === svc)).toBe(true);
      expect(id.startsWith(`${evs[0].label}-`)).toBe(true);
      const span = evs.at(-1)!.ts - evs[0].ts;
      expect(span).toBeLessThanOrEqual(20 * MIN);
      if (evs[0].label === 'error_spike' && evs.length >= 50) {
        expect(evs.filter((e) => e.status >= 500).length / evs.length).toBeGreaterThan(0.15);
      }
      if (evs[0].label === 'latency_degradation' && evs.length >= 50) {
        expect(median(evs.map((e) => e.latency_ms))).toBeGreaterThan(3 * normalLatency.get(svc)!);
      }
      if (evs[0].label === 'traffic_drop') {
        // The service's rate during the incident vs. the 30 minutes before it.
        const t0 = evs[0].ts;
        const before = events.filter((e) => e.service === svc && e.ts >= t0 - 30 * MIN && e.ts < t0).length / 30;
        const during = evs.length / Math.max(1, span / MIN);
        if (events[0].ts <= t0 - 30 * MIN) expect(during).toBeLessThan(0.3 * before);
      }
    }
  });

  it('has a diurnal traffic pattern', () => {
    const day = createGenerator('telemetry', { seed: 2, start: START, ratePerSecond: 2, incidentRate: 0 }).next(2 * 86_400 + 5_000);
    const perHour = new Array<number>(24).fill(0);
    for (const e of day) {
      const ts = e.ts as number;
      if (ts < START + 86_400_000) perHour[new Date(ts).getUTCHours()]++;
    }
    expect(Math.max(...perHour) / Math.min(...perHour)).toBeGreaterThan(2.5);
    expect(perHour.reduce((a, b) => a + b, 0) / 86_400).toBeCloseTo(2, 0);
  });
});
