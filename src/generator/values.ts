/** The values some fields of each scenario's events take, so a config can be checked against them (a `where` that never matches). */
import type { Scenario } from './index.js';

export const SCENARIO_VALUES: Readonly<Record<Scenario, Readonly<Record<string, readonly string[]>>>> = {
  payments: { type: ['payment', 'transfer', 'login', 'password_change', 'device_enrolled'] },
  telemetry: {},
  cards: {},
};
