import { z } from 'zod';
import { buildRegistry } from '../src/util/registry.js';
import * as threshold from './threshold.js';
import type { Detector, DetectorContext } from './types.js';

interface DetectorModule<C> {
  type: string;
  schema: z.ZodType<C>;
  create(config: C, ctx: DetectorContext): Detector;
}

/** Every detector, by type. */
export const DETECTORS = buildRegistry<DetectorModule<any>>('detector', [threshold]);

/** Config of one detector: chosen by `type`. */
export const detectorSchema = z.discriminatedUnion('type', [threshold.schema]);
export type DetectorConfig = z.infer<typeof detectorSchema>;

/** Build the detector a config names. */
export function createDetector(config: DetectorConfig, ctx: DetectorContext): Detector {
  const m = DETECTORS.get(config.type);
  if (m === undefined) throw new Error(`unknown detector type "${config.type}"`);
  return m.create(config, ctx);
}
