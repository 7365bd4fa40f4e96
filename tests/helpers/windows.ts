import { createAggregates } from '../../operators/aggregates/index.js';
import type { WindowContext, WindowCore } from '../../operators/types.js';
import type { VEvent, WindowResult } from '../../src/types.js';

/** The aggregates the window tests compute: count and the sum, min and max of `v`. */
export const AGGS = [
  { name: 'n', fn: 'count' },
  { name: 's', fn: 'sum', field: 'v' },
  { name: 'lo', fn: 'min', field: 'v' },
  { name: 'hi', fn: 'max', field: 'v' },
] as const;

interface WindowModule {
  type: string;
  schema: { parse(input: unknown): unknown };
  create(config: never, ctx: WindowContext): WindowCore;
}

/** A window core of `module` with AGGS, from a partial config (parsed, so defaults apply). */
export function makeCore(module: WindowModule, cfg: Record<string, unknown>, evidenceLimit = 20): WindowCore {
  const config = module.schema.parse({ type: module.type, ...cfg });
  return (module.create as (c: unknown, ctx: WindowContext) => WindowCore)(config, { pipeline: 'p', aggregates: createAggregates(AGGS), evidenceLimit });
}

let offset = 0;
/** An event at `time` with optional value `v` and id (default: a fresh `e<n>`). */
export function ev(time: number, v: number | undefined = undefined, id?: string): VEvent {
  const o = offset++;
  return { time, id: id ?? `e${o}`, partition: 0, offset: o, source: 'src', payload: v === undefined ? {} : { v } };
}

/** The WindowCore contract: advance to the event's W first (when it moved), then add. */
export function feed(c: WindowCore, key: string, e: VEvent, w: number, out: WindowResult[]): boolean {
  if (w > c.watermark) c.advance(w, out);
  return c.add(key, e, out);
}

/** Results as an order-free list of strings. */
export const canon = (rs: WindowResult[]): string[] => rs.map((r) => JSON.stringify(r)).sort();

/** Results grouped by key, each in emission order. */
export const perKey = (rs: WindowResult[]): Map<string, string[]> => {
  const m = new Map<string, string[]>();
  for (const r of rs) m.set(r.key, [...(m.get(r.key) ?? []), JSON.stringify(r)]);
  return m;
};
