import { Kafka, logLevel, type Admin } from 'kafkajs';
import { inject } from 'vitest';

/** Brokers of the Kafka the test setup started (or KAFKA_BROKERS). */
export function brokers(): string[] {
  return inject('kafkaBrokers').split(',');
}

export function kafkaClient(): Kafka {
  return new Kafka({ clientId: 'vigie-tests', brokers: brokers(), logLevel: logLevel.NOTHING });
}

/** A topic name no other test uses. */
export function uniqueTopic(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

export async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafkaClient().admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Produce records (value JSON) keyed by `keyOf`, in order, in chunks; `timestamp` (ms, as text) when given. */
export async function produce(topic: string, records: Array<{ key: string | null; value: Buffer | string; timestamp?: string }>): Promise<void> {
  const producer = kafkaClient().producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 1000) {
      await producer.send({ topic, acks: -1, messages: records.slice(i, i + 1000).map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp })) });
    }
  } finally {
    await producer.disconnect();
  }
}
