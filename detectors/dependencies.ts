import type { VEvent } from '../src/types.js';
import { VigieError } from '../src/errors.js';
import type { DetectorConfig } from './index.js';
import type { Signal } from './types.js';

/** A signal handed to a `score` detector, in the shape of an event (its payload names the detector). */
export function signalEvent(detector: string, s: Signal): VEvent {
  return {
    time: s.time,
    id: s.identity,
    partition: 0,
    offset: 0,
    source: 'signal',
    payload: { detector, observed: s.observed, score: s.score, evidence: s.evidence },
  };
}

/**
 * Detectors in an order where each comes after those it requires or scores, so that signals of one
 * event or result are seen in dependency order. Unknown names and cycles are config errors.
 */
export function topoOrder(configs: readonly DetectorConfig[], pipeline: string): DetectorConfig[] {
  const byName = new Map<string, DetectorConfig>();
  for (const c of configs) {
    if (byName.has(c.name)) throw new VigieError('VIGIE_ERR_CONFIG', `pipeline "${pipeline}": duplicate detector name "${c.name}"`);
    byName.set(c.name, c);
  }
  const deps = (c: DetectorConfig): string[] => [
    ...(c.requires?.detectors ?? []),
    ...(((c as { inputs?: Array<{ detector: string }> }).inputs ?? []).map((i) => i.detector)),
    // A model reads the strengths other detectors gave the same event: it is judged after them.
    ...((c as { features?: Array<{ detector?: string; pipeline?: string }> }).features ?? []).flatMap((f) => (f.detector === undefined || f.pipeline !== undefined ? [] : [f.detector])),
  ];
  for (const c of configs) {
    for (const d of deps(c)) {
      if (!byName.has(d)) {
        throw new VigieError('VIGIE_ERR_CONFIG', `detector "${c.name}": refers to detector "${d}", which is not in pipeline "${pipeline}" (detectors: ${[...byName.keys()].join(', ')})`);
      }
      if (d === c.name) throw new VigieError('VIGIE_ERR_CONFIG', `detector "${c.name}": refers to itself`);
    }
  }
  const out: DetectorConfig[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (c: DetectorConfig, path: string[]): void => {
    const st = state.get(c.name);
    if (st === 'done') return;
    if (st === 'visiting') throw new VigieError('VIGIE_ERR_CONFIG', `detectors ${[...path, c.name].join(' -> ')}: circular reference`);
    state.set(c.name, 'visiting');
    for (const d of deps(c)) visit(byName.get(d) as DetectorConfig, [...path, c.name]);
    state.set(c.name, 'done');
    out.push(c);
  };
  for (const c of configs) visit(c, []);
  return out;
}
