#!/usr/bin/env node
/**
 * An analysts' consumer of the alerts the Vigie `redis` sink writes (see docs/redis.md).
 *
 * Joins a consumer group on the alert stream(s) (creating the group, and the stream, if missing),
 * prints one line per alert and acknowledges what it printed. On start it first finishes its own
 * unacknowledged entries (from an earlier run under the same consumer name), then claims entries that
 * other consumers of the group left pending for longer than --claim-idle-ms (a consumer that died),
 * then reads new entries as they come. Delivery is at least once: an alert printed just before a crash
 * is printed again after it; the alert `id` tells repeats apart.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 node examples/redis-consumer.mjs --stream vigie:alerts --group analysts
 *
 * Options (environment variables in parentheses; options win):
 *   --url URL            Redis URL (REDIS_URL; default redis://127.0.0.1:6379). Password: REDIS_PASSWORD.
 *   --stream S[,S...]    stream(s) to read (STREAM; default vigie:alerts)
 *   --group G            consumer group (GROUP; default vigie-analysts)
 *   --consumer C         this consumer's name in the group (CONSUMER; default <hostname>-<pid>)
 *   --start ID           where a new group starts: $ (only new alerts, default) or 0 (everything kept)
 *   --count N            exit after printing N alerts (default 0: never)
 *   --idle-ms MS         exit after MS without any new entry (default 0: never)
 *   --block-ms MS        longest wait of one read (default 5000)
 *   --batch N            entries per read (default 100)
 *   --claim-idle-ms MS   claim entries pending for longer than this in other consumers (default 60000)
 *   --json               print each alert as one JSON object instead of a text line
 *
 * Needs only ioredis (npm install ioredis).
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.REDIS_URL || 'redis://127.0.0.1:6379' },
    stream: { type: 'string', default: process.env.STREAM || 'vigie:alerts' },
    group: { type: 'string', default: process.env.GROUP || 'vigie-analysts' },
    consumer: { type: 'string', default: process.env.CONSUMER || `${hostname()}-${process.pid}` },
    start: { type: 'string', default: '$' },
    count: { type: 'string', default: '0' },
    'idle-ms': { type: 'string', default: '0' },
    'block-ms': { type: 'string', default: '5000' },
    batch: { type: 'string', default: '100' },
    'claim-idle-ms': { type: 'string', default: '60000' },
    json: { type: 'boolean', default: false },
  },
});

function int(name, min) {
  const v = Number(opt[name]);
  if (!Number.isInteger(v) || v < min) {
    process.stderr.write(`--${name} must be an integer >= ${min}, got ${opt[name]}\n`);
    process.exit(2);
  }
  return v;
}

const streams = opt.stream.split(',').map((s) => s.trim()).filter(Boolean);
const group = opt.group;
const consumer = opt.consumer;
const COUNT = int('count', 0);
const IDLE_MS = int('idle-ms', 0);
const BLOCK_MS = int('block-ms', 1);
const BATCH = int('batch', 1);
const CLAIM_IDLE_MS = int('claim-idle-ms', 0);
/** How often stale entries of other consumers are looked for while running. */
const CLAIM_EVERY_MS = Math.max(1000, Math.min(CLAIM_IDLE_MS, 30_000));

const redis = new Redis(opt.url, { password: process.env.REDIS_PASSWORD || undefined, lazyConnect: true, maxRetriesPerRequest: 3 });
redis.on('error', () => {}); // reported by the failing command

let printed = 0;
let stopping = false;
process.once('SIGINT', () => (stopping = true));
process.once('SIGTERM', () => (stopping = true));

const done = () => stopping || (COUNT > 0 && printed >= COUNT);
/** Entries to ask for: no more than the alerts still to print, so nothing is taken and left unacknowledged. */
const want = () => (COUNT > 0 ? Math.max(1, Math.min(BATCH, COUNT - printed)) : BATCH);

function fieldsOf(flat) {
  const o = {};
  for (let i = 0; i < flat.length; i += 2) o[flat[i]] = flat[i + 1];
  return o;
}

function print(stream, entryId, a) {
  if (opt.json) {
    process.stdout.write(`${JSON.stringify({ stream, entryId, ...a })}\n`);
    return;
  }
  const when = Number.isFinite(Number(a.eventTime)) ? new Date(Number(a.eventTime)).toISOString() : a.eventTime;
  const rev = a.revision && a.revision !== '0' ? ` rev=${a.revision}` : '';
  const sup = a.suppressed ? ` suppressed=${a.suppressed}` : '';
  process.stdout.write(`${when} ${String(a.severity).toUpperCase()} ${a.detector} key=${a.key} id=${a.id}${rev}${sup} ${a.explanation}\n`);
}

/** Print then acknowledge the entries of one stream; entries trimmed away while pending (no fields) are only acknowledged. */
async function handle(stream, entries) {
  const ack = [];
  for (const [entryId, flat] of entries) {
    if (done()) break;
    if (flat !== null && flat !== undefined) {
      print(stream, entryId, fieldsOf(flat));
      printed++;
    }
    ack.push(entryId);
  }
  if (ack.length > 0) await redis.xack(stream, group, ...ack);
}

async function createGroups() {
  for (const s of streams) {
    try {
      await redis.xgroup('CREATE', s, group, opt.start, 'MKSTREAM');
    } catch (err) {
      if (!String(err.message).startsWith('BUSYGROUP')) throw err;
    }
  }
}

/** Our own entries delivered earlier but never acknowledged (we crashed, or exited at --count). */
async function finishOwnPending() {
  for (const s of streams) {
    let after = '0';
    while (!done()) {
      const res = await redis.xreadgroup('GROUP', group, consumer, 'COUNT', want(), 'STREAMS', s, after);
      const entries = res?.[0]?.[1] ?? [];
      if (entries.length === 0) break;
      await handle(s, entries);
      after = entries[entries.length - 1][0];
    }
  }
}

/** Entries other consumers left pending for longer than CLAIM_IDLE_MS. */
async function claimStale() {
  for (const s of streams) {
    let cursor = '0-0';
    do {
      if (done()) return;
      // Redis >= 7 also returns the ids it dropped from the pending list because the entry is gone.
      const [next, entries] = await redis.xautoclaim(s, group, consumer, CLAIM_IDLE_MS, cursor, 'COUNT', want());
      await handle(s, entries);
      cursor = next;
    } while (cursor !== '0-0');
  }
}

async function main() {
  await redis.connect();
  await createGroups();
  await finishOwnPending();
  await claimStale();
  let lastClaim = Date.now();
  let idleSince = Date.now();
  while (!done()) {
    const block = IDLE_MS > 0 ? Math.max(1, Math.min(BLOCK_MS, IDLE_MS - (Date.now() - idleSince))) : BLOCK_MS;
    const res = await redis.xreadgroup('GROUP', group, consumer, 'COUNT', want(), 'BLOCK', block, 'STREAMS', ...streams, ...streams.map(() => '>'));
    if (res && res.some(([, entries]) => entries.length > 0)) {
      for (const [s, entries] of res) await handle(s, entries);
      idleSince = Date.now();
    } else if (IDLE_MS > 0 && Date.now() - idleSince >= IDLE_MS) {
      break;
    }
    if (Date.now() - lastClaim >= CLAIM_EVERY_MS) {
      await claimStale();
      lastClaim = Date.now();
    }
  }
}

try {
  await main();
  process.stderr.write(`redis-consumer: ${printed} alert(s) printed and acknowledged (group ${group}, consumer ${consumer})\n`);
} catch (err) {
  process.stderr.write(`redis-consumer: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  redis.disconnect();
}
