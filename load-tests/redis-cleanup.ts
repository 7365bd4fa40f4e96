/** Removing what a benchmark run wrote to Redis, without flushing a server that may not be ours (REDIS_URL). */
import type { Redis } from 'ioredis';

/** UNLINK a run's stream and every key under `${prefix}:` (SCAN by pattern). */
export async function removeRunKeys(redis: Redis, stream: string, prefix: string): Promise<void> {
  await redis.unlink(stream);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 10_000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}
