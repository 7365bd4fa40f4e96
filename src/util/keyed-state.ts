import { VigieError } from '../errors.js';

/** A key's entry in the recency list. */
interface Entry<T> {
  key: string;
  value: T;
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
    if (entry !== this.tail) {
      this.unlink(entry);
      this.append(entry);
    }
    return entry.value;
  }

  /** The least recently active key's state (the next to expire or be evicted), without changing the order. */
  oldest(): T | undefined {
    return this.head?.value;
  }

  /** Read without changing the order. */
  peek(key: string): T | undefined {
    return this.map.get(key)?.value;
  }

  /**
   * Insert or replace a key as the most recently active, evicting the least recent beyond the cap.
   * Returns true when the key was absent (one lookup tells what `peek` then `set` would).
   */
  set(key: string, value: T): boolean {
    const entry = this.map.get(key);
    if (entry !== undefined) {
      entry.value = value;
      if (entry !== this.tail) {
        this.unlink(entry);
        this.append(entry);
      }
      return false;
    }
    const created: Entry<T> = { key, value, prev: undefined, next: undefined };
    this.map.set(key, created);
    this.append(created);
    while (this.map.size > this.maxKeys) {
      const oldest = this.head as Entry<T>;
      this.unlink(oldest);
      this.map.delete(oldest.key);
      this.evicted++;
    }
    return true;
  }

  delete(key: string): void {
    const entry = this.map.get(key);
    if (entry === undefined) return;
    this.unlink(entry);
    this.map.delete(key);
  }

  /** Drop keys from the least recently active while `dead(state)`; stops at the first live one. */
  expireFront(dead: (v: T) => boolean): void {
    for (let e = this.head; e !== undefined; e = this.head) {
      if (!dead(e.value)) break;
      // `dead` may have removed it already.
      if (this.map.get(e.key) === e) {
        this.unlink(e);
        this.map.delete(e.key);
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
      const created: Entry<T> = { key, value, prev: undefined, next: undefined };
      this.map.set(key, created);
      this.append(created);
    }
    this.evicted = snap.evicted;
  }

  private unlink(e: Entry<T>): void {
    if (e.prev === undefined) this.head = e.next;
    else e.prev.next = e.next;
    if (e.next === undefined) this.tail = e.prev;
    else e.next.prev = e.prev;
    e.prev = e.next = undefined;
  }

  private append(e: Entry<T>): void {
    e.prev = this.tail;
    e.next = undefined;
    if (this.tail === undefined) this.head = e;
    else this.tail.next = e;
    this.tail = e;
  }
}
