/**
 * Redis sink: appends each alert once to a Redis Stream (exactly once per alert id, replays and
 * retries included), keeps a small state hash per detector and key, and announces each new alert on a
 * pub/sub channel. A write resolves once Redis has replied for every alert of the batch; while Redis
 * cannot be reached the same batch is retried, with backoff, without ever being dropped.
 * The data layout and how to consume it are in docs/redis.md.
 *
 * Example:
 * ```yaml
 * sinks:
 *   - name: analysts
 *     type: redis
 *     url: ${REDIS_URL}
 *     passwordEnv: REDIS_PASSWORD
 *     stream: vigie:alerts:{severity}
 *     maxLen: 1000000
 *     maxAge: 7d
 * ```
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Alert } from '../src/types.js';
import type { EngineMetrics } from '../src/metrics/registry.js';
import { checkRedisConnection, createRedis, describeRedisTarget, isCluster, redisConnectionShape, type RedisClient } from '../src/redis/connection.js';
import { positiveDurationSchema } from '../src/time/duration.js';
import type { OutputKind, Sink, SinkBatch, SinkContext } from './types.js';
import { safeJson } from '../src/util/json.js';

export const type = 'redis';

export const summary =
  'Appends alerts to Redis Streams, once per alert id, with a state hash per detector and key and live pub/sub notifications; acknowledges once Redis has them.';

export const example = `sinks:
  - name: analysts
    type: redis
    url: \${REDIS_URL}
    passwordEnv: REDIS_PASSWORD
    stream: vigie:alerts:{severity}
    maxLen: 1000000
    maxAge: 7d
    channel: vigie:alerts:live
`;

/** Placeholders a stream template may contain; braces are reserved for them. */
const STREAM_TEMPLATE = /^(?:[^{}]|\{severity\}|\{detector\})+$/;

const DEFAULT_RETRY = { initialDelay: 100, maxDelay: 10_000 };

export const schema = z
  .strictObject({
    name: z.string().min(1).describe('Name of this sink, unique among sinks; used in logs and as the `sink` metric label.'),
    type: z.literal(type).describe('Selects the Redis sink.'),
    outputs: z
      .array(z.enum(['alerts', 'shadowAlerts']))
      .min(1)
      .default(['alerts'])
      .describe('Which outputs to write: `alerts` (to `stream`) and/or `shadowAlerts` (alerts of detectors in shadow mode, to `shadowStream`).'),
    ...redisConnectionShape,
    stream: z
      .string()
      .regex(STREAM_TEMPLATE, 'a stream name; braces only in the placeholders {severity} and {detector}')
      .default('vigie:alerts')
      .describe(
        'Stream the alerts are appended to. May contain `{severity}` and `{detector}` to split alerts into several streams, ' +
          'e.g. `vigie:alerts:{severity}`; braces are reserved for these placeholders.',
      ),
    shadowStream: z
      .string()
      .regex(STREAM_TEMPLATE, 'a stream name; braces only in the placeholders {severity} and {detector}')
      .default('vigie:alerts:shadow')
      .describe('Stream the alerts of detectors in shadow mode go to (output `shadowAlerts`); never the analysts\' stream. Same placeholders as `stream`.'),
    maxLen: z
      .number()
      .int()
      .min(0)
      .default(1_000_000)
      .describe(
        'Keep about this many entries per stream (`XADD MAXLEN ~`): trimming removes whole internal nodes, so a stream may hold ' +
          'up to one node more (`stream-node-max-entries`, 100 by default). 0 turns it off.',
      ),
    maxAge: positiveDurationSchema
      .optional()
      .describe('Also drop entries older than this, by the time in their entry id (`MINID ~`, Redis server clock). Absent: no age limit.'),
    dedupTtl: positiveDurationSchema
      .default(7 * 86_400_000)
      .describe('How long an alert id is remembered (`{prefix}:dedup:{id}`): a replay or retry within this time never appends it twice.'),
    stateTtl: positiveDurationSchema
      .default(30 * 86_400_000)
      .describe('Expiry of the state hash `{prefix}:state:{detector}:{key}`, renewed by each alert of that detector and key.'),
    channel: z
      .string()
      .default('vigie:alerts:live')
      .describe('Pub/sub channel on which each new entry is announced (a small JSON with the entry id); an empty string turns it off.'),
    prefix: z
      .string()
      .regex(/^[^{}]+$/, 'a non-empty key prefix without braces')
      .default('vigie')
      .describe('Prefix of the dedup and state keys. Two redis sinks writing to one Redis need different prefixes.'),
    retry: z
      .strictObject({
        initialDelay: positiveDurationSchema.default(DEFAULT_RETRY.initialDelay).describe('Wait before the first retry of a failed write.'),
        maxDelay: positiveDurationSchema.default(DEFAULT_RETRY.maxDelay).describe('Longest wait between retries (the wait doubles up to it).'),
      })
      .default(DEFAULT_RETRY)
      .describe(
        'Backoff between attempts at a batch while Redis is unreachable or not writable (also between reconnections): ' +
          '`initialDelay` (default 100ms) doubling up to `maxDelay` (default 10s), minus up to 20% jitter.',
      ),
    commandTimeout: positiveDurationSchema
      .default(5000)
      .describe('A batch without a full reply after this long counts as failed and is retried (harmless: alerts already stored are skipped).'),
    minReplicas: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        'Acknowledge a batch only once this many replicas have it (`WAIT`), else retry it (harmless: alerts already stored are skipped). ' +
          'Redis replicates asynchronously: what only the old master had is lost when a replica takes over, so with `sentinel` the ' +
          'default is 1 (acknowledged alerts survive a failover; writes wait while no replica is up). Otherwise the default is 0: ' +
          'the master\'s reply is enough. Not with `cluster`.',
      ),
    replicaTimeout: positiveDurationSchema
      .default(1000)
      .describe('How long `WAIT` waits for `minReplicas` replicas before the batch counts as failed and is retried.'),
    maxPendingBatches: z
      .number()
      .int()
      .min(1)
      .default(16)
      .describe('Size of the buffer of batches waiting to be written, for `vigie_sink_buffer_fill_ratio` (pending / this).'),
    closeTimeout: positiveDurationSchema
      .default(10_000)
      .describe('How long stopping waits for pending writes; writes still pending then are failed, never reported as written.'),
  })
  .superRefine((c, ctx) => {
    checkRedisConnection(c, ctx);
    if ((c.minReplicas ?? 0) > 0 && c.cluster !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'minReplicas is not supported with cluster', path: ['minReplicas'] });
    }
    if (c.retry !== undefined && c.retry.maxDelay < c.retry.initialDelay) {
      ctx.addIssue({ code: 'custom', message: 'retry.maxDelay must not be below retry.initialDelay', path: ['retry', 'maxDelay'] });
    }
  })
  .describe(
    'Appends each alert to a Redis Stream as one entry of flat fields (`id`, `detector`, `severity`, `key`, `revision`, times, ' +
      'values, `explanation`, `evidence` and `details` as JSON...), at most once per alert id: a Lua script skips ids seen within ' +
      '`dedupTtl`, so replays and retries never duplicate. Each stored alert also updates the hash `{prefix}:state:{detector}:{key}` ' +
      '(count, last alert, status) and is announced on `channel`. A batch is one round trip. Acknowledges: a batch counts as delivered ' +
      'once Redis replied for all of its alerts; while Redis is unreachable (or loading, read-only...) the batch is retried with ' +
      'backoff, never dropped, and the sink reports itself down. Wrong credentials, missing permissions or a key of the wrong type ' +
      'fail the write. See docs/redis.md for the data layout and consumers.',
  );

export type RedisSinkConfig = z.output<typeof schema>;

/** Create a Redis sink; it connects on the first non-empty write. */
export function create(config: RedisSinkConfig, ctx: SinkContext): Sink {
  return new RedisSink(config, ctx);
}

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

/** One alert's script call. */
export interface AlertCall {
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


// ---------------------------------------------------------------------------------------------
// Errors: what a retry can fix, and what it cannot.
// ---------------------------------------------------------------------------------------------

/** Server replies that a later attempt may not get: loading, failover, busy, out of memory, cluster moving. */
const RETRIABLE_REPLIES = new Set(['LOADING', 'READONLY', 'BUSY', 'MASTERDOWN', 'TRYAGAIN', 'CLUSTERDOWN', 'OOM', 'MISCONF', 'NOREPLICAS', 'MOVED', 'ASK']);

/**
 * `noscript`: the script is not cached (reloaded at once); `retriable`: connection lost, timeout, or a
 * transient server state; `fatal`: any other reply error (WRONGTYPE, NOPERM, WRONGPASS, ERR...).
 */
export function classifyError(err: unknown): 'noscript' | 'retriable' | 'fatal' {
  if (!(err instanceof Error)) return 'retriable';
  const code = /^[A-Z]+/.exec(err.message)?.[0] ?? '';
  if (code === 'NOSCRIPT') return 'noscript';
  // Anything but a server reply: connection refused or lost, "Command timed out", aborted commands.
  if (err.name !== 'ReplyError') return 'retriable';
  return RETRIABLE_REPLIES.has(code) ? 'retriable' : 'fatal';
}

/** Authentication or authorisation refused while connecting: no retry fixes a wrong password. */
export function isAuthError(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /^(WRONGPASS|NOAUTH|NOPERM)\b/.test(msg) || /invalid (username-)?password/i.test(msg);
}

/** Node's codes for a server certificate that cannot be trusted (wrong CA, self-signed, expired, wrong name). */
const UNTRUSTED_CERT_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The server's TLS certificate is not trusted: a configuration problem that no retry fixes. */
export function isCertificateError(err: unknown): boolean {
  return err instanceof Error && UNTRUSTED_CERT_CODES.has((err as { code?: unknown }).code as string);
}

/** Why connecting can never succeed without a change of configuration (or undefined: it may, later). */
function refusal(err: unknown, target: string): string | undefined {
  if (isAuthError(err)) return `authentication to ${target} failed: ${messageOf(err)}`;
  if (isCertificateError(err)) return `the TLS certificate of ${target} is not trusted: ${messageOf(err)} (check tls.caFile)`;
  return undefined;
}

class FatalError extends Error {}
class RetriableError extends Error {}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------
// I/O: one pipeline per batch, retried until Redis takes it.
// ---------------------------------------------------------------------------------------------

/** A sleep that ends early when woken (Redis is back, or the sink is closing). */
class Waker {
  private wakers = new Set<() => void>();

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  wake(): void {
    for (const w of [...this.wakers]) w();
  }
}

/** Counters of a sink, for tests and benchmarks. */
export interface RedisSinkStats {
  /** Alerts appended to a stream. */
  stored: number;
  /** Alerts skipped because their id was already stored. */
  duplicates: number;
  /** Failed attempts that were retried. */
  retries: number;
}

interface Job {
  calls: AlertCall[];
  /** Distinct streams of the batch, for messages. */
  streams: string[];
}

const LOG_EVERY_MS = 10_000;

export class RedisSink implements Sink {
  readonly name: string;
  readonly type = type;
  readonly acknowledges = true;
  readonly outputs: ReadonlySet<OutputKind>;
  readonly stats: RedisSinkStats = { stored: 0, duplicates: 0, retries: 0 };
  private readonly opts: RedisCommandOptions;
  private readonly redis: RedisClient;
  private readonly cluster: boolean;
  private readonly target: string;
  private readonly logger: Logger;
  private readonly metrics: EngineMetrics | undefined;
  private readonly retry: { initialDelay: number; maxDelay: number };
  private readonly connectWait: number;
  private readonly minReplicas: number;
  private readonly replicaTimeout: number;
  private readonly maxPending: number;
  private readonly closeTimeout: number;
  private readonly waker = new Waker();
  /**
   * Writes run one after the other: a batch resolves only after every earlier batch is stored, so
   * acknowledging batch N implies N-1 is safe too, and entries keep batch order within a stream.
   */
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;
  private up = true;
  private closing: Promise<void> | undefined;
  private aborted = false;
  /** Last error the client reported (for messages while not connected). */
  private lastError: Error | undefined;
  /** Set when connecting failed on credentials or permissions; cleared once connected. */
  /** A connection error no retry fixes (refused credentials, untrusted certificate), until the next `ready`. */
  private authError: Error | undefined;
  private readonly shadowStream: string;

  constructor(config: RedisSinkConfig, ctx: SinkContext) {
    this.name = config.name;
    this.outputs = new Set(config.outputs);
    this.logger = ctx.logger;
    this.metrics = ctx.metrics;
    this.retry = config.retry;
    this.minReplicas = config.minReplicas ?? (config.sentinel !== undefined ? 1 : 0);
    this.replicaTimeout = config.replicaTimeout ?? 1000;
    this.connectWait = config.connectTimeout;
    this.maxPending = config.maxPendingBatches;
    this.closeTimeout = config.closeTimeout;
    this.cluster = config.cluster !== undefined;
    this.shadowStream = config.shadowStream;
    this.target = describeRedisTarget(config);
    this.opts = {
      stream: config.stream,
      prefix: config.prefix,
      maxLen: config.maxLen,
      maxAge: config.maxAge,
      dedupTtl: config.dedupTtl,
      stateTtl: config.stateTtl,
      channel: config.channel,
      cluster: this.cluster,
    };
    this.redis = this.client(config);
    this.redis.on('error', (err: Error) => {
      this.lastError = err;
      if (refusal(err, this.target) !== undefined) this.authError = err;
      this.logger.debug({ sink: this.name, target: this.target, err: err.message }, 'redis sink connection error');
    });
    this.redis.on('ready', () => {
      this.authError = undefined;
      this.waker.wake();
    });
    this.metrics?.sinkUp.set({ sink: this.name }, 1);
    this.metrics?.sinkBufferFill.set({ sink: this.name }, 0);
  }

  /** The ioredis client; a bad URL or an unset password variable fails here, naming the sink. */
  private client(config: RedisSinkConfig): RedisClient {
    try {
      return createRedis(config, {
        lazyConnect: true,
        // The sink's own loop retries whole batches: the client never queues nor resends on its own,
        // so a lost connection fails the batch's commands at once instead of leaving them pending.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        commandTimeout: config.commandTimeout,
        retryStrategy: (times) => this.backoff(times),
        // A failover turned our master into a replica: reconnect (Sentinel finds the new master).
        reconnectOnError: (err) => err.message.startsWith('READONLY'),
        connectionName: `vigie-sink-${config.name}`.replace(/[^A-Za-z0-9_.:-]/g, '_'),
      });
    } catch (err) {
      throw new Error(`redis sink "${config.name}": ${messageOf(err)}`, { cause: err });
    }
  }

  write(batch: SinkBatch): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new Error(`redis sink "${this.name}" is closed`));
    // Build the commands now, synchronously: the caller may reuse or mutate the batch once we return.
    const calls = this.outputs.has('alerts') ? buildAlertCalls(this.opts, batch.alerts) : [];
    if (this.outputs.has('shadowAlerts') && batch.shadowAlerts.length > 0) calls.push(...buildAlertCalls({ ...this.opts, stream: this.shadowStream }, batch.shadowAlerts));
    if (calls.length === 0) return this.tail;
    const job: Job = { calls, streams: [...new Set(calls.map((c) => c.stream))] };
    this.pending++;
    this.reportFill();
    const run = this.tail
      .then(() => this.deliver(job))
      .finally(() => {
        this.pending--;
        this.reportFill();
      });
    // Keep the chain alive after a failure; the caller still gets this batch's rejection.
    this.tail = run.catch(() => undefined);
    return run;
  }

  healthy(): boolean {
    return this.up;
  }

  bufferFill(): number {
    return Math.min(1, this.pending / this.maxPending);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        this.tail.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), this.closeTimeout);
        }),
      ]);
      clearTimeout(timer);
      if (!drained) {
        // Give up on what is still pending: those writes reject (never reported as written).
        this.aborted = true;
        this.waker.wake();
        this.redis.disconnect();
        await this.tail;
        this.logger.warn({ sink: this.name, closeTimeoutMs: this.closeTimeout }, 'redis sink closed with writes still pending: they were failed');
      }
      this.redis.disconnect();
    })();
    return this.closing;
  }

  private reportFill(): void {
    this.metrics?.sinkBufferFill.set({ sink: this.name }, this.bufferFill());
  }

  /** Delay before retry (or reconnection) number `attempt` (1, 2, ...): doubling, capped, minus up to 20% jitter. */
  private backoff(attempt: number): number {
    const base = Math.min(this.retry.maxDelay, this.retry.initialDelay * 2 ** Math.min(attempt - 1, 30));
    return Math.max(1, Math.round(base * (1 - 0.2 * Math.random())));
  }

  private where(job: Job): string {
    return `stream ${job.streams.map((s) => `"${s}"`).join(', ')}`;
  }

  /** Try the batch until Redis took all of it; only errors no retry can fix reject. */
  private async deliver(job: Job): Promise<void> {
    let failures = 0;
    let downSince = 0;
    let loggedAt = 0;
    for (;;) {
      if (this.aborted) {
        throw new Error(`redis sink "${this.name}": closed before the batch could be written to ${this.where(job)}${this.lastError ? ` (last error: ${this.lastError.message})` : ''}`);
      }
      let failure: unknown;
      try {
        await this.attempt(job);
      } catch (err) {
        failure = err;
      }
      if (failure === undefined) {
        if (!this.up) {
          this.up = true;
          this.metrics?.sinkUp.set({ sink: this.name }, 1);
          this.logger.info({ sink: this.name, target: this.target, retries: failures, downMs: downSince ? Date.now() - downSince : 0 }, 'redis sink writing again');
        }
        return;
      }
      this.setDown();
      if (failure instanceof FatalError || this.aborted) {
        const why = failure instanceof FatalError ? failure.message : `closed while retrying: ${messageOf(failure)}`;
        throw new Error(`redis sink "${this.name}": cannot write to ${this.where(job)}: ${why}`, { cause: failure });
      }
      failures++;
      downSince ||= Date.now();
      this.stats.retries++;
      this.metrics?.sinkRetries.inc({ sink: this.name });
      const delay = this.backoff(failures);
      const now = Date.now();
      if (failures === 1 || now - loggedAt >= LOG_EVERY_MS) {
        loggedAt = now;
        this.logger.warn(
          { sink: this.name, target: this.target, streams: job.streams, alerts: job.calls.length, attempt: failures, retryInMs: delay, err: messageOf(failure) },
          'redis sink cannot write; retrying the batch',
        );
      }
      await this.waker.sleep(delay);
    }
  }

  private setDown(): void {
    if (!this.up) return;
    this.up = false;
    this.metrics?.sinkUp.set({ sink: this.name }, 0);
  }

  /**
   * One attempt: connected, then one pipeline (one per stream on a cluster). After a NOSCRIPT reply
   * (script cache flushed, server restarted or failed over) the batch is sent again at once with EVAL,
   * which caches the script again; alerts the first try stored are skipped by the dedup check.
   */
  private async attempt(job: Job): Promise<void> {
    await this.ensureReady();
    let noscript = await this.execute(job.calls, false);
    if (noscript) noscript = await this.execute(job.calls, true);
    if (noscript) throw new RetriableError('NOSCRIPT after EVAL');
  }

  /** Wait for the client to be ready, at most connectTimeout; wrong credentials fail at once. */
  private async ensureReady(): Promise<void> {
    const r = this.redis;
    if (r.status === 'ready') return;
    if (this.authError) throw new FatalError(refusal(this.authError, this.target) as string);
    if (r.status === 'wait' || r.status === 'end') r.connect().catch(() => undefined);
    await new Promise<void>((resolve, reject) => {
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        r.off('ready', onReady);
        r.off('error', onError);
        settle();
      };
      const onReady = () => finish(resolve);
      const onError = (err: Error) => {
        const why = refusal(err, this.target);
        if (why !== undefined) finish(() => reject(new FatalError(why)));
      };
      const timer = setTimeout(
        () => finish(() => reject(new RetriableError(`not connected to ${this.target}${this.lastError ? `: ${this.lastError.message}` : ''}`))),
        this.connectWait,
      );
      r.on('ready', onReady);
      r.on('error', onError);
    });
  }

  /** Send the calls; true when Redis did not know the script (nothing was written then). */
  private async execute(calls: AlertCall[], useEval: boolean): Promise<boolean> {
    if (!this.cluster) return this.runPipeline(calls, useEval);
    // A cluster pipeline must stay within one slot: one per stream (all keys of a stream share its hash tag).
    const byStream = new Map<string, AlertCall[]>();
    for (const c of calls) {
      let list = byStream.get(c.stream);
      if (list === undefined) byStream.set(c.stream, (list = []));
      list.push(c);
    }
    const results = await Promise.allSettled([...byStream.values()].map((list) => this.runPipeline(list, useEval)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    const fatal = failed.find((e) => e instanceof FatalError);
    if (fatal !== undefined) throw fatal;
    if (failed.length > 0) throw failed[0];
    return results.some((r) => r.status === 'fulfilled' && r.value);
  }

  private async runPipeline(calls: AlertCall[], useEval: boolean): Promise<boolean> {
    const p = this.redis.pipeline();
    for (const c of calls) {
      if (useEval) p.eval(ALERT_SCRIPT, 3, c.keys[0], c.keys[1], c.keys[2], ...c.args);
      else p.evalsha(ALERT_SCRIPT_SHA, 3, c.keys[0], c.keys[1], c.keys[2], ...c.args);
    }
    const waiting = this.minReplicas > 0;
    if (waiting) p.call('WAIT', String(this.minReplicas), String(this.replicaTimeout));
    let replies: Array<[Error | null, unknown]> | null;
    try {
      replies = await p.exec();
    } catch (err) {
      throw this.wrap(err);
    }
    if (replies === null || replies.length !== calls.length + (waiting ? 1 : 0)) throw new RetriableError('incomplete pipeline reply');
    if (waiting) {
      const [err, acked] = replies.pop() as [Error | null, unknown];
      if (err === null && Number(acked) < this.minReplicas && replies.every(([e]) => e === null)) {
        throw new RetriableError(`${String(acked)} of the ${this.minReplicas} replicas required have the batch after ${this.replicaTimeout} ms`);
      }
      if (err !== null) throw this.wrap(err);
    }
    let fatal: unknown;
    let retriable: unknown;
    let noscript = false;
    let stored = 0;
    for (const [err, value] of replies) {
      if (err) {
        const kind = classifyError(err);
        if (kind === 'fatal') fatal ??= err;
        else if (kind === 'retriable') retriable ??= err;
        else noscript = true;
      } else if (value !== null) {
        stored++;
      }
    }
    if (fatal !== undefined) throw this.wrap(fatal);
    if (retriable !== undefined) throw this.wrap(retriable);
    if (!noscript) {
      this.stats.stored += stored;
      this.stats.duplicates += calls.length - stored;
    }
    return noscript;
  }

  private wrap(err: unknown): Error {
    if (err instanceof FatalError || err instanceof RetriableError) return err;
    const why = refusal(err, this.target);
    if (why !== undefined) return new FatalError(why, { cause: err });
    if (classifyError(err) === 'fatal') return new FatalError(messageOf(err), { cause: err });
    return new RetriableError(messageOf(err), { cause: err });
  }
}
