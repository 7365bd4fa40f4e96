import { VigieError } from '../errors.js';
import type { ChangedKeys } from './key-order.js';

/** Per-key checkpoint entries as parallel lists (no pair allocated per key): `entries[i]` is the entry of `keys[i]`. */
export interface KeyedEntries {
  keys: string[];
  entries: unknown[];
}

/** A new, empty {@link KeyedEntries}. */
export function keyedEntries(): KeyedEntries {
  return { keys: [], entries: [] };
}

/** A key's entry in the recency list. */
interface Entry<T> {
  key: string;
  value: T;
  /** When the key was last active, in this state's own sequence (checkpoints rebuild the order from it). */
  stamp: number;
  prev: Entry<T> | undefined;
  next: Entry<T> | undefined;
}

/** What KeyedState needs of its index from key to entry: a Map, or one slot of a {@link SharedKeys}. */
interface KeyIndex<E> {
  readonly size: number;
  get(key: string): E | undefined;
  set(key: string, entry: E): unknown;
  delete(key: string): unknown;
}

/** A key's entries in the KeyedStates that share an index, one slot each; `n` of them present. */
interface Row {
  n: number;
  e: unknown[];
}

/**
 * One Map from key to the entries of several KeyedStates (one slot each), for states that see the same
 * keys in turn (the detectors of a pipeline, for each event): the key is looked up once for all of them,
 * the last row found being remembered. Each state keeps its own order, cap and expiry.
 */
export class SharedKeys {
  private readonly rows = new Map<string, Row>();
  private lastKey: string | undefined;
  private lastRow: Row | undefined;
  private width = 0;

  /** The index of a new KeyedState sharing these keys. */
  slot<E>(): KeyIndex<E> {
    return new SharedSlot<E>(this, this.width++);
  }

  /** The row of `key`, undefined when no state holds it. */
  row(key: string): Row | undefined {
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.lastRow = this.rows.get(key);
    }
    return this.lastRow;
  }

  create(key: string): Row {
    const row: Row = { n: 0, e: new Array<unknown>(this.width).fill(undefined) };
    this.rows.set(key, row);
    this.lastKey = key;
    this.lastRow = row;
    return row;
  }

  remove(key: string): void {
    this.rows.delete(key);
    if (key === this.lastKey) this.lastRow = undefined;
  }

  /** Keys held by at least one state (tests, introspection). */
  get size(): number {
    return this.rows.size;
  }
}

class SharedSlot<E> implements KeyIndex<E> {
  size = 0;

  constructor(
    private readonly keys: SharedKeys,
    private readonly i: number,
  ) {}

  get(key: string): E | undefined {
    return this.keys.row(key)?.e[this.i] as E | undefined;
  }

  set(key: string, entry: E): void {
    const row = this.keys.row(key) ?? this.keys.create(key);
    if (row.e[this.i] === undefined) {
      row.n++;
      this.size++;
    }
    row.e[this.i] = entry;
  }

  delete(key: string): void {
    const row = this.keys.row(key);
    if (row === undefined || row.e[this.i] === undefined) return;
    row.e[this.i] = undefined;
    this.size--;
    if (--row.n === 0) this.keys.remove(key);
  }
}

/**
 * Per-key state with a cap, kept in order of last activity (touching a key moves it to the end), so the
 * least recently active key is evicted first and, since inputs arrive in event-time order, expiry by time
 * walks from the front and stops at the first key still alive.
 * A Map finds a key's entry; the order is a doubly linked list through the entries, so that touching a
 * key relinks one entry instead of deleting and re-inserting it in the Map (the hot path of every keyed
 * detector, once per event).
 */
export class KeyedState<T> {
  private readonly map: KeyIndex<Entry<T>>;
  /** Least recently active. */
  private head: Entry<T> | undefined;
  /** Most recently active. */
  private tail: Entry<T> | undefined;
  evicted = 0;
  /** The last stamp given. */
  private seq = 0;
  /** Where changed keys are noted, once {@link track} was called (per-key checkpoints). */
  private changes: ChangedKeys | undefined;

  /** With `shared`, the key index is one slot of it (see {@link SharedKeys}); else a Map of its own. */
  constructor(
    private readonly maxKeys: number,
    shared?: SharedKeys,
  ) {
    this.map = shared === undefined ? new Map<string, Entry<T>>() : shared.slot<Entry<T>>();
  }

  get size(): number {
    return this.map.size;
  }

  /** The state of a key, marked as just active; undefined when absent. */
  touch(key: string): T | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    this.changes?.mark(key);
    if (entry !== this.tail) {
      this.unlink(entry);
      this.append(entry);
    }
    return entry.value;
  }

  /**
   * Note every change of a key from now on in `changes`: what `touch`, `set`, `delete`, expiry and
   * eviction do, and what `peek` returns (a caller may change a state read through it).
   */
  track(changes: ChangedKeys): void {
    this.changes = changes;
  }

  /** The least recently active key's state (the next to expire or be evicted), without changing the order. */
  oldest(): T | undefined {
    return this.head?.value;
  }

  /** Read without changing the order (counted as a change when tracked, see {@link track}). */
  peek(key: string): T | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    this.changes?.mark(key);
    return entry.value;
  }

  /**
   * Insert or replace a key as the most recently active, evicting the least recent beyond the cap.
   * Returns true when the key was absent (one lookup tells what `peek` then `set` would).
   */
  set(key: string, value: T): boolean {
    this.changes?.mark(key);
    const entry = this.map.get(key);
    if (entry !== undefined) {
      entry.value = value;
      if (entry !== this.tail) {
        this.unlink(entry);
        this.append(entry);
      }
      return false;
    }
    const created: Entry<T> = { key, value, stamp: 0, prev: undefined, next: undefined };
    this.map.set(key, created);
    this.append(created);
    while (this.map.size > this.maxKeys) {
      const oldest = this.head as Entry<T>;
      this.unlink(oldest);
      this.map.delete(oldest.key);
      this.changes?.mark(oldest.key);
      this.evicted++;
    }
    return true;
  }

  delete(key: string): void {
    const entry = this.map.get(key);
    if (entry === undefined) return;
    this.unlink(entry);
    this.map.delete(key);
    this.changes?.mark(key);
  }

  /** Drop keys from the least recently active while `dead(state)`; stops at the first live one. */
  expireFront(dead: (v: T) => boolean): void {
    for (let e = this.head; e !== undefined; e = this.head) {
      if (!dead(e.value)) break;
      // `dead` may have removed it already.
      if (this.map.get(e.key) === e) {
        this.unlink(e);
        this.map.delete(e.key);
        this.changes?.mark(e.key);
      }
    }
  }

  /**
   * Drop keys from the least recently active while `timeOf(state) < bound`; stops at the first at or
   * after it. The same as `expireFront((v) => timeOf(v) < bound)` with `timeOf` made once: nothing is
   * allocated per call (detectors call this on every move of the watermark).
   */
  expireBefore(timeOf: (v: T) => number, bound: number): void {
    for (let e = this.head; e !== undefined; e = this.head) {
      if (!(timeOf(e.value) < bound)) break;
      this.unlink(e);
      this.map.delete(e.key);
      this.changes?.mark(e.key);
    }
  }

  /** Keys and states, least recently active first. */
  *entries(): IterableIterator<[string, T]> {
    for (let e = this.head; e !== undefined; ) {
      const next = e.next;
      yield [e.key, e.value];
      e = next;
    }
  }

  snapshot<S>(encode: (v: T) => S): { evicted: number; keys: Array<[string, S]> } {
    const keys: Array<[string, S]> = [];
    for (let e = this.head; e !== undefined; e = e.next) keys.push([e.key, encode(e.value)]);
    return { evicted: this.evicted, keys };
  }

  restore<S>(s: unknown, decode: (v: S) => T, what: string): void {
    const snap = s as { evicted?: unknown; keys?: unknown };
    if (snap === null || typeof snap !== 'object' || typeof snap.evicted !== 'number' || !Array.isArray(snap.keys)) {
      throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot (expected { evicted, keys })`);
    }
    for (let e = this.head; e !== undefined; e = e.next) this.map.delete(e.key);
    this.head = this.tail = undefined;
    for (const entry of snap.keys as unknown[]) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot entry`);
      const key = entry[0];
      const value = decode(entry[1] as S);
      const known = this.map.get(key);
      if (known !== undefined) {
        // A repeated key: the later entry wins, at the place of the first (as Map.set does).
        known.value = value;
        continue;
      }
      const created: Entry<T> = { key, value, stamp: 0, prev: undefined, next: undefined };
      this.map.set(key, created);
      this.append(created);
    }
    this.evicted = snap.evicted;
  }

  /** The keys held, least recently active first. */
  *keys(): IterableIterator<string> {
    for (let e = this.head; e !== undefined; e = e.next) yield e.key;
  }

  /** One key's entry of a per-key checkpoint: [stamp, encoded state]; undefined when the key is not held. */
  snapshotKey<S>(key: string, encode: (v: T) => S): [number, S] | undefined {
    const e = this.map.get(key);
    return e === undefined ? undefined : [e.stamp, encode(e.value)];
  }

  /** What a per-key checkpoint keeps beside the keys' entries. */
  snapshotMeta(): { evicted: number; seq: number } {
    return { evicted: this.evicted, seq: this.seq };
  }

  /**
   * Rebuild from a per-key checkpoint: the meta part and the entries of {@link snapshotKey} with their
   * keys, in any order (the stamps give the order back).
   */
  restoreKeys<S>(meta: unknown, from: KeyedEntries, decode: (v: S) => T, what: string): void {
    const m = meta as { evicted?: unknown; seq?: unknown } | null;
    if (m === null || typeof m !== 'object' || typeof m.evicted !== 'number' || typeof m.seq !== 'number') {
      throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot (expected { evicted, seq })`);
    }
    for (let e = this.head; e !== undefined; e = e.next) this.map.delete(e.key);
    this.head = this.tail = undefined;
    const { keys, entries } = from;
    const n = entries.length;
    // First in the order given (the order the decoded entries lie in memory), then linked by stamp.
    const made = new Array<Entry<T> | undefined>(n);
    const stamps = new Float64Array(n);
    let seq = m.seq;
    for (let i = 0; i < n; i++) {
      const entry = entries[i];
      if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'number') throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot entry for a key`);
      const key = keys[i];
      const stamp = (stamps[i] = entry[0]);
      const value = decode(entry[1] as S);
      const known = this.map.get(key);
      if (known !== undefined) {
        // A repeated key: the entry of the later stamp wins.
        if (stamp >= known.stamp) {
          known.value = value;
          known.stamp = stamp;
        }
        continue;
      }
      const created: Entry<T> = { key, value, stamp, prev: undefined, next: undefined };
      this.map.set(key, created);
      made[i] = created;
      if (stamp > seq) seq = stamp;
    }
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => stamps[a] - stamps[b]);
    for (let o = 0; o < n; o++) {
      const e = made[order[o]];
      if (e !== undefined) this.linkLast(e);
    }
    this.seq = seq;
    this.evicted = m.evicted;
  }

  private unlink(e: Entry<T>): void {
    if (e.prev === undefined) this.head = e.next;
    else e.prev.next = e.next;
    if (e.next === undefined) this.tail = e.prev;
    else e.next.prev = e.prev;
    e.prev = e.next = undefined;
  }

  private append(e: Entry<T>): void {
    e.stamp = ++this.seq;
    this.linkLast(e);
  }

  private linkLast(e: Entry<T>): void {
    e.prev = this.tail;
    e.next = undefined;
    if (this.tail === undefined) this.head = e;
    else this.tail.next = e;
    this.tail = e;
  }
}
