/**
 * Real services for tests and benchmarks.
 *
 * Benchmarks and scripts: `startKafka()` / `startRedis()` and `await svc.stop()` when done.
 * Tests: the suite's global setup (tests/setup/services.ts) starts one Kafka and one Redis for the
 * whole run; a test file reads them with `services()`. A test that breaks its service (restart,
 * kill) starts its own with startKafka()/startRedis() instead.
 */
import { inject } from 'vitest';

export { startKafka, ensureKafkaArtifacts, kafkaVersion, type KafkaService, type KafkaKind, type StartKafkaOptions } from './kafka.js';
export { startRedis, type RedisService, type RedisKind, type StartRedisOptions } from './redis.js';
export { freePort, freePorts, dockerAvailable } from './proc.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Comma-separated bootstrap brokers of the run's Kafka. */
    kafkaBrokers: string;
    /** URL of the run's Redis. */
    redisUrl: string;
  }
}

export interface ProvidedServices {
  /** Bootstrap brokers, `host:port`. */
  kafkaBrokers: string[];
  redisUrl: string;
}

/**
 * The services the global setup started for this run. Call it inside a vitest test file (it reads
 * `inject`); outside vitest use startKafka()/startRedis().
 */
export function services(): ProvidedServices {
  const brokers = inject('kafkaBrokers');
  const redisUrl = inject('redisUrl');
  if (!brokers || !redisUrl) {
    throw new Error('No services provided: tests/setup/services.ts must be in globalSetup (and VIGIE_SERVICES=0 unset).');
  }
  return { kafkaBrokers: brokers.split(',').filter(Boolean), redisUrl };
}
