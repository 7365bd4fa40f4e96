/**
 * Built-in, deterministic, seeded event generators. Same options give the same
 * events (whatever the next() chunking); nothing reads the clock or Math.random.
 */
import { PaymentsGenerator, type PaymentsOptions, type PaymentTypology } from './payments.js';
import { TelemetryGenerator, type TelemetryOptions } from './telemetry.js';
import { CardsGenerator } from './cards.js';

export { PaymentsGenerator, PAYMENT_TYPOLOGIES, PAYMENT_DEFAULTS, CITIES, haversineKm } from './payments.js';
export type { PaymentsOptions, PaymentTypology, City } from './payments.js';
export { TelemetryGenerator, INCIDENT_TYPES, TELEMETRY_DEFAULTS } from './telemetry.js';
export type { TelemetryOptions, IncidentType } from './telemetry.js';
export { CardsGenerator, CARD_TYPOLOGIES, CARDS_DEFAULTS } from './cards.js';
export type { CardsDay, CardReport, CardTransaction, CardTypology, CardsOptions } from './cards.js';
export { Rng } from './rng.js';

export type Scenario = 'payments' | 'telemetry' | 'cards';
export const SCENARIOS: readonly Scenario[] = ['payments', 'telemetry', 'cards'];

/** Anything that hands out the next events of a stream. */
export interface EventGenerator {
  next(count: number): Record<string, unknown>[];
}

/** Options accepted by every scenario; scenario-specific ones are ignored by the others. */
export interface GeneratorOptions {
  seed: number;
  start: number;
  ratePerSecond: number;
  disorderMs?: number;
  customers?: number;
  fraudRate?: number;
  typologies?: readonly PaymentTypology[];
  services?: number;
  incidentRate?: number;
  diurnal?: boolean;
  terminals?: number;
  radius?: number;
  compromisedTerminals?: number;
  compromisedCustomers?: number;
  delayDays?: number;
}

/** 2024-01-01T00:00:00Z: the default first event time of generate(). */
export const DEFAULT_START = 1_704_067_200_000;

/**
 * Default mean event rates (events per second of event time). Payments: 2000
 * customers making a few payments a day; telemetry: a small web shop's API; cards: its rate
 * follows from its customers' profiles (about 10,000 transactions a day for 5000), not from this.
 */
export const DEFAULT_RATE: Readonly<Record<Scenario, number>> = { payments: 0.15, telemetry: 20, cards: 0.12 };

export function isScenario(name: string): name is Scenario {
  return (SCENARIOS as readonly string[]).includes(name);
}

export function createGenerator(scenario: 'payments', opts: PaymentsOptions): PaymentsGenerator;
export function createGenerator(scenario: 'telemetry', opts: TelemetryOptions): TelemetryGenerator;
export function createGenerator(scenario: 'cards', opts: GeneratorOptions): CardsGenerator;
export function createGenerator(scenario: Scenario, opts: GeneratorOptions): EventGenerator;
export function createGenerator(scenario: Scenario, opts: GeneratorOptions): EventGenerator {
  switch (scenario) {
    case 'payments':
      return new PaymentsGenerator(opts);
    case 'telemetry':
      return new TelemetryGenerator(opts);
    case 'cards':
      // Paced by its customers' profiles: ratePerSecond and disorderMs do not apply.
      return new CardsGenerator({
        seed: opts.seed,
        start: opts.start,
        customers: opts.customers,
        terminals: opts.terminals,
        radius: opts.radius,
        compromisedTerminals: opts.compromisedTerminals,
        compromisedCustomers: opts.compromisedCustomers,
        delayDays: opts.delayDays,
      });
    default:
      throw new RangeError(`unknown scenario '${String(scenario)}' (expected one of: ${SCENARIOS.join(', ')})`);
  }
}

/** The first `events` events of a scenario. */
export function generate(
  scenario: Scenario,
  opts: { seed: number; events: number; start?: number; ratePerSecond?: number } & Partial<Omit<GeneratorOptions, 'seed' | 'start' | 'ratePerSecond'>>,
): Record<string, unknown>[] {
  const { events, ...rest } = opts;
  const gen = createGenerator(scenario, {
    ...rest,
    start: opts.start ?? DEFAULT_START,
    ratePerSecond: opts.ratePerSecond ?? DEFAULT_RATE[scenario],
  });
  return gen.next(events);
}

/**
 * Customers needed for normal payment traffic to stay realistic (a few payments a day each) at a rate:
 * about 13,000 per event/s, never fewer than the generator's 2000.
 */
export function customersFor(ratePerSecond: number): number {
  return Math.max(PAYMENT_DEFAULTS_CUSTOMERS, Math.min(2_000_000, Math.round(ratePerSecond * 13_000)));
}
const PAYMENT_DEFAULTS_CUSTOMERS = 2000;
