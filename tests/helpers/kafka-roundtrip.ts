import type { Logger } from 'pino';
import { create as createSink, schema as sinkSchema } from '../../sinks/kafka.js';
import type { KafkaClientConfig } from '../../src/kafka/client.js';
import { create as createSource, schema as sourceSchema } from '../../src/sources/kafka.js';
import type { RawBatch, SourceContext } from '../../src/sources/types.js';
import { systemClock, type Alert } from '../../src/types.js';
import { alertBatch } from './alerts.js';

/**
 * Vigie's kafka sink writes `alerts` to `topic` and Vigie's kafka source (consumer group `groupId`)
 * reads them back: the ids read, in order. Both use `client` and `logger`.
 */
export async function roundTrip(client: KafkaClientConfig, topic: string, groupId: string, alerts: Alert[], logger: Logger): Promise<string[]> {
  const sink = createSink(sinkSchema.parse({ name: 'rt', type: 'kafka', client, topics: { alerts: topic } }), { baseDir: process.cwd(), stdout: process.stdout, logger });
  try {
    await sink.write(alertBatch(alerts));
  } finally {
    await sink.close();
  }
  const abort = new AbortController();
  const ctx: SourceContext = { baseDir: process.cwd(), clock: systemClock, logger, batchSize: 100, stdin: process.stdin, signal: abort.signal };
  const source = createSource(sourceSchema.parse({ name: 'rt', type: 'kafka', client, topics: [topic], groupId, sessionTimeout: 6000, heartbeatInterval: 500 }), ctx);
  const ids: string[] = [];
  try {
    const batches = source.batches()[Symbol.asyncIterator]();
    while (ids.length < alerts.length) {
      const next: IteratorResult<RawBatch> = await batches.next();
      if (next.done) break;
      for (const r of next.value.records) ids.push((JSON.parse(Buffer.from(r.data as Uint8Array).toString('utf8')) as Alert).id);
    }
  } finally {
    abort.abort();
    await source.close();
  }
  return ids;
}
