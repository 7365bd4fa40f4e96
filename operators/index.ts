import { z } from 'zod';
import { buildRegistry } from '../src/util/registry.js';
import * as tumbling from './tumbling.js';
import * as hopping from './hopping.js';
import * as sliding from './sliding.js';
import * as session from './session.js';
import type { WindowContext, WindowCore } from './types.js';
import { internalError } from '../src/errors.js';

interface WindowModule<C> {
  type: string;
  schema: z.ZodType<C>;
  create(config: C, ctx: WindowContext): WindowCore;
}

/** Every window operator, by type. */
export const WINDOWS = buildRegistry<WindowModule<any>>('window operator', [tumbling, hopping, sliding, session]);

/** Config of a pipeline's window: one of the operators' schemas, chosen by `type`. */
export const windowSchema = z.discriminatedUnion('type', [tumbling.schema, hopping.schema, sliding.schema, session.schema]);
export type WindowConfig = z.infer<typeof windowSchema>;

/** Build the window core a config names. */
export function createWindow(config: WindowConfig, ctx: WindowContext): WindowCore {
  const m = WINDOWS.get(config.type);
  if (m === undefined) throw internalError(`unknown window type "${config.type}"`);
  return m.create(config, ctx);
}
