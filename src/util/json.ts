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
