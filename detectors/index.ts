import { z } from 'zod';
import { buildRegistry } from '../src/util/registry.js';
import * as threshold from './threshold.js';
import * as ratio from './ratio.js';
import * as rateOfChange from './rate-of-change.js';
import * as baseline from './baseline.js';
import * as velocity from './velocity.js';
import * as distinct from './distinct.js';
import * as firstSeen from './first-seen.js';
import * as rule from './rule.js';
import * as geoVelocity from './geo-velocity.js';
import * as sequence from './sequence.js';
import * as outlier from './outlier.js';
import * as anomaly from './anomaly.js';
import * as score from './score.js';
import * as model from './model.js';
import type { DetectorContext, DetectorCore } from './types.js';
import { internalError } from '../src/errors.js';

interface DetectorModule<C> {
  type: string;
  schema: z.ZodType<C>;
  create(config: C, ctx: DetectorContext): DetectorCore;
}

/** Every detector, by type: on window results first, then on events, then on other detectors' signals. */
export const DETECTORS = buildRegistry<DetectorModule<any>>('detector', [
  threshold,
  ratio,
  rateOfChange,
  baseline,
  velocity,
  distinct,
  firstSeen,
  rule,
  geoVelocity,
  sequence,
  outlier,
  anomaly,
  score,
  model,
]);

/** Config of one detector: chosen by `type`. */
export const detectorSchema = z.discriminatedUnion('type', [
  threshold.schema,
  ratio.schema,
  rateOfChange.schema,
  baseline.schema,
  velocity.schema,
  distinct.schema,
  firstSeen.schema,
  rule.schema,
  geoVelocity.schema,
  sequence.schema,
  outlier.schema,
  anomaly.schema,
  score.schema,
  model.schema,
]);
export type DetectorConfig = z.infer<typeof detectorSchema>;

/** Build the core of the detector a config names. */
export function createCore(config: DetectorConfig, ctx: DetectorContext): DetectorCore {
  const m = DETECTORS.get(config.type);
  if (m === undefined) throw internalError(`unknown detector type "${config.type}"`);
  return m.create(config, ctx);
}
