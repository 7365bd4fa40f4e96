/**
 * Payments scenario: customers of a (mostly European) retail bank paying by card,
 * logging in, and sending transfers, with labelled fraud cases interleaved.
 *
 * Normal traffic is a superposition of per-customer Poisson processes (heterogeneous
 * activity, modulated by the customer's local time of day). Every customer lives in
 * one home city, pays with their own 1–2 cards, uses a few known devices and home
 * IPs, and sends transfers only to a small personal set of beneficiaries. Fraud
 * cases start with probability `fraudRate` after each normal event; their events are
 * scheduled ahead in event time and merged with the normal stream.
 *
 * Note: the per-customer rate is ratePerSecond / customers; at high rates raise
 * `customers` too (about ratePerSecond × 13 000 keeps "a few payments a day").
 *
 * This module assembles the stream; the population, fraud cases, event records,
 * reference data and options live in the payments-*.ts modules next to it.
 */
import { ArrivalStage, Rng, TimeQueue, checkCommonOptions, type GenEvent } from './rng.js';
import { access, normalPayment, roundTo, transfer } from './payments-events.js';
import { FraudCases } from './payments-fraud.js';
import { PAYMENT_DEFAULTS, type PaymentsOptions } from './payments-options.js';
import { PaymentsPopulation, type Customer } from './payments-population.js';

export { PAYMENT_TYPOLOGIES, PAYMENT_DEFAULTS } from './payments-options.js';
export type { PaymentsOptions, PaymentTypology } from './payments-options.js';
export { CITIES, haversineKm } from './payments-catalog.js';
export type { City } from './payments-catalog.js';

/** Relative activity by local hour of day. */
const DIURNAL_RAW = [
  0.15, 0.08, 0.05, 0.04, 0.05, 0.1, 0.3, 0.6, 0.9, 1.1, 1.3, 1.5,
  1.8, 1.6, 1.3, 1.3, 1.4, 1.6, 1.8, 1.7, 1.4, 1.0, 0.6, 0.3,
];
const DIURNAL_MAX_RATIO = (24 * Math.max(...DIURNAL_RAW)) / DIURNAL_RAW.reduce((a, b) => a + b, 0);
/** Thinning acceptance per local hour: profile(h) / max(profile). */
const DIURNAL_ACCEPT = Float64Array.from(DIURNAL_RAW, (v) => v / Math.max(...DIURNAL_RAW));

const HOUR = 3_600_000;

export class PaymentsGenerator {
  private readonly pop: PaymentsPopulation;
  private readonly cases: FraudCases;
  private readonly traffic: Rng;
  private readonly fraud: Rng;
  private readonly scheduled = new TimeQueue<GenEvent>();
  private readonly stage: ArrivalStage;
  private readonly meanGapMs: number;
  private readonly fraudRate: number;
  private readonly diurnal: boolean;
  /** Time (float ms) and customer of the next normal event. */
  private nt: number;
  private nc!: Customer;

  constructor(opts: PaymentsOptions) {
    checkCommonOptions(opts);
    const nCustomers = opts.customers ?? PAYMENT_DEFAULTS.customers;
    if (!Number.isInteger(nCustomers) || nCustomers < 1) throw new RangeError(`customers must be a positive integer, got ${nCustomers}`);
    this.fraudRate = opts.fraudRate ?? PAYMENT_DEFAULTS.fraudRate;
    if (!(this.fraudRate >= 0 && this.fraudRate <= 1)) throw new RangeError(`fraudRate must be in [0, 1], got ${this.fraudRate}`);

    const root = new Rng(opts.seed);
    this.traffic = root.fork('payments/traffic');
    this.fraud = root.fork('payments/fraud');
    this.pop = new PaymentsPopulation(root.fork('payments/merchants'), root.fork('payments/customers'), nCustomers);
    this.cases = new FraudCases(this.fraud, this.pop, this.scheduled, opts.typologies);

    this.diurnal = opts.diurnal ?? true;
    this.meanGapMs = 1000 / (opts.ratePerSecond * (this.diurnal ? DIURNAL_MAX_RATIO : 1));
    this.nt = opts.start;
    this.advance();
    this.stage = new ArrivalStage(() => this.pull(), opts.disorderMs ?? PAYMENT_DEFAULTS.disorderMs, root.fork('payments/arrival'), 'p-');
  }

  /** The next `count` events, in arrival order. */
  next(count: number): Record<string, unknown>[] {
    return this.stage.next(count);
  }

  /** Draws the time and customer of the next normal event (thinned Poisson process). */
  private advance(): void {
    const r = this.traffic;
    for (;;) {
      this.nt += r.exp(1) * this.meanGapMs;
      const c = this.pop.customers[r.weighted(this.pop.custCum)];
      if (!this.diurnal) {
        this.nc = c;
        return;
      }
      let h = Math.floor((this.nt + c.tzMs) / HOUR) % 24;
      if (h < 0) h += 24;
      if (r.float() < DIURNAL_ACCEPT[h]) {
        this.nc = c;
        return;
      }
    }
  }

  /** Next event in event-time order. */
  private pull(): GenEvent {
    const t = this.nt;
    if (this.scheduled.peekTime() <= t) return this.scheduled.pop() as GenEvent;
    const ev = this.normal(Math.floor(t), this.nc);
    if (this.fraudRate > 0 && this.fraud.chance(this.fraudRate)) this.cases.start(Math.ceil(t));
    this.advance();
    return ev;
  }

  private normal(ts: number, c: Customer): GenEvent {
    const r = this.traffic;
    const u = r.float();
    if (u < 0.804) return normalPayment(r, this.pop.merchants, ts, c, null, null);
    const dv = r.pick(c.devices);
    const ip = dv.kind === 'mobile' ? c.ips[c.ips.length - 1] : c.ips[0];
    if (u < 0.954) return access('login', ts, c, dv.id, ip, c.city, dv.kind, null, null);
    if (u < 0.994) {
      const amount = roundTo(r.lognormal(c.transferMu, 0.5), c.city.decimals);
      return transfer(ts, c, dv.id, ip, c.city, dv.kind, r.pick(c.beneficiaries), amount, c.city.currency, null, null);
    }
    if (u < 0.997) return access('password_change', ts, c, dv.id, ip, c.city, dv.kind, null, null);
    // A new phone: becomes one of the customer's known devices.
    const nd = this.pop.newDevice(r, 'mobile');
    c.devices.push(nd);
    if (c.devices.length > 4) c.devices.shift();
    return access('device_enrolled', ts, c, nd.id, c.ips[c.ips.length - 1], c.city, 'mobile', null, null);
  }
}
