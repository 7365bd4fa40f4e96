/**
 * GET /api/live: server-sent events. Each client gets a connection of its own that blocks on XREAD
 * over every alert stream, from the last entry present when it connected (so nothing appended after
 * the response started is missed); each new entry matching the client's filter is sent as an `alert`
 * event. A comment every `heartbeatMs` keeps proxies from closing an idle response. Closing the
 * client ends its reader and its connection.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { RedisClient } from '../redis/connection.js';
import { parseAlertEntry } from './alert-entry.js';
import { matches, type AlertFilter } from './alerts-store.js';
import { HttpError, sendError } from './http.js';

export const HEARTBEAT_MS = 15_000;
/** How long one XREAD blocks; the loop checks for a closed client in between. */
const BLOCK_MS = 5_000;
const READ_COUNT = 100;

export interface LiveOptions {
  /** A new connection for this client (blocking reads need one of their own). */
  connect: () => RedisClient;
  streams: readonly string[];
  filter: AlertFilter;
  logger: Logger;
  heartbeatMs?: number;
}

/** The id of each stream's newest entry ('0-0' for an empty or missing stream): reading after it misses nothing. */
async function lastIds(redis: RedisClient, streams: readonly string[]): Promise<string[]> {
  return Promise.all(streams.map(async (s) => (await redis.xrevrange(s, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0'));
}

/** Serve the event stream on `res` until the client goes away (or `res` is ended by the server closing). */
export async function serveLive(res: ServerResponse, opts: LiveOptions): Promise<void> {
  const redis = opts.connect();
  let open = true;
  let heartbeat: NodeJS.Timeout | undefined;
  const stop = () => {
    if (!open) return;
    open = false;
    clearInterval(heartbeat);
    // Ends a pending XREAD at once.
    redis.disconnect();
  };
  res.once('close', stop);
  try {
    const ids = await lastIds(redis, opts.streams);
    if (!open) return;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': ready\n\n');
    heartbeat = setInterval(() => res.write(': heartbeat\n\n'), opts.heartbeatMs ?? HEARTBEAT_MS);
    while (open) {
      const reply = await redis.xread('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', ...opts.streams, ...ids);
      if (reply === null || !open) continue;
      for (const [stream, entries] of reply) {
        const i = opts.streams.indexOf(stream);
        for (const [entryId, fields] of entries) {
          ids[i] = entryId;
          const alert = parseAlertEntry(stream, entryId, fields);
          if (matches(alert, opts.filter)) res.write(`event: alert\nid: ${entryId}\ndata: ${JSON.stringify(alert)}\n\n`);
        }
      }
    }
  } catch (err) {
    if (open) {
      opts.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'console: live alerts stopped: cannot read Redis');
      if (!res.headersSent) sendError(res, new HttpError(503, 'unavailable', 'cannot read the alert streams from Redis'));
      else res.end();
    }
  } finally {
    stop();
  }
}
