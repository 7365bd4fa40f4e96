import { VigieError } from '../errors.js';

/**
 * Per-key state with a cap: a Map kept in order of last activity (touching a key moves it to the end),
 * so the least recently active key is evicted first and, since inputs arrive in event-time order,
 * expiry by time walks from the front and stops at the first key still alive.
 */
export class KeyedState<T> {
  private map = new Map<string, T>();
  evicted = 0;

  constructor(private readonly maxKeys: number) {}

  get size(): number {
    return this.map.size;
  }

  /** The state of a key, marked as just active; undefined when absent. */
  touch(key: string): T | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  /** Read without changing the order. */
  peek(key: string): T | undefined {
    return this.map.get(key);
  }

  /** Insert or replace a key as the most recently active, evicting the least recent beyond the cap. */
  set(key: string, value: T): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.maxKeys) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
      this.evicted++;
    }
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  /** Drop keys from the least recently active while `dead(state)`; stops at the first live one. */
  expireFront(dead: (v: T) => boolean): void {
    for (const [k, v] of this.map) {
      if (!dead(v)) break;
      this.map.delete(k);
    }
  }

  entries(): IterableIterator<[string, T]> {
    return this.map.entries();
  }

  snapshot<S>(encode: (v: T) => S): { evicted: number; keys: Array<[string, S]> } {
    const keys: Array<[string, S]> = [];
    for (const [k, v] of this.map) keys.push([k, encode(v)]);
    return { evicted: this.evicted, keys };
  }

  restore<S>(s: unknown, decode: (v: S) => T, what: string): void {
    const snap = s as { evicted?: unknown; keys?: unknown };
    if (snap === null || typeof snap !== 'object' || typeof snap.evicted !== 'number' || !Array.isArray(snap.keys)) {
      throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot (expected { evicted, keys })`);
    }
    this.map = new Map();
    for (const entry of snap.keys as unknown[]) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot entry`);
      this.map.set(entry[0], decode(entry[1] as S));
    }
    this.evicted = snap.evicted;
  }
}
