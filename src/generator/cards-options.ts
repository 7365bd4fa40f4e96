/** Options of the cards scenario, its fraud typologies and defaults. */

export interface CardsOptions {
  seed: number;
  /** Epoch ms at which day 0 starts. */
  start: number;
  /** Number of customers (cards), default 5000. */
  customers?: number;
  /** Number of terminals, default 10000. */
  terminals?: number;
  /** A customer uses the terminals within this distance of home on the 100 x 100 grid (default 5). */
  radius?: number;
  /** Terminals compromised each day (default 2): all their transactions of that day and the next 27 are fraud. */
  compromisedTerminals?: number;
  /** Customers compromised each day (default 3): a third of their transactions of that day and the next 13 are fraud, amount x5. */
  compromisedCustomers?: number;
  /** Median delay, in days, between a fraudulent transaction and its report (default 3). */
  delayDays?: number;
}

export const CARD_TYPOLOGIES = ['large-amount', 'compromised-terminal', 'compromised-card'] as const;
export type CardTypology = (typeof CARD_TYPOLOGIES)[number];

export const CARDS_DEFAULTS = {
  customers: 5000,
  terminals: 10_000,
  radius: 5,
  compromisedTerminals: 2,
  compromisedCustomers: 3,
  /** Amount above which a transaction is fraud (large-amount). */
  largeAmount: 220,
  /** Days a compromised terminal stays compromised (the day drawn included). */
  terminalDays: 28,
  /** Days a compromised card stays compromised (the day drawn included). */
  cardDays: 14,
  /** Share of a compromised card's transactions that are fraud, and their amount factor. */
  cardShare: 1 / 3,
  cardFactor: 5,
  delayDays: 3,
  /** Log-normal spread of the report delay (sigma of its logarithm), and its bounds in days. */
  delaySigma: 0.7,
  delayMinDays: 1,
  delayMaxDays: 14,
  /** Side of the square grid customers and terminals live on. */
  grid: 100,
} as const;

export const DAY_MS = 86_400_000;

/** A generated card transaction: `label` (typology) and `case` only on fraud. */
export interface CardTransaction {
  id: string;
  time: number;
  customer: string;
  terminal: string;
  amount: number;
  label?: CardTypology;
  case?: string;
}

/** A fraud report: the transaction `event` was reported fraudulent at `time`. */
export interface CardReport {
  id: string;
  time: number;
  event: string;
  label: 'fraud';
  customer: string;
  terminal: string;
  eventTime: number;
}

/** The options with their defaults, checked. */
export function cardsSettings(o: CardsOptions): Required<CardsOptions> {
  const s: Required<CardsOptions> = {
    seed: o.seed,
    start: o.start,
    customers: o.customers ?? CARDS_DEFAULTS.customers,
    terminals: o.terminals ?? CARDS_DEFAULTS.terminals,
    radius: o.radius ?? CARDS_DEFAULTS.radius,
    compromisedTerminals: o.compromisedTerminals ?? CARDS_DEFAULTS.compromisedTerminals,
    compromisedCustomers: o.compromisedCustomers ?? CARDS_DEFAULTS.compromisedCustomers,
    delayDays: o.delayDays ?? CARDS_DEFAULTS.delayDays,
  };
  if (typeof s.seed !== 'number' || !Number.isFinite(s.seed)) throw new RangeError(`seed must be a finite number, got ${s.seed}`);
  if (typeof s.start !== 'number' || !Number.isFinite(s.start)) throw new RangeError(`start must be epoch milliseconds, got ${s.start}`);
  for (const k of ['customers', 'terminals'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 1) throw new RangeError(`${k} must be a positive integer, got ${s[k]}`);
  }
  for (const k of ['compromisedTerminals', 'compromisedCustomers'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 0) throw new RangeError(`${k} must be a non-negative integer, got ${s[k]}`);
  }
  if (s.compromisedTerminals > s.terminals) throw new RangeError(`compromisedTerminals (${s.compromisedTerminals}) exceeds terminals (${s.terminals})`);
  if (s.compromisedCustomers > s.customers) throw new RangeError(`compromisedCustomers (${s.compromisedCustomers}) exceeds customers (${s.customers})`);
  if (!(s.radius > 0) || !Number.isFinite(s.radius)) throw new RangeError(`radius must be a number > 0, got ${s.radius}`);
  if (!(s.delayDays >= CARDS_DEFAULTS.delayMinDays && s.delayDays <= CARDS_DEFAULTS.delayMaxDays)) {
    throw new RangeError(`delayDays must be between ${CARDS_DEFAULTS.delayMinDays} and ${CARDS_DEFAULTS.delayMaxDays}, got ${s.delayDays}`);
  }
  return s;
}
