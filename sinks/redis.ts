/**
 * Redis sink: appends each alert once to a Redis Stream (exactly once per alert id, replays and
 * retries included), keeps a small state hash per detector and key, and announces each new alert on a
 * pub/sub channel. A write resolves once Redis has replied for every alert of the batch; while Redis
 * cannot be reached the same batch is retried, with backoff, without ever being dropped.
 * The data layout and how to consume it are in docs/redis.md. This module is the registry entry: its config
 * is in redis-config.ts, what is sent is built in redis-commands.ts, and the sink itself is in redis-writer.ts.
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
import { RedisSink } from './redis-writer.js';
import type { RedisSinkConfig } from './redis-config.js';
import type { Sink, SinkContext } from './types.js';

export { example, schema, summary, type, type RedisSinkConfig } from './redis-config.js';

/** Create a Redis sink; it connects on the first non-empty write. */
export function create(config: RedisSinkConfig, ctx: SinkContext): Sink {
  return new RedisSink(config, ctx);
}
