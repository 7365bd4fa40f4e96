/** Reference data of the payments scenario: the cities customers live in or are seen from, and merchant categories. */

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

export interface MccInfo {
  mcc: string;
  /** Multiplier on the customer's typical amount. */
  mult: number;
  /** Probability that a merchant of this kind sells online. */
  online: number;
  weight: number;
}

export const MCCS: readonly MccInfo[] = [
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
