/**
 * How the runtime takes a detector's judgements (`Emit.judged`): it notes the strength and value of
 * the input being judged (for the detectors judged after it, `PeerJudgements`), records them for other
 * pipelines when one reads them (board.ts), and publishes them on the `scores` output when asked.
 */
import type { Emit } from './types.js';

export interface JudgedSlot {
  /** Index of the detector in its set. */
  i: number;
  strengths: Float64Array;
  observedNow: Float64Array;
  crossedNow: Float64Array;
  /** Records the judgement for other pipelines (undefined: nobody reads it). */
  record?: (key: string, time: number, strength: number, observed: number) => void;
  /** Publishes the judgement (undefined: not published). */
  publish?: (key: string, time: number, observed: number, score: number, strength: number, anomalous: boolean, ref: string | undefined) => void;
}

/** The `judged` of one detector; the cheapest variant that does what is needed (it runs per event). */
export function judgedOf(s: JudgedSlot): Emit['judged'] {
  const { i, strengths, observedNow, crossedNow, record, publish } = s;
  if (publish !== undefined) {
    return (key, time, observed, score, strength, anomalous, ref) => {
      strengths[i] = strength;
      observedNow[i] = observed;
      crossedNow[i] = anomalous ? 1 : 0;
      record?.(key, time, strength, observed);
      publish(key, time, observed, score, strength, anomalous, ref);
    };
  }
  if (record !== undefined) {
    return (key, time, observed, _score, strength, anomalous) => {
      strengths[i] = strength;
      observedNow[i] = observed;
      crossedNow[i] = anomalous ? 1 : 0;
      record(key, time, strength, observed);
    };
  }
  return (_key, _time, observed, _score, strength, anomalous) => {
    strengths[i] = strength;
    observedNow[i] = observed;
    crossedNow[i] = anomalous ? 1 : 0;
  };
}
