/**
 * Kafka over TLS, end to end, against a private broker whose client listener is SSL with a PEM
 * keystore (tests/infra/kafka.ts `startKafka({ tls })`) signed by a throwaway CA (tests/infra/tls.ts):
 * the kafka sink produces and the kafka source consumes trusting that CA (`ssl: { caFile }`); a client
 * that does not trust it, or that does not speak TLS, fails quickly and says why (no hang).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create as createSink, schema as sinkSchema } from '../../sinks/kafka.js';
import { createKafka, kafkaClientSchema } from '../../src/kafka/client.js';
import { createLogger } from '../../src/log.js';
import { create as createSource, schema as sourceSchema } from '../../src/sources/kafka.js';
import { systemClock } from '../../src/types.js';
import { startKafka, type KafkaService } from '../infra/index.js';
import { makeTlsFiles, type TlsFiles } from '../infra/tls.js';
import { alertBatch, sampleAlert } from '../helpers/alerts.js';
import { roundTrip } from '../helpers/kafka-roundtrip.js';
import { capturedLogger, failure, errorText } from '../helpers/capture.js';

const TOPIC = 'vigie-tls-alerts';
/** What Node says when a server certificate does not chain to a trusted CA. */
const CERT_ERROR = /unable to verify the first certificate|self[- ]signed certificate|unable to get local issuer certificate/i;

describe('Kafka over TLS (SSL client listener, PEM keystore, the test CA)', () => {
  let certs: TlsFiles;
  let otherCa: TlsFiles;
  let kafka: KafkaService;

  const client = (ssl: unknown) =>
    kafkaClientSchema.parse({ brokers: kafka.brokers.join(','), clientId: 'vigie-tls', ssl, connectionTimeout: 2000, requestTimeout: 5000 });

  beforeAll(async () => {
    certs = makeTlsFiles();
    otherCa = makeTlsFiles();
    kafka = await startKafka({ tls: { keystoreFile: certs.serverKeyAndChainFile, caFile: certs.caFile } });
    const admin = createKafka(client({ caFile: certs.caFile }), createLogger({ level: 'silent' })).admin();
    await admin.connect();
    try {
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic: TOPIC, numPartitions: 1, replicationFactor: 1 }] });
    } finally {
      await admin.disconnect();
    }
  }, 120_000);

  afterAll(async () => {
    await kafka?.stop();
    certs?.remove();
    otherCa?.remove();
  });

  it('the kafka sink produces and the kafka source consumes with ssl: { caFile }', async () => {
    const log = capturedLogger();
    const ssl = { caFile: certs.caFile };
    const ids = await roundTrip(client(ssl), TOPIC, 'vigie-tls-group', [sampleAlert('tls-1', 'card-1'), sampleAlert('tls-2', 'card-2')], log.logger);
    expect(ids).toEqual(['tls-1', 'tls-2']);
    expect(log.text()).not.toMatch(CERT_ERROR);
  });

  it('a client that does not trust the CA (system CAs, or another CA) or does not speak TLS fails within 20 s, saying why', async () => {
    const log = capturedLogger();
    /** Runs `attempt`, which must reject; resolves with its error and how long it took. */
    const timed = async (attempt: () => Promise<unknown>, cleanup: () => Promise<unknown>) => {
      const t0 = Date.now();
      try {
        const err = await failure(attempt());
        return { err, ms: Date.now() - t0 };
      } finally {
        await cleanup().catch(() => {});
      }
    };
    const direct = (ssl: unknown) => {
      const admin = createKafka(client(ssl), log.logger).admin({ retry: { retries: 0 } });
      return timed(() => admin.connect().then(() => admin.listTopics()), () => admin.disconnect());
    };
    const sink = (ssl: unknown) => {
      const s = createSink(sinkSchema.parse({ name: 'tls', type: 'kafka', client: client(ssl), topics: { alerts: TOPIC } }), {
        baseDir: process.cwd(),
        stdout: process.stdout,
        logger: log.logger,
      });
      return timed(() => s.write(alertBatch([sampleAlert('tls-bad', 'card-9')])), () => s.close());
    };
    const source = (ssl: unknown) => {
      const abort = new AbortController();
      const src = createSource(sourceSchema.parse({ name: 'tls', type: 'kafka', client: client(ssl), topics: [TOPIC], groupId: 'vigie-tls-bad' }), {
        baseDir: process.cwd(),
        clock: systemClock,
        logger: log.logger,
        batchSize: 100,
        stdin: process.stdin,
        signal: abort.signal,
      });
      return timed(() => src.batches()[Symbol.asyncIterator]().next(), () => (abort.abort(), src.close()));
    };
    const before = await highWatermark();
    // Each fails after the client's own reconnection attempts (~10 s): run concurrently.
    const other = { caFile: otherCa.caFile };
    const cases = {
      'client, system CAs': direct(true),
      'client, another CA': direct(other),
      'sink, system CAs': sink(true),
      'sink, another CA': sink(other),
      'source, another CA': source(other),
      'client without TLS': direct(false),
    };
    const results = await Promise.all(Object.values(cases));
    Object.keys(cases).forEach((what, i) => {
      const { err, ms } = results[i];
      expect(ms, what).toBeLessThan(20_000);
      if (what === 'client without TLS') {
        expect(err.name, what).toMatch(/^KafkaJS/);
        expect(errorText(err), what).toMatch(/Closed connection|Connection error/);
      } else {
        expect(errorText(err), what).toMatch(CERT_ERROR);
        if (what.startsWith('client')) expect(err.name, what).toMatch(/^KafkaJS/);
      }
    });
    // Nothing was written by the failed sinks.
    expect(await highWatermark()).toBe(before);
  });

  async function highWatermark(): Promise<number> {
    const admin = createKafka(client({ caFile: certs.caFile }), createLogger({ level: 'silent' })).admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(TOPIC);
      return offsets.reduce((n, p) => n + Number(p.high), 0);
    } finally {
      await admin.disconnect();
    }
  }
});
