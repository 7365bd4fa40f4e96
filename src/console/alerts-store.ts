/**
 * Reading alerts back from the redis sink's streams, newest first. Every read is a bounded scan
 * (XREVRANGE in pages, at most `scanLimit` entries per stream and request): the answer says how many
 * entries were looked at and whether older ones were left unread.
 */
import type { RedisClient } from '../redis/connection.js';
import { alertOfFields, parseAlertEntry, type StoredAlert } from './alert-entry.js';
import { scanBackward } from './stream-scan.js';

export interface AlertFilter {
  detector?: string;
  severity?: string;
  key?: string;
  /** Event time bounds, ms since the epoch (since inclusive, until exclusive). */
  since?: number;
  until?: number;
}

export interface ScanInfo {
  /** Entries read. */
  scanned: number;
  /** True when a stream held older entries than the scan could read. */
  truncated: boolean;
}

const PAGE = 500;
export const DEFAULT_SCAN_LIMIT = 10_000;
export const HISTORY_LIMIT = 50;

/**
 * The filter on an entry's raw fields, before its JSON fields are decoded (most entries of a filtered
 * scan are not wanted: deciding on the plain fields halves the cost of a scan).
 */
export function fieldsMatch(e: Record<string, string>, f: AlertFilter): boolean {
  if (f.since !== undefined || f.until !== undefined) {
    const t = Number(e.eventTime);
    if ((f.since !== undefined && !(t >= f.since)) || (f.until !== undefined && !(t < f.until))) return false;
  }
  return (f.detector === undefined || e.detector === f.detector) && (f.severity === undefined || e.severity === f.severity) && (f.key === undefined || e.key === f.key);
}

/** The same filter on a decoded alert (the live feed's). */
export function matches(a: StoredAlert, f: AlertFilter): boolean {
  return fieldsMatch({ detector: a.detector, severity: a.severity, key: a.key, eventTime: String(a.eventTime) }, f);
}

/**
 * Entry ids compared as (milliseconds, sequence): newest first. Within one stream this is the order
 * of writing; entries of two streams written in the same millisecond have no order between them.
 */
export function newestFirst(a: { entryId: string }, b: { entryId: string }): number {
  const [am, as] = a.entryId.split('-').map(Number);
  const [bm, bs] = b.entryId.split('-').map(Number);
  return bm - am || bs - as;
}

const ENTRY_ID = /^\d+-\d+$/;

export class AlertsStore {
  constructor(
    private readonly redis: RedisClient,
    readonly streams: readonly string[],
    private readonly scanLimit = DEFAULT_SCAN_LIMIT,
  ) {}

  /** The newest `limit` alerts matching the filter, over every stream. */
  async list(filter: AlertFilter, limit: number): Promise<{ alerts: StoredAlert[] } & ScanInfo> {
    const info: ScanInfo = { scanned: 0, truncated: false };
    const found: StoredAlert[] = [];
    await Promise.all(
      this.streams.map((stream) => {
        let n = 0;
        // Newest first within a stream: its first `limit` matches are all the merge can use.
        return this.scan(
          stream,
          info,
          (a) => {
            found.push(a);
            return ++n < limit;
          },
          (e) => fieldsMatch(e, filter),
        );
      }),
    );
    return { alerts: found.sort(newestFirst).slice(0, limit), ...info };
  }

  /** One alert, by alert id or by stream entry id, with the other alerts of its key. */
  async get(id: string): Promise<{ alert: StoredAlert; history: StoredAlert[] } | undefined> {
    const alert = ENTRY_ID.test(id) ? await this.byEntryId(id) : await this.byAlertId(id);
    if (alert === undefined) return undefined;
    const { alerts } = await this.list({ key: alert.key }, HISTORY_LIMIT + 1);
    const history = alerts.filter((a) => a.entryId !== alert.entryId || a.stream !== alert.stream).slice(0, HISTORY_LIMIT);
    return { alert, history };
  }

  /** Alerts per detector among the entries scanned (the most recent ones). */
  async counts(filter: AlertFilter): Promise<{ counts: Record<string, number> } & ScanInfo> {
    const info: ScanInfo = { scanned: 0, truncated: false };
    const counts: Record<string, number> = {};
    await Promise.all(
      this.streams.map((stream) =>
        this.scan(stream, info, () => true, (e) => {
          // Counting needs no decoded alert: never visited.
          if (fieldsMatch(e, filter)) counts[e.detector] = (counts[e.detector] ?? 0) + 1;
          return false;
        }),
      ),
    );
    return { counts, ...info };
  }

  private async byEntryId(entryId: string): Promise<StoredAlert | undefined> {
    for (const stream of this.streams) {
      const [entry] = await this.redis.xrange(stream, entryId, entryId);
      if (entry !== undefined) return parseAlertEntry(stream, entry[0], entry[1]);
    }
    return undefined;
  }

  private async byAlertId(id: string): Promise<StoredAlert | undefined> {
    const alerts: StoredAlert[] = [];
    const info: ScanInfo = { scanned: 0, truncated: false };
    await Promise.all(
      this.streams.map((stream) =>
        this.scan(
          stream,
          info,
          (a) => {
            alerts.push(a);
            return false;
          },
          (e) => e.id === id,
        ),
      ),
    );
    return alerts.sort(newestFirst)[0];
  }

  /**
   * Visit a stream's entries newest first until `visit` returns false or the scan limit is reached;
   * with `wanted`, only the entries whose raw fields it accepts are decoded and visited.
   */
  private async scan(stream: string, info: ScanInfo, visit: (a: StoredAlert) => boolean, wanted?: (e: Record<string, string>) => boolean): Promise<void> {
    const { read, truncated } = await scanBackward(this.redis, stream, this.scanLimit, PAGE, (entryId, fields) => {
      if (wanted !== undefined && !wanted(fields)) return true;
      return visit(alertOfFields(stream, entryId, fields));
    });
    info.scanned += read;
    if (truncated) info.truncated = true;
  }
}
