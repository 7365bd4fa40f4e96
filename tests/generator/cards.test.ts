import { describe, expect, it } from 'vitest';
import { CARD_TYPOLOGIES, CardsGenerator, createGenerator, type CardReport, type CardTransaction } from '../../src/generator/index.js';

const START = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;

function run(opts: ConstructorParameters<typeof CardsGenerator>[0], days: number): { gen: CardsGenerator; txs: CardTransaction[]; reports: CardReport[] } {
  const gen = new CardsGenerator(opts);
  const txs: CardTransaction[] = [];
  const reports: CardReport[] = [];
  for (let d = 0; d < days; d++) {
    const day = gen.day();
    for (const t of day.transactions) txs.push(t);
    for (const r of day.reports) reports.push(r);
  }
  for (const r of gen.finish()) reports.push(r);
  return { gen, txs, reports };
}

describe('cards scenario', () => {
  it('is deterministic for a seed, whatever the chunking, and differs between seeds', () => {
    const opts = { seed: 7, start: START, customers: 300, terminals: 600 };
    const a = run(opts, 6);
    const b = run(opts, 6);
    expect(JSON.stringify(b.txs)).toBe(JSON.stringify(a.txs));
    expect(JSON.stringify(b.reports)).toBe(JSON.stringify(a.reports));
    expect(JSON.stringify(run({ ...opts, seed: 8 }, 6).txs)).not.toBe(JSON.stringify(a.txs));
    // next(count) hands out the same transactions, in chunks that cut across days.
    const gen = createGenerator('cards', { seed: 7, start: START, ratePerSecond: 1, customers: 300, terminals: 600 });
    const chunked: Record<string, unknown>[] = [];
    while (chunked.length < a.txs.length) chunked.push(...gen.next(Math.min(777, a.txs.length - chunked.length)));
    expect(JSON.stringify(chunked)).toBe(JSON.stringify(a.txs));
  });

  it('transactions: in time order, within their day, at terminals near home, amounts in cents; only frauds carry label and case', () => {
    const { gen, txs } = run({ seed: 2, start: START, customers: 400, terminals: 800 }, 5);
    expect(txs.length).toBeGreaterThan(400 * 5 * 1.5);
    const customers = new Map(gen.population.customers.map((c) => [c.id, c]));
    const terminalIndex = new Map(gen.population.terminalIds.map((t, i) => [t, i]));
    for (let i = 0; i < txs.length; i++) {
      const t = txs[i];
      if (i > 0) expect(t.time).toBeGreaterThanOrEqual(txs[i - 1].time);
      expect(t.id).toBe(`tx-${String(i).padStart(9, '0')}`);
      expect(t.time).toBeGreaterThanOrEqual(START);
      expect(t.time).toBeLessThan(START + 5 * DAY);
      expect(Math.round(t.amount * 100) / 100).toBe(t.amount);
      expect(t.amount).toBeGreaterThanOrEqual(0);
      const c = customers.get(t.customer)!;
      expect(c.terminals.includes(terminalIndex.get(t.terminal)!)).toBe(true);
      if (t.label === undefined) expect(Object.keys(t).sort()).toEqual(['amount', 'customer', 'id', 'terminal', 'time']);
      else {
        expect(CARD_TYPOLOGIES).toContain(t.label);
        expect(typeof t.case).toBe('string');
      }
    }
    // Around noon: most transactions between 6:00 and 18:00.
    const hours = txs.map((t) => ((t.time - START) % DAY) / 3_600_000);
    expect(hours.filter((h) => h >= 6 && h < 18).length / hours.length).toBeGreaterThan(0.7);
  });

  it('typology shares are near the published simulator (about 0.8% of transactions over months)', () => {
    const { txs } = run({ seed: 1, start: START }, 40);
    const n = txs.length;
    // 5000 customers at 2 a day on average.
    expect(n / 40).toBeGreaterThan(8500);
    expect(n / 40).toBeLessThan(11_500);
    const share = (label: string) => txs.filter((t) => t.label === label).length / n;
    // Over 40 days (windows still filling up in the first 4 weeks): about 0.37%, 0.23% and 0.06%.
    expect(share('compromised-terminal')).toBeGreaterThan(0.0025);
    expect(share('compromised-terminal')).toBeLessThan(0.005);
    expect(share('compromised-card')).toBeGreaterThan(0.0015);
    expect(share('compromised-card')).toBeLessThan(0.0035);
    expect(share('large-amount')).toBeGreaterThan(0.0002);
    expect(share('large-amount')).toBeLessThan(0.0015);
    const all = txs.filter((t) => t.label !== undefined).length / n;
    expect(all).toBeGreaterThan(0.004);
    expect(all).toBeLessThan(0.011);
    // Every amount above 220 is fraud; a compromised card's frauds are a third of its transactions in the case's days.
    expect(txs.filter((t) => t.amount > 220 && t.label === undefined)).toEqual([]);
    for (const t of txs) if (t.label === 'large-amount') expect(t.amount).toBeGreaterThan(220);
    // Case days of each compromised card (case ids are cc-<day>-<customer>).
    const caseDays = new Map<string, number[]>();
    for (const t of txs) {
      if (t.label !== 'compromised-card') continue;
      const day = Number(t.case!.split('-')[1]);
      const days = caseDays.get(t.customer) ?? [];
      if (!days.includes(day)) days.push(day);
      caseDays.set(t.customer, days);
    }
    let inWindow = 0;
    let frauds = 0;
    for (const t of txs) {
      const d = Math.floor((t.time - START) / DAY);
      if (!(caseDays.get(t.customer) ?? []).some((c) => d >= c && d < c + 14)) continue;
      inWindow++;
      if (t.label === 'compromised-card') frauds++;
    }
    expect(frauds / inWindow).toBeGreaterThan(0.25);
    expect(frauds / inWindow).toBeLessThan(0.42);
  });

  it('a compromised terminal makes all its transactions fraud for 28 days', () => {
    const { txs } = run({ seed: 4, start: START, customers: 500, terminals: 300, compromisedTerminals: 1, compromisedCustomers: 0 }, 35);
    const first = txs.find((t) => t.label === 'compromised-terminal')!;
    const day = Number(first.case!.split('-')[1]);
    const on = txs.filter((t) => t.terminal === first.terminal && t.time >= START + day * DAY && t.time < START + (day + 28) * DAY);
    // The same terminal may be drawn again later (another case, or the same one extended): all fraud anyway.
    expect(on.every((t) => t.label === 'compromised-terminal')).toBe(true);
    const before = txs.filter((t) => t.terminal === first.terminal && t.time < START + day * DAY);
    expect(before.every((t) => t.label !== 'compromised-terminal')).toBe(true);
  });

  it('reports: one per fraud, 1 to 14 days after it, in report-time order, the same delay for a case on one card', () => {
    const { txs, reports } = run({ seed: 3, start: START, customers: 1000, terminals: 2000 }, 30);
    const frauds = new Map(txs.filter((t) => t.label !== undefined).map((t) => [t.id, t]));
    expect(frauds.size).toBeGreaterThan(50);
    expect(reports.length).toBe(frauds.size);
    expect(new Set(reports.map((r) => r.event)).size).toBe(reports.length);
    const delays: number[] = [];
    const byCaseCard = new Map<string, Set<number>>();
    for (let i = 0; i < reports.length; i++) {
      const r = reports[i];
      expect(r.id).toBe(`rep-${String(i).padStart(9, '0')}`);
      if (i > 0) expect(r.time).toBeGreaterThanOrEqual(reports[i - 1].time);
      const t = frauds.get(r.event)!;
      expect(r).toEqual({ id: r.id, time: r.time, event: t.id, label: 'fraud', customer: t.customer, terminal: t.terminal, eventTime: t.time });
      const delay = r.time - r.eventTime;
      expect(delay).toBeGreaterThanOrEqual(DAY);
      expect(delay).toBeLessThanOrEqual(14 * DAY);
      delays.push(delay / DAY);
      const key = `${t.case}/${t.customer}`;
      byCaseCard.set(key, (byCaseCard.get(key) ?? new Set()).add(delay));
    }
    for (const ds of byCaseCard.values()) expect(ds.size).toBe(1);
    delays.sort((a, b) => a - b);
    const median = delays[delays.length >> 1];
    expect(median).toBeGreaterThan(2);
    expect(median).toBeLessThan(4.5);
    // A later median moves every report later.
    const slow = run({ seed: 3, start: START, customers: 1000, terminals: 2000, delayDays: 8 }, 30).reports;
    const slowDelays = slow.map((r) => (r.time - r.eventTime) / DAY).sort((a, b) => a - b);
    expect(slowDelays[slowDelays.length >> 1]).toBeGreaterThan(6);
  });

  it('refuses options out of range', () => {
    expect(() => new CardsGenerator({ seed: 1, start: START, customers: 0 })).toThrow(RangeError);
    expect(() => new CardsGenerator({ seed: 1, start: START, terminals: 2, compromisedTerminals: 3 })).toThrow(/compromisedTerminals/);
    expect(() => new CardsGenerator({ seed: 1, start: START, delayDays: 20 })).toThrow(/delayDays/);
    expect(() => new CardsGenerator({ seed: 1, start: START, radius: 0 })).toThrow(/radius/);
  });
});
