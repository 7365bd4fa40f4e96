/** The payments scenario's population: merchants, customers with their cards, devices, IPs and beneficiaries, built once from the seed. */
import { Rng } from './rng.js';
import { CITIES, MCCS, haversineKm, type City } from './payments-catalog.js';

const HOUR = 3_600_000;
export const MERCHANTS = 600;

export interface Merchant {
  id: string;
  mcc: string;
  mult: number;
  online: boolean;
  /** Card terminal id per city index (physical merchants). */
  terminals: string[];
  /** Terminal IP per city index. */
  ips: string[];
}

export interface Device {
  id: string;
  kind: 'web' | 'mobile';
}

export interface Customer {
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

export function ipIn(r: Rng, c: City): string {
  return `${c.ipPrefix}.${r.int(0, 255)}.${r.int(1, 254)}`;
}

function iban(r: Rng, country: string): string {
  return country + String(r.int(10, 99)) + String(Math.floor(r.float() * 1e10)).padStart(10, '0');
}

export function cumulative(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let s = 0;
  for (let i = 0; i < weights.length; i++) out[i] = s += weights[i];
  return out;
}

export class PaymentsPopulation {
  readonly customers: Customer[] = [];
  readonly custCum: Float64Array;
  readonly merchants: Merchant[] = [];
  readonly onlineMerchants: number[] = [];
  readonly physicalMerchants: number[] = [];
  readonly highValueMerchants: number[] = [];
  /** Per city: indices of cities in another country / more than 3000 km away. */
  readonly foreignCities: number[][] = [];
  readonly farCities: number[][] = [];
  private readonly knownBeneficiaries = new Set<string>();
  private readonly knownDevices = new Set<string>();

  constructor(merchants: Rng, customers: Rng, n: number) {
    this.setupGeography();
    this.setupMerchants(merchants);
    this.custCum = this.setupCustomers(customers, n);
  }

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

  newDevice(r: Rng, kind: 'web' | 'mobile'): Device {
    let id: string;
    do id = 'dev-' + r.hex8();
    while (this.knownDevices.has(id));
    this.knownDevices.add(id);
    return { id, kind };
  }

  newBeneficiary(r: Rng, country: string): string {
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
}
