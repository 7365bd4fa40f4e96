/** Reading a stream backwards in pages, bounded: how the console looks through alerts, audit entries and labels. */
import type { RedisClient } from '../redis/connection.js';
import { entryFields } from './alert-entry.js';

/** What a backward scan did: entries read, and whether it stopped at its limit with older entries left. */
export interface BackwardScan {
  read: number;
  truncated: boolean;
}

/**
 * Visits the newest entries of `stream` first, `page` at a time, until `visit` returns false, the
 * stream is read, or `limit` entries were read (then one more read says whether older ones remain).
 */
export async function scanBackward(
  redis: RedisClient,
  stream: string,
  limit: number,
  page: number,
  visit: (entryId: string, fields: Record<string, string>) => boolean,
): Promise<BackwardScan> {
  let end = '+';
  let read = 0;
  while (read < limit) {
    const count = Math.min(page, limit - read);
    const entries = await redis.xrevrange(stream, end, '-', 'COUNT', count);
    read += entries.length;
    for (const [entryId, flat] of entries) if (!visit(entryId, entryFields(flat))) return { read, truncated: false };
    if (entries.length < count) return { read, truncated: false };
    end = `(${entries[entries.length - 1][0]}`;
  }
  const [older] = await redis.xrevrange(stream, end, '-', 'COUNT', 1);
  return { read, truncated: older !== undefined };
}
