import { createHash } from 'node:crypto';

/**
 * JSON of a value that never throws: BigInts become decimal text and repeated objects "[Circular]".
 * A sink that threw on a payload would fail its batch, and then input positions would never be
 * committed: the value is degraded instead. `undefined` gives "null".
 */
export function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    const seen = new WeakSet<object>();
    return (
      JSON.stringify(value, (_key, v: unknown) => {
        if (typeof v === 'bigint') return v.toString();
        if (typeof v === 'object' && v !== null) {
          if (seen.has(v)) return '[Circular]';
          seen.add(v);
        }
        return v;
      }) ?? 'null'
    );
  }
}

/** JSON with object keys sorted: the same value gives the same text whatever the order keys were written in. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** Short hash of a config value (stable under key order). */
export function configHash(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex').slice(0, 12);
}
