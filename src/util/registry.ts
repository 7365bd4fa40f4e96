import { internalError } from '../errors.js';
/** A component module: its `type` and the rest of what it exports. */
export interface Typed {
  readonly type: string;
}

/**
 * Build an explicit registry (type -> module). A duplicate type is a programming error,
 * caught at start-up rather than by one module silently shadowing another.
 */
export function buildRegistry<M extends Typed>(kind: string, modules: readonly M[]): ReadonlyMap<string, M> {
  const map = new Map<string, M>();
  for (const m of modules) {
    if (map.has(m.type)) throw internalError(`duplicate ${kind} type "${m.type}"`);
    map.set(m.type, m);
  }
  return map;
}
