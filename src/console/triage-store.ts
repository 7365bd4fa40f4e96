/**
 * Triage in Redis: the state of each subject in a hash (PREFIX:alert:ID, PREFIX:key:KEY), every
 * change on the audit stream (trimmed, MAXLEN ~), and one entry per labelled event on the labels
 * stream, which the learned scorer reads as a `redis-stream` table. One script writes the three
 * together and reads the previous state in the same step, so an audit entry never misses a change.
 */
import type { RedisClient } from '../redis/connection.js';
import { keepLatest } from '../engine/labels-file.js';
import { entryFields } from './alert-entry.js';
import { scanBackward } from './stream-scan.js';
import {
  AUDIT_MAXLEN,
  auditFields,
  labelFields,
  latestOf,
  parseAudit,
  parseLabel,
  parseStatus,
  stateFields,
  stateKey,
  type AuditEntry,
  type Label,
  type Subject,
  type TriageChange,
  type TriageKeys,
  type TriageStatus,
} from './triage.js';

/**
 * KEYS: state hash, audit stream, labels stream. ARGV: 1 audit MAXLEN, 2 the hash fields, 3 the audit
 * fields without `previous`, 4 the labels (each a flat field list): JSON arrays of strings.
 * Returns the previous state ('' when none).
 */
const TRIAGE_SCRIPT = `
-- Every key is checked before the first write: a script is not rolled back, so a failure leaves nothing.
for i, want in ipairs({ 'hash', 'stream', 'stream' }) do
  local t = redis.call('TYPE', KEYS[i])['ok']
  if t ~= 'none' and t ~= want then return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. t .. ', not a ' .. want) end
end
local previous = redis.call('HGET', KEYS[1], 'state') or ''
redis.call('HSET', KEYS[1], unpack(cjson.decode(ARGV[2])))
local audit = cjson.decode(ARGV[3])
audit[#audit + 1] = 'previous'
audit[#audit + 1] = previous
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', unpack(audit))
for _, label in ipairs(cjson.decode(ARGV[4])) do redis.call('XADD', KEYS[3], '*', unpack(label)) end
return previous
`;

const PAGE = 1000;
/** Audit entries returned for one subject at most. */
export const HISTORY_LIMIT = 100;

type Entry = [id: string, fields: string[]];

export class TriageStore {
  constructor(
    private readonly redis: RedisClient,
    readonly keys: TriageKeys,
    /** Audit entries read (newest first) when looking for a subject's history. */
    private readonly scanLimit: number,
  ) {}

  /** Writes a change: state, audit entry and labels together. Returns the previous state ('' when none). */
  async apply(c: TriageChange): Promise<string> {
    const labels = JSON.stringify(c.labels.map(labelFields));
    const args = [String(AUDIT_MAXLEN), JSON.stringify(stateFields(c)), JSON.stringify(auditFields(c)), labels];
    return (await this.redis.eval(TRIAGE_SCRIPT, 3, stateKey(this.keys, c.subject, c.id), this.keys.auditStream, this.keys.labelsStream, ...args)) as string;
  }

  async status(subject: Subject, id: string): Promise<TriageStatus | undefined> {
    return parseStatus(await this.redis.hgetall(stateKey(this.keys, subject, id)));
  }

  /** The subject's audit entries, newest first (among the most recent `scanLimit` of the stream). */
  async history(subject: Subject, id: string): Promise<{ history: AuditEntry[]; truncated: boolean }> {
    const history: AuditEntry[] = [];
    const older = await this.scanBack(this.keys.auditStream, (entryId, f) => {
      if (f.subject === subject && f.id === id) history.push(parseAudit(entryId, f));
      return history.length < HISTORY_LIMIT;
    });
    // Cut at the history limit: older entries of the subject may be left too.
    return { history, truncated: older || history.length === HISTORY_LIMIT };
  }

  /** The newest `limit` labels, newest first. */
  async labels(limit: number): Promise<Label[]> {
    const labels: Label[] = [];
    await this.scanBack(this.keys.labelsStream, (_, f) => {
      const l = parseLabel(f);
      if (l !== undefined) labels.push(l);
      return labels.length < limit;
    });
    return labels;
  }

  /**
   * The latest label of every event on the labels stream (read whole, oldest first, page by page):
   * memory holds one label per event, never the whole stream.
   */
  async latestLabels(): Promise<Label[]> {
    const byEvent = new Map<string, Label>();
    let start = '-';
    for (;;) {
      const page = (await this.redis.xrange(this.keys.labelsStream, start, '+', 'COUNT', PAGE)) as Entry[];
      for (const [, flat] of page) {
        const l = parseLabel(entryFields(flat));
        if (l !== undefined) keepLatest(byEvent, l.event, l);
      }
      if (page.length < PAGE) break;
      start = `(${page[page.length - 1][0]}`;
    }
    return latestOf(byEvent);
  }

  /** Visits a stream's entries newest first until `visit` returns false or `scanLimit` were read; true when older ones were left. */
  private async scanBack(stream: string, visit: (entryId: string, f: Record<string, string>) => boolean): Promise<boolean> {
    return (await scanBackward(this.redis, stream, this.scanLimit, PAGE, visit)).truncated;
  }

}
