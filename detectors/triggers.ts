import type { WindowResult } from '../src/types.js';
import { resultIdentity } from './threshold.js';
import type { Signal } from './types.js';

/**
 * The triggering events of signals raised on window results (see `Alert.trigger`): for a sliding
 * window, the event its evaluation belongs to; for other windows, the last recorded contributing
 * event when the result's evidence holds all its events (`count` within the evidence limit); unknown
 * otherwise. The results are indexed on the first signal only (signals are rare).
 */
export class ResultTriggers {
  private readonly index = new Map<string, WindowResult>();

  constructor(results: readonly WindowResult[]) {
    for (const r of results) this.index.set(`${r.key}\u0000${resultIdentity(r)}\u0000${r.revision}`, r);
  }

  /** The trigger of a signal raised on one of the results, or undefined. */
  of(sig: Signal): string | undefined {
    const r = this.index.get(`${sig.key}\u0000${sig.identity}\u0000${sig.revision}`);
    if (r === undefined) return undefined;
    if (r.trigger !== undefined) return r.trigger;
    return r.count > 0 && r.evidence.length === r.count ? r.evidence[r.evidence.length - 1] : undefined;
  }
}
