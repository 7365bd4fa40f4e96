/**
 * Cards scenario: card payments of customers at terminals, with three fraud typologies and the
 * delayed fraud reports a scorer learns from. Modelled on the design of the transaction simulator of
 * the "Reproducible Machine Learning for Credit Card Fraud Detection" handbook (Le Borgne et al.):
 *
 * - customers and terminals placed uniformly on a 100 x 100 grid; a customer pays at the terminals
 *   within `radius` of home, a Poisson number of times a day (mean uniform in 0..4), around noon
 *   (normal, sd 20,000 s, drawn again when outside the day), amounts normal(mean, mean / 2) with the
 *   mean uniform in 5..100 (drawn again when negative), rounded to cents;
 * - `large-amount`: every transaction above 220 is fraud;
 * - `compromised-terminal`: each day a few terminals are drawn; all their transactions of that day and
 *   the next 27 are fraud;
 * - `compromised-card`: each day a few customers are drawn; over that day and the next 13, each of
 *   their transactions is, with probability 1/3, fraud with its amount multiplied by 5.
 *
 * Later typologies take precedence (a compromised card's x5 over a compromised terminal, both over a
 * large amount). Each fraudulent transaction is reported after a delay drawn once per case and
 * customer (the card holder notices): log-normal, median `delayDays`, sigma 0.7, within 1..14 days.
 *
 * The stream is built a day at a time: memory follows one day of transactions and the reports still
 * pending (at most 14 days of frauds), not the length of the run.
 */
import { CARDS_DEFAULTS, DAY_MS, cardsSettings, type CardReport, type CardTransaction, type CardTypology, type CardsOptions } from './cards-options.js';
import { buildPopulation, type CardsPopulation } from './cards-population.js';
import { Rng, TimeQueue } from './rng.js';

export { CARD_TYPOLOGIES, CARDS_DEFAULTS } from './cards-options.js';
export type { CardReport, CardTransaction, CardTypology, CardsOptions } from './cards-options.js';

const NOON_MS = DAY_MS / 2;
const TIME_SD_MS = 20_000_000;

/** One simulated day: its transactions in time order, and the reports that can no longer be preceded by another. */
export interface CardsDay {
  day: number;
  transactions: CardTransaction[];
  reports: CardReport[];
}

interface Compromise {
  caseId: string;
  /** Last day (inclusive) of the compromise. */
  until: number;
}

/** Poisson variate (Knuth: fine for the small means used here). */
function poisson(r: Rng, mean: number): number {
  if (mean <= 0) return 0;
  const limit = Math.exp(-mean);
  let k = 0;
  let p = r.float();
  while (p > limit) {
    k++;
    p *= r.float();
  }
  return k;
}

/** `count` distinct integers of [0, n) (Floyd's sampling), in the order drawn. */
function sampleDistinct(r: Rng, n: number, count: number): number[] {
  const chosen = new Set<number>();
  for (let j = n - count; j < n; j++) {
    const t = r.int(0, j);
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen];
}

const cents = (x: number) => Math.round(x * 100) / 100;

export class CardsGenerator {
  readonly settings: Required<CardsOptions>;
  readonly population: CardsPopulation;
  private readonly root: Rng;
  private readonly reports = new TimeQueue<CardReport>();
  private readonly terminalCases = new Map<number, Compromise>();
  private readonly cardCases = new Map<number, Compromise>();
  private dayIndex = 0;
  private transactions = 0;
  private reported = 0;
  /** Transactions generated but not yet handed out by next(). */
  private buffer: CardTransaction[] = [];
  private bufferPos = 0;

  constructor(opts: CardsOptions) {
    this.settings = cardsSettings(opts);
    this.root = new Rng(this.settings.seed);
    const s = this.settings;
    this.population = buildPopulation(this.root.fork('cards/terminals'), this.root.fork('cards/customers'), s.customers, s.terminals, s.radius);
  }

  /** The next day of transactions, and the reports now due in order. */
  day(): CardsDay {
    const d = this.dayIndex++;
    const s = this.settings;
    const dayStart = s.start + d * DAY_MS;
    this.compromise(d);

    const r = this.root.fork(`cards/day/${d}`);
    const drafts: { time: number; c: number; terminal: number; amount: number }[] = [];
    const customers = this.population.customers;
    for (let c = 0; c < customers.length; c++) {
      const cu = customers[c];
      if (cu.terminals.length === 0) continue;
      const n = poisson(r, cu.perDay);
      for (let k = 0; k < n; k++) {
        let t = r.normal(NOON_MS, TIME_SD_MS);
        for (let tries = 0; (t < 0 || t >= DAY_MS) && tries < 100; tries++) t = r.normal(NOON_MS, TIME_SD_MS);
        t = Math.min(DAY_MS - 1, Math.max(0, Math.floor(t)));
        const terminal = cu.terminals[Math.floor(r.float() * cu.terminals.length)];
        let amount = r.normal(cu.mean, cu.std);
        for (let tries = 0; amount < 0 && tries < 100; tries++) amount = r.normal(cu.mean, cu.std);
        drafts.push({ time: dayStart + t, c, terminal, amount: cents(Math.abs(amount)) });
      }
    }
    drafts.sort((a, b) => a.time - b.time);

    const f = this.root.fork(`cards/fraud/${d}`);
    const out: CardTransaction[] = new Array(drafts.length);
    for (let i = 0; i < drafts.length; i++) {
      const x = drafts[i];
      const cu = customers[x.c];
      const tx: CardTransaction = { id: `tx-${String(this.transactions++).padStart(9, '0')}`, time: x.time, customer: cu.id, terminal: this.population.terminalIds[x.terminal], amount: x.amount };
      let label: CardTypology | undefined;
      let caseId: string | undefined;
      if (tx.amount > CARDS_DEFAULTS.largeAmount) {
        label = 'large-amount';
        caseId = `la-${tx.id}`;
      }
      const term = this.terminalCases.get(x.terminal);
      if (term !== undefined) {
        label = 'compromised-terminal';
        caseId = term.caseId;
      }
      const card = this.cardCases.get(x.c);
      if (card !== undefined && f.chance(CARDS_DEFAULTS.cardShare)) {
        tx.amount = cents(tx.amount * CARDS_DEFAULTS.cardFactor);
        label = 'compromised-card';
        caseId = card.caseId;
      }
      if (label !== undefined && caseId !== undefined) {
        tx.label = label;
        tx.case = caseId;
        const at = tx.time + this.delayMs(caseId, cu.id);
        this.reports.push(at, { id: '', time: at, event: tx.id, label: 'fraud', customer: tx.customer, terminal: tx.terminal, eventTime: tx.time });
      }
      out[i] = tx;
    }
    // Every later transaction is at or after the next day's start, so its report comes at least the least delay after it.
    return { day: d, transactions: out, reports: this.release(dayStart + DAY_MS + CARDS_DEFAULTS.delayMinDays * DAY_MS) };
  }

  /** The reports still pending (those of the last days' frauds), in report-time order. */
  finish(): CardReport[] {
    return this.release(Number.POSITIVE_INFINITY);
  }

  /** The next `count` transactions in time order (the reports are left out: see day()). */
  next(count: number): Record<string, unknown>[] {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
    const out: Record<string, unknown>[] = [];
    while (out.length < count) {
      if (this.bufferPos >= this.buffer.length) {
        this.buffer = this.day().transactions;
        this.bufferPos = 0;
        continue;
      }
      out.push(this.buffer[this.bufferPos++] as unknown as Record<string, unknown>);
    }
    return out;
  }

  /** Draws the day's compromised terminals and cards; forgets compromises that have ended. */
  private compromise(d: number): void {
    const s = this.settings;
    const r = this.root.fork(`cards/compromise/${d}`);
    const customerIds = (i: number) => this.population.customers[i].id;
    const terminalIds = (i: number) => this.population.terminalIds[i];
    for (const [map, n, count, days, prefix, name] of [
      [this.terminalCases, s.terminals, s.compromisedTerminals, CARDS_DEFAULTS.terminalDays, 'ct', terminalIds],
      [this.cardCases, s.customers, s.compromisedCustomers, CARDS_DEFAULTS.cardDays, 'cc', customerIds],
    ] as const) {
      for (const [k, v] of map) if (v.until < d) map.delete(k);
      for (const i of sampleDistinct(r, n, count)) {
        const active = map.get(i);
        // Drawn again while compromised: the same case, lasting from this draw.
        if (active !== undefined) active.until = d + days - 1;
        else map.set(i, { caseId: `${prefix}-${d}-${name(i)}`, until: d + days - 1 });
      }
    }
  }

  /** Report delay of a case for one card holder: the same for all the case's frauds on that card. */
  private delayMs(caseId: string, customer: string): number {
    const r = this.root.fork(`cards/delay/${caseId}/${customer}`);
    const days = this.settings.delayDays * Math.exp(CARDS_DEFAULTS.delaySigma * r.normal());
    return Math.round(Math.min(CARDS_DEFAULTS.delayMaxDays, Math.max(CARDS_DEFAULTS.delayMinDays, days)) * DAY_MS);
  }

  private release(before: number): CardReport[] {
    const out: CardReport[] = [];
    while (this.reports.peekTime() < before) {
      const rep = this.reports.pop() as CardReport;
      rep.id = `rep-${String(this.reported++).padStart(9, '0')}`;
      out.push(rep);
    }
    return out;
  }
}
