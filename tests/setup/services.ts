import type { TestProject } from 'vitest/node';
import { startKafka, startRedis, type KafkaService, type RedisService } from '../infra/index.js';

/**
 * Starts one Kafka and one Redis for the whole run, in parallel, and hands their addresses to the
 * tests (`services()` in tests/infra, or `inject('kafkaBrokers')` / `inject('redisUrl')`).
 * KAFKA_BROKERS / REDIS_URL use existing servers instead; VIGIE_SERVICES=0 starts nothing.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (process.env.VIGIE_SERVICES === '0') return undefined;

  const timed = async <T extends { kind: string }>(name: string, start: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const svc = await start();
    console.log(`[services] ${name} (${svc.kind}) ready in ${((performance.now() - t0) / 1000).toFixed(1)}s`);
    return svc;
  };
  const [kafka, redis] = await Promise.allSettled([timed('kafka', () => startKafka()), timed('redis', () => startRedis())]);

  const started: Array<KafkaService | RedisService> = [];
  for (const r of [kafka, redis]) if (r.status === 'fulfilled') started.push(r.value);
  const stopAll = async (): Promise<void> => {
    await Promise.allSettled(started.map((s) => s.stop()));
  };
  if (kafka.status === 'rejected' || redis.status === 'rejected') {
    await stopAll();
    throw kafka.status === 'rejected' ? kafka.reason : (redis as PromiseRejectedResult).reason;
  }

  project.provide('kafkaBrokers', kafka.value.brokers.join(','));
  project.provide('redisUrl', redis.value.url);
  return stopAll;
}
