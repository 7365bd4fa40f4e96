import { z } from 'zod';
import { durationSchema, positiveDurationSchema } from '../src/time/duration.js';
import { FixedWindows } from './fixed-windows.js';
import { DEFAULT_MAX_KEYS, DEFAULT_MAX_WINDOWS_PER_KEY, MAX_KEYS_DESCRIPTION, MAX_WINDOWS_PER_KEY_DESCRIPTION, type WindowContext, type WindowCore } from './types.js';

export const type = 'tumbling';

/**
 * Tumbling windows: fixed-size, non-overlapping, aligned on the epoch (plus offset).
 * Example: `window: { type: tumbling, size: 5m, grace: 30s }`
 */
export const schema = z
  .strictObject({
    type: z.literal(type),
    size: positiveDurationSchema.describe('Window length, e.g. "5m". An event at t belongs to [start, start + size) with start = floor((t - offset) / size) * size + offset.'),
    offset: durationSchema.default(0).describe('Shift of the window boundaries from the epoch, e.g. "1h" with size "1d" for days starting at 01:00 UTC. Must be smaller than size.'),
    grace: durationSchema.default(0).describe('How long after its end a window still accepts late events; each accepted late event re-emits the window as an update with revision + 1. 0: windows fire once.'),
    maxKeys: z.number().int().positive().optional().describe(`${MAX_KEYS_DESCRIPTION} Default ${DEFAULT_MAX_KEYS}.`),
    maxWindowsPerKey: z.number().int().positive().optional().describe(`${MAX_WINDOWS_PER_KEY_DESCRIPTION} Default ${DEFAULT_MAX_WINDOWS_PER_KEY}.`),
  })
  .refine((c) => c.offset < c.size, { message: 'offset must be smaller than size', path: ['offset'] });

export type Config = z.infer<typeof schema>;

/** Build the pure tumbling-window core. */
export function create(config: Config, ctx: WindowContext): WindowCore {
  return new FixedWindows({ size: config.size, advance: config.size, offset: config.offset, grace: config.grace, maxKeys: config.maxKeys, maxWindowsPerKey: config.maxWindowsPerKey }, ctx);
}
