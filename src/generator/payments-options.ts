/** Options of the payments scenario, its fraud typologies with their relative frequencies, and defaults. */

export interface PaymentsOptions {
  seed: number;
  /** Epoch ms of the first event time. */
  start: number;
  /** Mean events per second of event time. */
  ratePerSecond: number;
  /** Number of customers (default 2000). */
  customers?: number;
  /** Probability, per normal event, that a fraud case starts (default 0.002). */
  fraudRate?: number;
  /** Typologies cases are drawn from, keeping their relative weights (default: all). */
  typologies?: readonly PaymentTypology[];
  /** Max arrival delay: event times can lag the max seen so far by at most this (default 0). */
  disorderMs?: number;
  /** Activity follows the customers' local time of day (default true); false: a flat rate. */
  diurnal?: boolean;
}

export const PAYMENT_TYPOLOGIES = [
  'card_testing',
  'account_takeover',
  'impossible_travel',
  'mule_fan_in',
  'amount_outlier',
] as const;
export type PaymentTypology = (typeof PAYMENT_TYPOLOGIES)[number];

/** Relative frequency of each typology among fraud cases. */
export const TYPOLOGY_WEIGHTS: Record<PaymentTypology, number> = {
  card_testing: 0.2,
  account_takeover: 0.2,
  impossible_travel: 0.25,
  mule_fan_in: 0.1,
  amount_outlier: 0.25,
};

export const PAYMENT_DEFAULTS = { customers: 2000, fraudRate: 0.002, disorderMs: 0 } as const;
