/** The payments scenario's event records (payments, account events, transfers) and a customer's everyday payment. */
import type { GenEvent, Rng } from './rng.js';
import type { City } from './payments-catalog.js';
import { MERCHANTS, type Customer, type Merchant } from './payments-population.js';

export function roundTo(x: number, decimals: number): number {
  const f = decimals === 0 ? 1 : decimals === 2 ? 100 : 10 ** decimals;
  const v = Math.round(x * f) / f;
  return v > 0 ? v : 1 / f;
}

export function payment(
  ts: number, c: Customer, device: string, ip: string, where: City, channel: string, card: string,
  m: Merchant, amount: number, currency: string, status: string, label: string | null, caseId: string | null,
): GenEvent {
  return {
    id: '', ts, type: 'payment', customer: c.id, device, ip, country: where.country, lat: where.lat, lon: where.lon,
    channel, card, merchant: m.id, mcc: m.mcc, amount, currency, status, label, case: caseId,
  };
}

export function access(
  type: 'login' | 'password_change' | 'device_enrolled', ts: number, c: Customer, device: string, ip: string,
  where: City, channel: string, label: string | null, caseId: string | null,
): GenEvent {
  return {
    id: '', ts, type, customer: c.id, device, ip, country: where.country, lat: where.lat, lon: where.lon,
    channel, label, case: caseId,
  };
}

export function transfer(
  ts: number, c: Customer, device: string, ip: string, where: City, channel: string, beneficiary: string,
  amount: number, currency: string, label: string | null, caseId: string | null,
): GenEvent {
  return {
    id: '', ts, type: 'transfer', customer: c.id, device, ip, country: where.country, lat: where.lat, lon: where.lon,
    channel, account: c.account, beneficiary, amount, currency, label, case: caseId,
  };
}

/** A payment that looks like the customer's everyday spending, at home. */
export function normalPayment(r: Rng, merchants: readonly Merchant[], ts: number, c: Customer, label: string | null, caseId: string | null): GenEvent {
  const m = merchants[r.chance(0.8) ? r.pick(c.favorites) : r.int(0, MERCHANTS - 1)];
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
