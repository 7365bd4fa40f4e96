/** Copies the fields aggregates read from a payload into a reused array. */
export type FieldReader = (payload: Record<string, unknown>, out: unknown[]) => void;

/**
 * Build a reader for a fixed list of fields (undefined entries stay undefined).
 *
 * Generated code on purpose: a shared `payload[field]` site sees every field name of every aggregate
 * and goes megamorphic, while one literal property load per field keeps V8's inline caches
 * monomorphic on the payload's shape; on the hot path this is several times cheaper. Field names are
 * embedded as JSON string literals, so no config value can inject code.
 */
export function compileReader(fields: ReadonlyArray<string | undefined>): FieldReader {
  const body = fields.map((f, i) => (f === undefined ? `out[${i}] = undefined;` : `out[${i}] = p[${JSON.stringify(f)}];`)).join('\n');
  return new Function('p', 'out', body) as FieldReader;
}
