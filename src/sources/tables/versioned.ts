/**
 * The pure core of a reference table: per row key, its versions ordered by validity time. A lookup
 * at time t returns the version with the largest validity time <= t (the row valid at t). Bounded:
 * at most `maxVersions` versions per key (the oldest are dropped first) and `maxRows` keys (the key
 * written least recently is dropped first). Nothing here does I/O; loaders fill it.
 */

/** A row of a table: field -> value. `null` marks a deletion (a tombstone) from its validity time on. */
export type Row = Readonly<Record<string, unknown>>;

export interface TableBounds {
  /** Versions kept per key at most. */
  maxVersions: number;
  /** Keys kept at most. */
  maxRows: number;
}

interface Version {
  time: number;
  row: Row | null;
}

export class VersionedTable {
  private readonly rows = new Map<string, Version[]>();
  /** Versions dropped by `maxVersions` since created. */
  droppedVersions = 0;
  /** Keys dropped by `maxRows` since created. */
  droppedRows = 0;
  /**
   * The key read last and its versions (undefined: none): readers often ask about the same key several
   * times in a row (counts of one terminal's reports over 7 and 28 days). Reset by every write.
   */
  private lastKey: string | undefined;
  private lastVersions: Version[] | undefined;

  constructor(readonly bounds: TableBounds) {}

  /** Number of keys held. */
  get size(): number {
    return this.rows.size;
  }

  /**
   * Record `row` (null: deleted) as valid from `time` on. A version at the same time as one held
   * replaces it (last write wins). Tables without versioning give every row the same time.
   */
  put(key: string, time: number, row: Row | null): void {
    this.lastKey = undefined;
    let versions = this.rows.get(key);
    if (versions === undefined) {
      versions = [];
      if (this.rows.size >= this.bounds.maxRows) this.evictOldestKey();
    } else {
      // Written last: moves to the end of the eviction order.
      this.rows.delete(key);
    }
    this.rows.set(key, versions);
    // Versions are ordered by time; most updates come last, so search from the end.
    let i = versions.length;
    while (i > 0 && versions[i - 1].time > time) i--;
    if (i > 0 && versions[i - 1].time === time) versions[i - 1] = { time, row };
    else versions.splice(i, 0, { time, row });
    const over = versions.length - this.bounds.maxVersions;
    if (over > 0) {
      versions.splice(0, over);
      this.droppedVersions += over;
    }
  }

  /** Forget every version of a key (a deletion in a table without versioning). */
  delete(key: string): void {
    this.lastKey = undefined;
    this.rows.delete(key);
  }

  /** The row valid at time `t`: the version with the largest validity time <= t, unless it is a deletion. */
  get(key: string, t: number): Row | undefined {
    const versions = this.versionsOf(key);
    if (versions === undefined) return undefined;
    const lo = upper(versions, t);
    if (lo === 0) return undefined;
    return versions[lo - 1].row ?? undefined;
  }

  /** How many versions of `key` (deletions included) have a validity time in (from, to]. */
  count(key: string, from: number, to: number): number {
    const versions = this.versionsOf(key);
    if (versions === undefined) return 0;
    return upper(versions, to) - upper(versions, from);
  }

  /** The latest version of a key, whatever its time (tables without `time`). */
  current(key: string): Row | undefined {
    const versions = this.rows.get(key);
    if (versions === undefined || versions.length === 0) return undefined;
    return versions[versions.length - 1].row ?? undefined;
  }

  /** Number of versions held, over every key. */
  versionCount(): number {
    let n = 0;
    for (const v of this.rows.values()) n += v.length;
    return n;
  }

  private versionsOf(key: string): Version[] | undefined {
    if (key === this.lastKey) return this.lastVersions;
    const versions = this.rows.get(key);
    this.lastKey = key;
    this.lastVersions = versions;
    return versions;
  }

  private evictOldestKey(): void {
    const first = this.rows.keys().next();
    if (first.done) return;
    this.rows.delete(first.value);
    this.droppedRows++;
  }
}

/** Number of versions with time <= t (versions are ordered by time): binary search. */
function upper(versions: readonly Version[], t: number): number {
  let lo = 0;
  let hi = versions.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (versions[mid].time <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
