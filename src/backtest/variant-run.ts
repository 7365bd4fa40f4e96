/** One config's run as the backtest keeps it, and how outputs name it. */
import type { LoadedConfig } from '../config/load.js';
import type { Summary } from '../engine/engine.js';
import type { Alert } from '../types.js';
import type { ValueSample } from './judged-values.js';

export interface VariantRun {
  loaded: LoadedConfig;
  summary: Summary;
  /** Every alert, cooldown summaries included, in output order. */
  alerts: Alert[];
  /** Per threshold detector, the values its aggregate took (only when asked). */
  evaluated: Map<string, ValueSample>;
}

/** What identifies a run in outputs. */
export interface RunInfo {
  config: string;
  version: string;
  events: number;
  durationMs: number;
}

/** Label a run for outputs. */
export function runInfo(r: VariantRun): RunInfo {
  let events = 0;
  for (const s of Object.values(r.summary.sources)) events += s.events;
  return { config: r.loaded.file, version: r.loaded.version, events, durationMs: r.summary.durationMs };
}
