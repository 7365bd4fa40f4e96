/** The Redis sink's config: its type, summary, example and schema (the user documentation of every option). */
import { z } from 'zod';
import { checkRedisConnection, redisConnectionShape } from '../src/redis/connection.js';
import { positiveDurationSchema } from '../src/time/duration.js';

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
      .array(z.enum(['alerts', 'shadowAlerts', 'queue']))
      .min(1)
      .default(['alerts'])
      .describe(
        'Which outputs to write: `alerts` (to `stream`), `shadowAlerts` (alerts of detectors in shadow mode, to `shadowStream`) and/or ' +
          '`queue` (the ranked queues of `model` detectors: per period a hash `{prefix}:queue:{detector}:{start}`, rank to line, listed in `{prefix}:queue:index`; read by `vigie console`).',
      ),
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
