/** What the redis sink sends for an alert: the Lua script storing one alert atomically, and the pure builder of its calls (keys, arguments, entry fields). */
import { createHash } from 'node:crypto';
import type { Alert, QueueEntry } from '../src/types.js';
import { safeJson } from '../src/util/json.js';

// ---------------------------------------------------------------------------------------------
// The script: one alert, atomically. Checks come before the first write, so a failure leaves nothing.
// ---------------------------------------------------------------------------------------------

/**
 * KEYS: dedup key, stream, state hash.
 * ARGV: 1 dedupTtl ms, 2 stateTtl ms, 3 maxLen (0 off), 4 maxAge ms (0 off), 5 channel ('' off),
 * 6 notification JSON up to the entry id, 7 alert id, 8 eventTime, 9 severity, 10 status, 11 suppressed,
 * 12 revision, 13 detector, 14 key, 15 detectedAt, 16 the entry's field/value pairs as a JSON array of
 * strings (one argument instead of about forty: the client's per-argument cost dominates otherwise;
 * the entry itself is stored flat).
 * Returns the new entry id, or nil when the alert id was already stored.
 */
export const ALERT_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local t = redis.call('TYPE', KEYS[2])['ok']
if t ~= 'none' and t ~= 'stream' then return redis.error_reply('WRONGTYPE ' .. KEYS[2] .. ' holds a ' .. t .. ', not a stream') end
t = redis.call('TYPE', KEYS[3])['ok']
if t ~= 'none' and t ~= 'hash' then return redis.error_reply('WRONGTYPE the state key of detector ' .. ARGV[13] .. ' holds a ' .. t .. ', not a hash') end
local fields = cjson.decode(ARGV[16])
local minId = nil
local maxAge = tonumber(ARGV[4])
if maxAge > 0 then
  local now = redis.call('TIME')
  local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - maxAge
  if ms > 0 then minId = string.format('%.0f', ms) end
end
local entryId
if ARGV[3] ~= '0' then
  entryId = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
  if minId then redis.call('XTRIM', KEYS[2], 'MINID', '~', minId) end
elseif minId then
  entryId = redis.call('XADD', KEYS[2], 'MINID', '~', minId, '*', unpack(fields))
else
  entryId = redis.call('XADD', KEYS[2], '*', unpack(fields))
end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
local s = KEYS[3]
redis.call('HINCRBY', s, 'count', 1)
local suppressed = tonumber(ARGV[11])
if suppressed > 0 then redis.call('HINCRBY', s, 'suppressedTotal', suppressed) end
redis.call('HSETNX', s, 'firstEventTime', ARGV[8])
local last = tonumber(redis.call('HGET', s, 'lastEventTime'))
if last == nil or tonumber(ARGV[8]) >= last then
  redis.call('HSET', s, 'detector', ARGV[13], 'key', ARGV[14], 'status', ARGV[10], 'severity', ARGV[9], 'lastAlertId', ARGV[7],
    'lastRevision', ARGV[12], 'lastEventTime', ARGV[8], 'lastDetectedAt', ARGV[15], 'lastStream', KEYS[2], 'lastEntryId', entryId)
end
redis.call('PEXPIRE', s, ARGV[2])
if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[5], ARGV[6] .. entryId .. '"}') end
return entryId
`;

export const ALERT_SCRIPT_SHA = createHash('sha1').update(ALERT_SCRIPT).digest('hex');

// ---------------------------------------------------------------------------------------------
// Pure builder: alerts -> script calls. No I/O, so it is tested without a server.
// ---------------------------------------------------------------------------------------------

/** What the builder needs from the config. */
export interface RedisCommandOptions {
  stream: string;
  prefix: string;
  maxLen: number;
  /** Milliseconds; 0 or undefined: no age limit. */
  maxAge?: number;
  dedupTtl: number;
  stateTtl: number;
  channel: string;
  /** Cluster: every key of an alert carries its stream as hash tag, so that they share a slot. */
  cluster?: boolean;
}

/** One alert's script call (or, with `script: 'queue'`, one line of a ranked queue). */
export interface AlertCall {
  /** Absent: the alert script. */
  script?: 'queue';
  /** The stream (for a queue line: its period key), which groups calls by slot on a cluster. */
  stream: string;
  /** dedup key, stream, state hash */
  keys: [string, string, string];
  args: string[];
}

/** The stream an alert goes to: the template with `{severity}` and `{detector}` filled in. */
export function streamName(template: string, alert: Pick<Alert, 'severity' | 'detector'>): string {
  if (!template.includes('{')) return template;
  return template.replaceAll('{severity}', alert.severity).replaceAll('{detector}', alert.detector);
}

/**
 * One line of a ranked queue (the `model` detector's `queue` output). KEYS: the period's hash
 * (`{prefix}:queue:{detector}:{start}`), the index of periods (sorted set by period start).
 * ARGV: 1 ttl ms, 2 the line's key, 3 the line as JSON, 4 period start, 5 the period as JSON.
 * The hash holds one field per key (`k:KEY`, the line) and `period` (detector, pipeline, start, end):
 * every task of a job (a partition, an instance) publishes the top keys of its own partitions for the
 * same period into one hash, and the reader ranks their union by risk. A line written again (a
 * replay) replaces itself: idempotent. Index members older than the ttl (by period start, behind
 * the period written) are dropped. Returns 1.
 */
export const QUEUE_SCRIPT = `
for i = 1, 2 do
  local t = redis.call('TYPE', KEYS[i])['ok']
  local want = i == 1 and 'hash' or 'zset'
  if t ~= 'none' and t ~= want then return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. t .. ', not a ' .. want) end
end
redis.call('HSET', KEYS[1], 'period', ARGV[5], 'k:' .. ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[4], KEYS[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%.0f', tonumber(ARGV[4]) - tonumber(ARGV[1])))
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return 1
`;

/** The keys of a ranked queue: the period's hash and the index of periods (docs/redis.md). */
export function queueKeys(opts: Pick<RedisCommandOptions, 'prefix' | 'cluster'>, detector: string, start: number): [string, string] {
  // On a cluster both keys share one hash tag, so that one script call may touch both.
  const base = opts.cluster ? `{${opts.prefix}:queue}` : `${opts.prefix}:queue`;
  return [`${base}:${detector}:${start}`, `${base}:index`];
}

/** The script calls of a batch's queue lines, in order; each period's hash lives `stateTtl`. */
export function buildQueueCalls(opts: Pick<RedisCommandOptions, 'prefix' | 'cluster' | 'stateTtl'>, lines: readonly QueueEntry[]): AlertCall[] {
  return lines.map((q) => {
    const keys = queueKeys(opts, q.detector, q.start);
    const period = safeJson({ detector: q.detector, pipeline: q.pipeline, start: q.start, end: q.end });
    return { script: 'queue', stream: keys[1], keys: [keys[0], keys[1], ''], args: [String(opts.stateTtl), q.key, safeJson(q), String(q.start), period] };
  });
}

/** The keys of one alert (see docs/redis.md: with `cluster`, the stream name is a hash tag in each). */
export function alertKeys(opts: Pick<RedisCommandOptions, 'prefix' | 'cluster'>, stream: string, alert: Pick<Alert, 'id' | 'detector' | 'key'>): [string, string, string] {
  const tag = opts.cluster ? `{${stream}}:` : '';
  return [`${opts.prefix}:dedup:${tag}${alert.id}`, stream, `${opts.prefix}:state:${tag}${alert.detector}:${alert.key}`];
}

/** The stream entry of an alert, as a flat list of field/value pairs, in a fixed order. */
export function alertFields(a: Alert): string[] {
  const f: string[] = [
    'id', a.id,
    'detector', a.detector,
    'detectorType', a.detectorType,
    'pipeline', a.pipeline,
    'severity', a.severity,
    'key', a.key,
    'revision', String(a.revision),
    'eventTime', String(a.eventTime),
    'detectedAt', String(a.detectedAt),
  ];
  if (a.window) f.push('windowStart', String(a.window.start), 'windowEnd', String(a.window.end));
  f.push(
    'observed', String(a.observed),
    'threshold', String(a.threshold),
    'score', String(a.score),
    'explanation', a.explanation,
    'evidence', safeJson(a.evidence),
    'configVersion', a.configVersion,
  );
  if (a.details !== undefined) f.push('details', safeJson(a.details));
  if (a.suppressed !== undefined) f.push('suppressed', String(a.suppressed));
  if (a.repeatsOf !== undefined) f.push('repeatsOf', a.repeatsOf);
  if (a.trigger !== undefined) f.push('trigger', a.trigger);
  return f;
}

/** `suppressed` for a cooldown summary (repeats of an earlier alert were held back), `open` otherwise. */
export function alertStatus(a: Alert): 'open' | 'suppressed' {
  return a.suppressed !== undefined || a.repeatsOf !== undefined ? 'suppressed' : 'open';
}

/** The script calls of a batch's alerts, in order. */
export function buildAlertCalls(opts: RedisCommandOptions, alerts: readonly Alert[]): AlertCall[] {
  const calls = new Array<AlertCall>(alerts.length);
  const fixed = [String(opts.dedupTtl), String(opts.stateTtl), String(opts.maxLen), String(opts.maxAge ?? 0), opts.channel];
  for (let i = 0; i < alerts.length; i++) {
    const a = alerts[i];
    const stream = streamName(opts.stream, a);
    // The live notification, closed by the script once the entry id is known (digits and "-": no escaping needed).
    const note = opts.channel === '' ? '' : `${JSON.stringify({ id: a.id, detector: a.detector, severity: a.severity, key: a.key, stream }).slice(0, -1)},"entryId":"`;
    const args = [
      ...fixed,
      note,
      a.id,
      String(a.eventTime),
      a.severity,
      alertStatus(a),
      String(a.suppressed ?? 0),
      String(a.revision),
      a.detector,
      a.key,
      String(a.detectedAt),
      packFields(alertFields(a)),
    ];
    calls[i] = { stream, keys: alertKeys(opts, stream, a), args };
  }
  return calls;
}

/**
 * The entry's fields as the script's JSON argument. Lone surrogates become U+FFFD first, as they would
 * on the wire as separate arguments (and Redis' JSON decoder refuses them).
 */
export function packFields(fields: string[]): string {
  for (let i = 0; i < fields.length; i++) if (LONE_SURROGATE.test(fields[i])) fields[i] = fields[i].replace(LONE_SURROGATES, '\uFFFD');
  return JSON.stringify(fields);
}

/** With the `u` flag a valid surrogate pair is one code point: only lone halves match. */
const LONE_SURROGATE = /\p{Surrogate}/u;
const LONE_SURROGATES = /\p{Surrogate}/gu;
