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
 */
import { ArrivalStage, Rng, TimeQueue, checkCommonOptions, type GenEvent } from './rng.js';

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
  /** Max arrival delay: event times can lag the max seen so far by at most this (default 0). */
  disorderMs?: number;
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
const TYPOLOGY_WEIGHTS: Record<PaymentTypology, number> = {
  card_testing: 0.2,
  account_takeover: 0.2,
  impossible_travel: 0.25,
  mule_fan_in: 0.1,
  amount_outlier: 0.25,
};

export const PAYMENT_DEFAULTS = { customers: 2000, fraudRate: 0.002, disorderMs: 0 } as const;

export interface City {
  readonly name: string;
  readonly country: string;
  readonly currency: string;
  /** Units of local currency per EUR (rough). */
  readonly fx: number;
  /** Minor-unit digits of the currency. */
  readonly decimals: number;
  readonly lat: number;
  readonly lon: number;
  /** UTC offset in hours (standard time). */
  readonly tz: number;
  /** First two octets of the city's IP space. */
  readonly ipPrefix: string;
  /** Relative share of customers living there. */
  readonly weight: number;
}

function city(
  name: string, country: string, currency: string, fx: number, decimals: number,
  lat: number, lon: number, tz: number, ipPrefix: string, weight: number,
): City {
  return { name, country, currency, fx, decimals, lat, lon, tz, ipPrefix, weight };
}

export const CITIES: readonly City[] = [
  city('Paris', 'FR', 'EUR', 1, 2, 48.8566, 2.3522, 1, '90.84', 14),
  city('Lyon', 'FR', 'EUR', 1, 2, 45.764, 4.8357, 1, '88.161', 6),
  city('Marseille', 'FR', 'EUR', 1, 2, 43.2965, 5.3698, 1, '82.64', 4),
  city('Berlin', 'DE', 'EUR', 1, 2, 52.52, 13.405, 1, '91.64', 8),
  city('Madrid', 'ES', 'EUR', 1, 2, 40.4168, -3.7038, 1, '83.44', 6),
  city('Rome', 'IT', 'EUR', 1, 2, 41.9028, 12.4964, 1, '93.41', 5),
  city('Amsterdam', 'NL', 'EUR', 1, 2, 52.3676, 4.9041, 1, '145.53', 4),
  city('Brussels', 'BE', 'EUR', 1, 2, 50.8503, 4.3517, 1, '81.242', 4),
  city('London', 'GB', 'GBP', 0.86, 2, 51.5074, -0.1278, 0, '86.128', 8),
  city('Lisbon', 'PT', 'EUR', 1, 2, 38.7223, -9.1393, 0, '85.241', 3),
  city('Warsaw', 'PL', 'PLN', 4.3, 2, 52.2297, 21.0122, 1, '83.24', 3),
  city('Casablanca', 'MA', 'MAD', 10.8, 2, 33.5731, -7.5898, 1, '105.155', 2),
  city('New York', 'US', 'USD', 1.08, 2, 40.7128, -74.006, -5, '72.229', 6),
  city('San Francisco', 'US', 'USD', 1.08, 2, 37.7749, -122.4194, -8, '73.15', 3),
  city('Toronto', 'CA', 'CAD', 1.47, 2, 43.6532, -79.3832, -5, '99.224', 2),
  city('Mexico City', 'MX', 'MXN', 18.5, 2, 19.4326, -99.1332, -6, '189.203', 2),
  city('Sao Paulo', 'BR', 'BRL', 5.4, 2, -23.5505, -46.6333, -3, '177.68', 2),
  city('Lagos', 'NG', 'NGN', 1600, 2, 6.5244, 3.3792, 1, '105.112', 1),
  city('Dubai', 'AE', 'AED', 3.97, 2, 25.2048, 55.2708, 4, '94.200', 2),
  city('Mumbai', 'IN', 'INR', 90, 2, 19.076, 72.8777, 5.5, '49.36', 2),
  city('Singapore', 'SG', 'SGD', 1.45, 2, 1.3521, 103.8198, 8, '118.200', 2),
  city('Tokyo', 'JP', 'JPY', 162, 0, 35.6762, 139.6503, 9, '126.72', 2),
  city('Sydney', 'AU', 'AUD', 1.65, 2, -33.8688, 151.2093, 10, '1.144', 2),
];

/** Great-circle distance in km. */
export function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(a)));
}

interface MccInfo {
  mcc: string;
  /** Multiplier on the customer's typical amount. */
  mult: number;
  /** Probability that a merchant of this kind sells online. */
  online: number;
  weight: number;
}

const MCCS: readonly MccInfo[] = [
  { mcc: '5411', mult: 1.0, online: 0.1, weight: 25 }, // grocery
  { mcc: '5812', mult: 1.2, online: 0.05, weight: 14 }, // restaurants
  { mcc: '5814', mult: 0.45, online: 0.2, weight: 12 }, // fast food
  { mcc: '5541', mult: 1.3, online: 0, weight: 8 }, // fuel
  { mcc: '5912', mult: 0.7, online: 0.2, weight: 6 }, // pharmacy
  { mcc: '5311', mult: 1.5, online: 0.4, weight: 5 }, // department stores
  { mcc: '5651', mult: 1.4, online: 0.5, weight: 7 }, // clothing
  { mcc: '5732', mult: 1.9, online: 0.7, weight: 4 }, // electronics
  { mcc: '4121', mult: 0.7, online: 1, weight: 6 }, // taxis, ride hailing
  { mcc: '4814', mult: 1.0, online: 1, weight: 3 }, // telecom
  { mcc: '5815', mult: 0.35, online: 1, weight: 6 }, // digital goods
  { mcc: '5999', mult: 0.8, online: 0.6, weight: 6 }, // misc retail
  { mcc: '7011', mult: 2.0, online: 0.8, weight: 2 }, // hotels
  { mcc: '5944', mult: 2.0, online: 0.5, weight: 1 }, // jewelry
];

/** Relative activity by local hour of day. */
const DIURNAL_RAW = [
  0.15, 0.08, 0.05, 0.04, 0.05, 0.1, 0.3, 0.6, 0.9, 1.1, 1.3, 1.5,
  1.8, 1.6, 1.3, 1.3, 1.4, 1.6, 1.8, 1.7, 1.4, 1.0, 0.6, 0.3,
];
const DIURNAL_MAX_RATIO = (24 * Math.max(...DIURNAL_RAW)) / DIURNAL_RAW.reduce((a, b) => a + b, 0);
/** Thinning acceptance per local hour: profile(h) / max(profile). */
const DIURNAL_ACCEPT = Float64Array.from(DIURNAL_RAW, (v) => v / Math.max(...DIURNAL_RAW));

const HOUR = 3_600_000;
const MINUTE = 60_000;
const MERCHANTS = 600;

interface Merchant {
  id: string;
  mcc: string;
  mult: number;
  online: boolean;
  /** Card terminal id per city index (physical merchants). */
  terminals: string[];
  /** Terminal IP per city index. */
  ips: string[];
}

interface Device {
  id: string;
  kind: 'web' | 'mobile';
}

interface Customer {
  id: string;
  account: string;
  cityIdx: number;
  city: City;
  tzMs: number;
  cards: string[];
  devices: Device[];
  ips: string[];
  /** log of the typical payment amount (home currency). */
  mu: number;
  sigma: number;
  /** Typical payment amount, exp(mu). */
  median: number;
  transferMu: number;
  /** Typical transfer amount. */
  transferMedian: number;
  beneficiaries: string[];
  favorites: number[];
}

function roundTo(x: number, decimals: number): number {
  const f = decimals === 0 ? 1 : decimals === 2 ? 100 : 10 ** decimals;
  const v = Math.round(x * f) / f;
  return v > 0 ? v : 1 / f;
}

function ipIn(r: Rng, c: City): string {
  return `${c.ipPrefix}.${r.int(0, 255)}.${r.int(1, 254)}`;
}

function iban(r: Rng, country: string): string {
  return country + String(r.int(10, 99)) + String(Math.floor(r.float() * 1e10)).padStart(10, '0');
}

function payment(
  ts: number, c: Customer, device: string, ip: string, where: City, channel: string, card: string,
  m: Merchant, amount: number, currency: string, status: string, label: string | null, caseId: string | null,
): GenEvent {
  return {
    id: '', ts, type: 'payment', customer: c.id, device, ip, country: where.country, lat: where.lat, lon: where.lon,
    channel, card, merchant: m.id, mcc: m.mcc, amount, currency, status, label, case: caseId,
  };
}

function access(
  type: 'login' | 'password_change' | 'device_enrolled', ts: number, c: Customer, device: string, ip: string,
  where: City, channel: string, label: string | null, caseId: string | null,
): GenEvent {
  return {
    id: '', ts, type, customer: c.id, device, ip, country: where.country, lat: where.lat, lon: where.lon,
    channel, label, case: caseId,
  };
}

function transfer(
  ts: number, c: Customer, device: string, ip: string, where: City, channel: string, beneficiary: string,
  amount: number, currency: string, label: string | null, caseId: string | null,
): GenEvent {
  return {
    id: '', ts, type: 'transfer', customer: c.id, device, ip, country: where.country, lat: where.lat, lon: where.lon,
    channel, account: c.account, beneficiary, amount, currency, label, case: caseId,
  };
}

function cumulative(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let s = 0;
  for (let i = 0; i < weights.length; i++) out[i] = s += weights[i];
  return out;
}

export class PaymentsGenerator {
  private readonly customers: Customer[] = [];
  private readonly custCum: Float64Array;
  private readonly merchants: Merchant[] = [];
  private readonly onlineMerchants: number[] = [];
  private readonly physicalMerchants: number[] = [];
  private readonly highValueMerchants: number[] = [];
  /** Per city: indices of cities in another country / more than 3000 km away. */
  private readonly foreignCities: number[][] = [];
  private readonly farCities: number[][] = [];
  private readonly knownBeneficiaries = new Set<string>();
  private readonly knownDevices = new Set<string>();
  private readonly typologyCum = cumulative(PAYMENT_TYPOLOGIES.map((t) => TYPOLOGY_WEIGHTS[t]));

  private readonly traffic: Rng;
  private readonly fraud: Rng;
  private readonly scheduled = new TimeQueue<GenEvent>();
  private readonly stage: ArrivalStage;
  private readonly meanGapMs: number;
  private readonly fraudRate: number;
  private caseCount = 0;
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
    this.setupGeography();
    this.setupMerchants(root.fork('payments/merchants'));
    this.custCum = this.setupCustomers(root.fork('payments/customers'), nCustomers);

    this.meanGapMs = 1000 / (opts.ratePerSecond * DIURNAL_MAX_RATIO);
    this.nt = opts.start;
    this.advance();
    this.stage = new ArrivalStage(() => this.pull(), opts.disorderMs ?? PAYMENT_DEFAULTS.disorderMs, root.fork('payments/arrival'), 'p-');
  }

  /** The next `count` events, in arrival order. */
  next(count: number): Record<string, unknown>[] {
    return this.stage.next(count);
  }

  // ---------------------------------------------------------------- setup

  private setupGeography(): void {
    for (let i = 0; i < CITIES.length; i++) {
      const a = CITIES[i];
      const foreign: number[] = [];
      const far: number[] = [];
      for (let j = 0; j < CITIES.length; j++) {
        const b = CITIES[j];
        if (b.country !== a.country) foreign.push(j);
        if (haversineKm(a.lat, a.lon, b.lat, b.lon) > 3000) far.push(j);
      }
      this.foreignCities.push(foreign);
      this.farCities.push(far);
    }
  }

  private setupMerchants(r: Rng): void {
    const mccCum = cumulative(MCCS.map((m) => m.weight));
    for (let i = 0; i < MERCHANTS; i++) {
      const info = MCCS[r.weighted(mccCum)];
      const online = r.chance(info.online);
      const base = r.hex8();
      const octets = `.${r.int(0, 255)}.${r.int(1, 254)}`;
      const m: Merchant = {
        id: 'M' + String(100000 + i * 7 + r.int(0, 6)),
        mcc: info.mcc,
        mult: info.mult,
        online,
        terminals: online ? [] : CITIES.map((_, ci) => `T-${base}-${ci.toString(36)}`),
        ips: online ? [] : CITIES.map((c) => c.ipPrefix + octets),
      };
      this.merchants.push(m);
      (online ? this.onlineMerchants : this.physicalMerchants).push(i);
      if (online && (info.mcc === '5732' || info.mcc === '5944' || info.mcc === '7011' || info.mcc === '5311')) {
        this.highValueMerchants.push(i);
      }
    }
    if (this.highValueMerchants.length === 0) this.highValueMerchants.push(...this.onlineMerchants);
  }

  private newDevice(r: Rng, kind: 'web' | 'mobile'): Device {
    let id: string;
    do id = 'dev-' + r.hex8();
    while (this.knownDevices.has(id));
    this.knownDevices.add(id);
    return { id, kind };
  }

  private newBeneficiary(r: Rng, country: string): string {
    let id: string;
    do id = iban(r, country);
    while (this.knownBeneficiaries.has(id));
    this.knownBeneficiaries.add(id);
    return id;
  }

  private setupCustomers(r: Rng, n: number): Float64Array {
    const cityCum = cumulative(CITIES.map((c) => c.weight));
    const activity: number[] = [];
    const cards = new Set<string>();
    for (let i = 0; i < n; i++) {
      const cityIdx = r.weighted(cityCum);
      const home = CITIES[cityIdx];
      const nCards = r.chance(0.35) ? 2 : 1;
      const myCards: string[] = [];
      while (myCards.length < nCards) {
        const card = '4' + String(r.int(10000, 99999)) + '******' + String(r.int(0, 9999)).padStart(4, '0');
        if (!cards.has(card)) {
          cards.add(card);
          myCards.push(card);
        }
      }
      const devices: Device[] = [this.newDevice(r, 'mobile')];
      const nMore = r.int(0, 2);
      for (let k = 0; k < nMore; k++) devices.push(this.newDevice(r, r.chance(0.6) ? 'web' : 'mobile'));
      const ips = [ipIn(r, home)];
      if (r.chance(0.6)) ips.push(ipIn(r, home));
      const medianEur = Math.min(250, Math.max(8, r.lognormal(Math.log(35), 0.5)));
      const median = medianEur * home.fx;
      const transferMedian = median * r.uniform(3, 8);
      const bens: string[] = [];
      const nBens = r.int(1, 4);
      for (let k = 0; k < nBens; k++) bens.push(this.newBeneficiary(r, r.chance(0.9) ? home.country : r.pick(CITIES).country));
      const favorites: number[] = [];
      const nFav = r.int(6, 12);
      for (let k = 0; k < nFav; k++) {
        favorites.push(r.chance(0.7) ? r.pick(this.physicalMerchants) : r.pick(this.onlineMerchants));
      }
      this.customers.push({
        id: 'C' + String(i).padStart(5, '0'),
        account: this.newBeneficiary(r, home.country),
        cityIdx,
        city: home,
        tzMs: home.tz * HOUR,
        cards: myCards,
        devices,
        ips,
        mu: Math.log(median),
        sigma: r.uniform(0.45, 0.7),
        median,
        transferMu: Math.log(transferMedian),
        transferMedian,
        beneficiaries: bens,
        favorites,
      });
      activity.push(Math.min(3, r.lognormal(-0.125, 0.5)));
    }
    return cumulative(activity);
  }

  // ---------------------------------------------------------------- normal traffic

  /** Draws the time and customer of the next normal event (thinned Poisson process). */
  private advance(): void {
    const r = this.traffic;
    for (;;) {
      this.nt += r.exp(1) * this.meanGapMs;
      const c = this.customers[r.weighted(this.custCum)];
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
    if (this.fraudRate > 0 && this.fraud.chance(this.fraudRate)) this.startCase(Math.ceil(t));
    this.advance();
    return ev;
  }

  private normal(ts: number, c: Customer): GenEvent {
    const r = this.traffic;
    const u = r.float();
    if (u < 0.804) return this.normalPayment(r, ts, c, null, null);
    const dv = r.pick(c.devices);
    const ip = dv.kind === 'mobile' ? c.ips[c.ips.length - 1] : c.ips[0];
    if (u < 0.954) return access('login', ts, c, dv.id, ip, c.city, dv.kind, null, null);
    if (u < 0.994) {
      const amount = roundTo(r.lognormal(c.transferMu, 0.5), c.city.decimals);
      return transfer(ts, c, dv.id, ip, c.city, dv.kind, r.pick(c.beneficiaries), amount, c.city.currency, null, null);
    }
    if (u < 0.997) return access('password_change', ts, c, dv.id, ip, c.city, dv.kind, null, null);
    // A new phone: becomes one of the customer's known devices.
    const nd = this.newDevice(r, 'mobile');
    c.devices.push(nd);
    if (c.devices.length > 4) c.devices.shift();
    return access('device_enrolled', ts, c, nd.id, c.ips[c.ips.length - 1], c.city, 'mobile', null, null);
  }

  /** A payment that looks like the customer's everyday spending, at home. */
  private normalPayment(r: Rng, ts: number, c: Customer, label: string | null, caseId: string | null): GenEvent {
    const m = this.merchants[r.chance(0.8) ? r.pick(c.favorites) : r.int(0, MERCHANTS - 1)];
    const card = c.cards.length > 1 && r.chance(0.3) ? c.cards[1] : c.cards[0];
    const amount = roundTo(r.lognormal(c.mu, c.sigma) * m.mult, c.city.decimals);
    const status = r.chance(0.025) ? 'declined' : 'approved';
    if (m.online) {
      const dv = r.pick(c.devices);
      const ip = dv.kind === 'mobile' ? c.ips[c.ips.length - 1] : c.ips[0];
      return payment(ts, c, dv.id, ip, c.city, dv.kind, card, m, amount, c.city.currency, status, label, caseId);
    }
    return payment(ts, c, m.terminals[c.cityIdx], m.ips[c.cityIdx], c.city, 'pos', card, m, amount, c.city.currency, status, label, caseId);
  }

  // ---------------------------------------------------------------- fraud cases

  private startCase(t0: number): void {
    const f = this.fraud;
    const typ = PAYMENT_TYPOLOGIES[f.weighted(this.typologyCum)];
    const caseId = `${typ}-${++this.caseCount}`;
    const c = f.pick(this.customers);
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
    const where = CITIES[f.pick(this.foreignCities[c.cityIdx])];
    const device = this.newDevice(f, 'web').id;
    const ip = ipIn(f, where);
    const n = f.int(10, 30);
    let t = t0 + f.int(0, MINUTE);
    for (let i = 0; i < n; i++) {
      const m = this.merchants[f.pick(this.onlineMerchants)];
      const amount = Math.min(3, roundTo(f.uniform(0.5, 3.0), 2));
      const status = f.chance(0.8) ? 'declined' : 'approved';
      this.scheduled.push(t, payment(t, c, device, ip, where, 'web', card, m, amount, 'USD', status, label, caseId));
      t += f.int(2000, 12000);
    }
  }

  /** Foreign login on a new device, password change, device enrolment, then large transfers out. */
  private accountTakeover(f: Rng, t0: number, c: Customer, caseId: string): void {
    const label = 'account_takeover';
    const where = CITIES[f.pick(this.foreignCities[c.cityIdx])];
    const device = this.newDevice(f, 'web').id;
    const ip = ipIn(f, where);
    let t = t0 + f.int(0, MINUTE);
    this.scheduled.push(t, access('login', t, c, device, ip, where, 'web', label, caseId));
    t += f.int(2 * MINUTE, 6 * MINUTE);
    this.scheduled.push(t, access('password_change', t, c, device, ip, where, 'web', label, caseId));
    t += f.int(1 * MINUTE, 5 * MINUTE);
    this.scheduled.push(t, access('device_enrolled', t, c, device, ip, where, 'web', label, caseId));
    const ben = this.newBeneficiary(f, f.chance(0.5) ? c.city.country : where.country);
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
      this.scheduled.push(t, this.normalPayment(f, t, c, label, caseId));
    } else {
      const dv = f.pick(c.devices);
      this.scheduled.push(t, access('login', t, c, dv.id, dv.kind === 'mobile' ? c.ips[c.ips.length - 1] : c.ips[0], c.city, dv.kind, label, caseId));
    }
    t += f.int(5 * MINUTE, 55 * MINUTE);
    const whereIdx = f.pick(this.farCities[c.cityIdx]);
    const where = CITIES[whereIdx];
    if (f.chance(0.6)) {
      // Card-present payment with a cloned card.
      const m = this.merchants[f.pick(this.physicalMerchants)];
      const amount = roundTo((f.lognormal(c.mu, c.sigma) * m.mult * where.fx) / c.city.fx, where.decimals);
      const card = f.pick(c.cards);
      this.scheduled.push(t, payment(t, c, m.terminals[whereIdx], m.ips[whereIdx], where, 'pos', card, m, amount, where.currency, 'approved', label, caseId));
    } else {
      const device = this.newDevice(f, 'web').id;
      this.scheduled.push(t, access('login', t, c, device, ipIn(f, where), where, 'web', label, caseId));
    }
  }

  /** Many customers each send a transfer to the same brand-new beneficiary within the hour. */
  private muleFanIn(f: Rng, t0: number, caseId: string): void {
    const label = 'mule_fan_in';
    const n = Math.min(f.int(15, 40), this.customers.length);
    const ben = this.newBeneficiary(f, f.pick(CITIES).country);
    const senders = new Set<number>();
    while (senders.size < n) senders.add(f.int(0, this.customers.length - 1));
    for (const si of senders) {
      const s = this.customers[si];
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
    const m = this.merchants[f.pick(this.highValueMerchants)];
    const dv = f.pick(c.devices);
    const ip = dv.kind === 'mobile' ? c.ips[c.ips.length - 1] : c.ips[0];
    const amount = roundTo(c.median * f.uniform(10, 50), c.city.decimals);
    const status = f.chance(0.9) ? 'approved' : 'declined';
    this.scheduled.push(t, payment(t, c, dv.id, ip, c.city, dv.kind, c.cards[0], m, amount, c.city.currency, status, 'amount_outlier', caseId));
  }
}
