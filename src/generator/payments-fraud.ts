/** The fraud cases of the payments scenario: one method per typology, each scheduling its labelled events ahead in event time. */
import type { GenEvent, Rng, TimeQueue } from './rng.js';
import { CITIES } from './payments-catalog.js';
import { access, normalPayment, payment, roundTo, transfer } from './payments-events.js';
import { PAYMENT_TYPOLOGIES, TYPOLOGY_WEIGHTS, type PaymentTypology } from './payments-options.js';
import { cumulative, ipIn, type Customer, type PaymentsPopulation } from './payments-population.js';

const MINUTE = 60_000;

export class FraudCases {
  private readonly typologies: readonly PaymentTypology[];
  private readonly typologyCum: Float64Array;
  private readonly fraud: Rng;
  private readonly pop: PaymentsPopulation;
  private readonly scheduled: TimeQueue<GenEvent>;
  private caseCount = 0;

  /** `fraud` is shared with the generator, which draws from it whether a case starts: one stream keeps the seed's sequence. */
  constructor(fraud: Rng, pop: PaymentsPopulation, scheduled: TimeQueue<GenEvent>, typologies: readonly PaymentTypology[] = PAYMENT_TYPOLOGIES) {
    // In the catalogue's order whatever the order given, so that a set of typologies gives one stream.
    this.typologies = PAYMENT_TYPOLOGIES.filter((t) => typologies.includes(t));
    if (this.typologies.length === 0) throw new RangeError('typologies must name at least one fraud typology');
    this.typologyCum = cumulative(this.typologies.map((t) => TYPOLOGY_WEIGHTS[t]));
    this.fraud = fraud;
    this.pop = pop;
    this.scheduled = scheduled;
  }

  /** A case of a random typology from event time t0; its events go on the schedule, not out. */
  start(t0: number): void {
    const f = this.fraud;
    const typ = this.typologies[f.weighted(this.typologyCum)];
    const caseId = `${typ}-${++this.caseCount}`;
    const c = f.pick(this.pop.customers);
    switch (typ) {
      case 'card_testing':
        return this.cardTesting(f, t0, c, caseId);
      case 'account_takeover':
        return this.accountTakeover(f, t0, c, caseId);
      case 'impossible_travel':
        return this.impossibleTravel(f, t0, c, caseId);
      case 'mule_fan_in':
        return this.muleFanIn(f, t0, caseId);
      case 'amount_outlier':
        return this.amountOutlier(f, t0, c, caseId);
    }
  }

  /** A stolen card checked with many tiny online payments at different merchants. */
  private cardTesting(f: Rng, t0: number, c: Customer, caseId: string): void {
    const label = 'card_testing';
    const card = f.pick(c.cards);
    const where = CITIES[f.pick(this.pop.foreignCities[c.cityIdx])];
    const device = this.pop.newDevice(f, 'web').id;
    const ip = ipIn(f, where);
    const n = f.int(10, 30);
    let t = t0 + f.int(0, MINUTE);
    for (let i = 0; i < n; i++) {
      const m = this.pop.merchants[f.pick(this.pop.onlineMerchants)];
      const amount = Math.min(3, roundTo(f.uniform(0.5, 3.0), 2));
      const status = f.chance(0.8) ? 'declined' : 'approved';
      this.scheduled.push(t, payment(t, c, device, ip, where, 'web', card, m, amount, 'USD', status, label, caseId));
      t += f.int(2000, 12000);
    }
  }

  /** Foreign login on a new device, password change, device enrolment, then large transfers out. */
  private accountTakeover(f: Rng, t0: number, c: Customer, caseId: string): void {
    const label = 'account_takeover';
    const where = CITIES[f.pick(this.pop.foreignCities[c.cityIdx])];
    const device = this.pop.newDevice(f, 'web').id;
    const ip = ipIn(f, where);
    let t = t0 + f.int(0, MINUTE);
    this.scheduled.push(t, access('login', t, c, device, ip, where, 'web', label, caseId));
    t += f.int(2 * MINUTE, 6 * MINUTE);
    this.scheduled.push(t, access('password_change', t, c, device, ip, where, 'web', label, caseId));
    t += f.int(1 * MINUTE, 5 * MINUTE);
    this.scheduled.push(t, access('device_enrolled', t, c, device, ip, where, 'web', label, caseId));
    const ben = this.pop.newBeneficiary(f, f.chance(0.5) ? c.city.country : where.country);
    const k = f.int(1, 3);
    for (let j = 0; j < k; j++) {
      t += f.int(2 * MINUTE, 6 * MINUTE);
      const amount = roundTo(c.transferMedian * f.uniform(6, 20), c.city.decimals);
      this.scheduled.push(t, transfer(t, c, device, ip, where, 'web', ben, amount, c.city.currency, label, caseId));
    }
  }

  /** Activity at home, then within the hour from a city more than 3000 km away. */
  private impossibleTravel(f: Rng, t0: number, c: Customer, caseId: string): void {
    const label = 'impossible_travel';
    let t = t0 + f.int(0, MINUTE);
    if (f.chance(0.5)) {
      this.scheduled.push(t, normalPayment(f, this.pop.merchants, t, c, label, caseId));
    } else {
      const dv = f.pick(c.devices);
      this.scheduled.push(t, access('login', t, c, dv.id, dv.kind === 'mobile' ? c.ips[c.ips.length - 1] : c.ips[0], c.city, dv.kind, label, caseId));
    }
    t += f.int(5 * MINUTE, 55 * MINUTE);
    const whereIdx = f.pick(this.pop.farCities[c.cityIdx]);
    const where = CITIES[whereIdx];
    if (f.chance(0.6)) {
      // Card-present payment with a cloned card.
      const m = this.pop.merchants[f.pick(this.pop.physicalMerchants)];
      const amount = roundTo((f.lognormal(c.mu, c.sigma) * m.mult * where.fx) / c.city.fx, where.decimals);
      const card = f.pick(c.cards);
      this.scheduled.push(t, payment(t, c, m.terminals[whereIdx], m.ips[whereIdx], where, 'pos', card, m, amount, where.currency, 'approved', label, caseId));
    } else {
      const device = this.pop.newDevice(f, 'web').id;
      this.scheduled.push(t, access('login', t, c, device, ipIn(f, where), where, 'web', label, caseId));
    }
  }

  /** Many customers each send a transfer to the same brand-new beneficiary within the hour. */
  private muleFanIn(f: Rng, t0: number, caseId: string): void {
    const label = 'mule_fan_in';
    const n = Math.min(f.int(15, 40), this.pop.customers.length);
    const ben = this.pop.newBeneficiary(f, f.pick(CITIES).country);
    const senders = new Set<number>();
    while (senders.size < n) senders.add(f.int(0, this.pop.customers.length - 1));
    for (const si of senders) {
      const s = this.pop.customers[si];
      const t = t0 + f.int(0, 55 * MINUTE);
      const dv = f.pick(s.devices);
      const ip = dv.kind === 'mobile' ? s.ips[s.ips.length - 1] : s.ips[0];
      const amount = roundTo(s.transferMedian * f.uniform(0.5, 2), s.city.decimals);
      this.scheduled.push(t, transfer(t, s, dv.id, ip, s.city, dv.kind, ben, amount, s.city.currency, label, caseId));
    }
  }

  /** One payment far above the customer's usual amount. */
  private amountOutlier(f: Rng, t0: number, c: Customer, caseId: string): void {
    const t = t0 + f.int(0, 2 * MINUTE);
    const m = this.pop.merchants[f.pick(this.pop.highValueMerchants)];
    const dv = f.pick(c.devices);
    const ip = dv.kind === 'mobile' ? c.ips[c.ips.length - 1] : c.ips[0];
    const amount = roundTo(c.median * f.uniform(10, 50), c.city.decimals);
    const status = f.chance(0.9) ? 'approved' : 'declined';
    this.scheduled.push(t, payment(t, c, dv.id, ip, c.city, dv.kind, c.cards[0], m, amount, c.city.currency, status, 'amount_outlier', caseId));
  }
}
