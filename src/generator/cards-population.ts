/**
 * Customers and terminals of the cards scenario: every one placed uniformly on a square grid; each
 * customer has a spending profile and uses the terminals within a radius of home.
 */
import { CARDS_DEFAULTS } from './cards-options.js';
import type { Rng } from './rng.js';

export interface CardCustomer {
  id: string;
  x: number;
  y: number;
  /** Mean and standard deviation of the amounts (std = mean / 2). */
  mean: number;
  std: number;
  /** Mean number of transactions per day (Poisson). */
  perDay: number;
  /** Indices of the terminals within the radius of home (may be empty: such a customer never pays). */
  terminals: Int32Array;
}

export interface CardsPopulation {
  customers: CardCustomer[];
  /** Terminal ids, by index. */
  terminalIds: string[];
}

const pad = (prefix: string, i: number, n: number) => prefix + String(i).padStart(Math.max(5, String(n - 1).length), '0');

export function buildPopulation(terminalRng: Rng, customerRng: Rng, nCustomers: number, nTerminals: number, radius: number): CardsPopulation {
  const grid = CARDS_DEFAULTS.grid;
  const tx = new Float64Array(nTerminals);
  const ty = new Float64Array(nTerminals);
  const terminalIds: string[] = new Array(nTerminals);
  for (let j = 0; j < nTerminals; j++) {
    tx[j] = terminalRng.uniform(0, grid);
    ty[j] = terminalRng.uniform(0, grid);
    terminalIds[j] = pad('t', j, nTerminals);
  }
  // Buckets of side `radius`: the terminals within the radius of a point are in its 3 x 3 buckets.
  const side = Math.max(1, Math.ceil(grid / radius));
  const cell = (v: number) => Math.min(side - 1, Math.floor(v / radius));
  const buckets: number[][] = Array.from({ length: side * side }, () => []);
  for (let j = 0; j < nTerminals; j++) buckets[cell(tx[j]) * side + cell(ty[j])].push(j);
  const r2 = radius * radius;
  const customers: CardCustomer[] = new Array(nCustomers);
  for (let i = 0; i < nCustomers; i++) {
    const x = customerRng.uniform(0, grid);
    const y = customerRng.uniform(0, grid);
    const mean = customerRng.uniform(5, 100);
    const perDay = customerRng.uniform(0, 4);
    const near: number[] = [];
    const cx = cell(x);
    const cy = cell(y);
    for (let a = Math.max(0, cx - 1); a <= Math.min(side - 1, cx + 1); a++) {
      for (let b = Math.max(0, cy - 1); b <= Math.min(side - 1, cy + 1); b++) {
        for (const j of buckets[a * side + b]) {
          const dx = tx[j] - x;
          const dy = ty[j] - y;
          if (dx * dx + dy * dy <= r2) near.push(j);
        }
      }
    }
    near.sort((p, q) => p - q);
    customers[i] = { id: pad('c', i, nCustomers), x, y, mean, std: mean / 2, perDay, terminals: Int32Array.from(near) };
  }
  return { customers, terminalIds };
}
