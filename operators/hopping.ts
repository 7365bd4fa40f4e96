import { z } from 'zod';
import { durationSchema, positiveDurationSchema } from '../src/time/duration.js';
import { FixedWindows } from './fixed-windows.js';
import { DEFAULT_MAX_KEYS, DEFAULT_MAX_WINDOWS_PER_KEY, MAX_KEYS_DESCRIPTION, MAX_WINDOWS_PER_KEY_DESCRIPTION, type WindowContext, type WindowCore } from './types.js';

export const type = 'hopping';

/**
 * Hopping windows: fixed-size windows that start every `advance`; an event belongs to size / advance windows.
 * Example: `window: { type: hopping, size: 1h, advance: 5m }`
 */
export const schema = z
  .strictObject({
    type: z.literal(type),
    size: positiveDurationSchema.describe('Window length, e.g. "1h".'),
    advance: positiveDurationSchema.describe('Distance between the starts of consecutive windows; 0 < advance <= size. Windows are [k * advance + offset, k * advance + offset + size).'),
    offset: durationSchema.default(0).describe('Shift of the window boundaries from the epoch; smaller than advance.'),
    grace: durationSchema.default(0).describe('How long after its end a window still accepts late events (each re-emits the window as an update).'),
    maxKeys: z.number().int().positive().optional().describe(`${MAX_KEYS_DESCRIPTION} Default ${DEFAULT_MAX_KEYS}.`),
    maxWindowsPerKey: z.number().int().positive().optional().describe(`${MAX_WINDOWS_PER_KEY_DESCRIPTION} Default ${DEFAULT_MAX_WINDOWS_PER_KEY}.`),
  })
  .refine((c) => c.advance <= c.size, { message: 'advance must not be larger than size', path: ['advance'] })
  .refine((c) => c.offset < c.advance, { message: 'offset must be smaller than advance', path: ['offset'] })
  .refine((c) => Math.ceil(c.size / c.advance) <= (c.maxWindowsPerKey ?? DEFAULT_MAX_WINDOWS_PER_KEY), {
    message: `each event would fall into more windows (size / advance) than maxWindowsPerKey allows (default ${DEFAULT_MAX_WINDOWS_PER_KEY}): raise advance or maxWindowsPerKey`,
    path: ['advance'],
  });

export type Config = z.infer<typeof schema>;

/** Build the pure hopping-window core. */
export function create(config: Config, ctx: WindowContext): WindowCore {
  return new FixedWindows({ size: config.size, advance: config.advance, offset: config.offset, grace: config.grace, maxKeys: config.maxKeys, maxWindowsPerKey: config.maxWindowsPerKey }, ctx);
}
