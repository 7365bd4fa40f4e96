/**
 * Kafka authentication, end to end, against a private broker whose client listener is
 * SASL_PLAINTEXT with SCRAM-SHA-256 only (tests/infra/kafka.ts, `startKafka({ sasl })`): the kafka
 * sink produces and the kafka source consumes as a SCRAM user with the password from an environment
 * variable; wrong credentials fail quickly and clearly (no hang, no retry loop); the password never
 * reaches an error message or a log line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create as createSink, schema as sinkSchema } from '../../sinks/kafka.js';
import { createKafka, kafkaClientSchema } from '../../src/kafka/client.js';
import { createLogger } from '../../src/log.js';
import { create as createSource, schema as sourceSchema } from '../../src/sources/kafka.js';
import { systemClock } from '../../src/types.js';
import { startKafka, type KafkaService } from '../infra/index.js';
import { alertBatch, sampleAlert } from '../helpers/alerts.js';
import { roundTrip } from '../helpers/kafka-roundtrip.js';
import { capturedLogger, failure, errorText } from '../helpers/capture.js';

const USER = 'vigie-sec';
const USER_PW = 'vigie-Scram-Secret-5e8b';
const WRONG_PW = 'wr0ng-Scram-Secret-13cd';
const SECRETS = [USER_PW, WRONG_PW];
const PW_ENV = 'VIGIE_SEC_KAFKA_PW';
const WRONG_ENV = 'VIGIE_SEC_KAFKA_WRONG';
const TOPIC = 'vigie-sec-alerts';

const alert = sampleAlert;

function expectNoSecret(text: string, what: string): void {
  for (const s of SECRETS) expect(text, `${what} leaks a password`).not.toContain(s);
}

describe('Kafka with SASL/SCRAM-SHA-256', () => {
  let kafka: KafkaService;
  const saved = { ...process.env };

  const client = (username: string, passwordEnv: string) =>
    kafkaClientSchema.parse({
      brokers: kafka.brokers.join(','),
      clientId: 'vigie-sec',
      sasl: { mechanism: 'scram-sha-256', username, passwordEnv },
      connectionTimeout: 2000,
      requestTimeout: 5000,
    });

  beforeAll(async () => {
    kafka = await startKafka({ sasl: { mechanism: 'SCRAM-SHA-256', username: USER, password: USER_PW } });
    process.env[PW_ENV] = USER_PW;
    process.env[WRONG_ENV] = WRONG_PW;
    const admin = createKafka(client(USER, PW_ENV), createLogger({ level: 'silent' })).admin();
    await admin.connect();
    try {
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic: TOPIC, numPartitions: 1, replicationFactor: 1 }] });
    } finally {
      await admin.disconnect();
    }
  }, 120_000);

  afterAll(async () => {
    await kafka?.stop();
    for (const k of [PW_ENV, WRONG_ENV]) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it('the broker refuses a client without SASL', async () => {
    const plain = kafkaClientSchema.parse({ brokers: kafka.brokers, connectionTimeout: 1000, requestTimeout: 2000 });
    const admin = createKafka(plain, createLogger({ level: 'silent' })).admin({ retry: { retries: 0 } });
    const t0 = Date.now();
    try {
      const err = await failure(admin.connect().then(() => admin.listTopics()));
      expect(err.name).toMatch(/^KafkaJS/);
    } finally {
      await admin.disconnect().catch(() => {});
    }
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it('the kafka sink produces and the kafka source consumes as the SCRAM user (passwordEnv), logging no password', async () => {
    const log = capturedLogger();
    const ids = await roundTrip(client(USER, PW_ENV), TOPIC, 'vigie-sec-group', [alert('sec-1', 'card-1'), alert('sec-2', 'card-2')], log.logger);
    expect(ids).toEqual(['sec-1', 'sec-2']);
    expectNoSecret(log.text(), 'the log');
  });

  it('a wrong password or an unknown user fails within 20 s with an authentication error naming no password', async () => {
    const log = capturedLogger();
    for (const [username, env] of [
      [USER, WRONG_ENV],
      ['nobody', PW_ENV],
    ] as const) {
      // the client directly
      const t0 = Date.now();
      const producer = createKafka(client(username, env), log.logger).producer();
      const err = await failure(producer.connect());
      await producer.disconnect().catch(() => {});
      expect(err.name, username).toBe('KafkaJSSASLAuthenticationError');
      expect(err.message, username).toMatch(/SASL SCRAM SHA256 authentication failed.*(invalid credentials|Authentication failed)/i);
      expectNoSecret(errorText(err), 'the error');
      expect(Date.now() - t0).toBeLessThan(20_000);

      // the sink: its write rejects, as quickly
      const t1 = Date.now();
      const sink = createSink(sinkSchema.parse({ name: 'secure', type: 'kafka', client: client(username, env), topics: { alerts: TOPIC } }), {
        baseDir: process.cwd(),
        stdout: process.stdout,
        logger: log.logger,
      });
      try {
        const sinkErr = await failure(sink.write(alertBatch([alert('sec-bad', 'card-9')])));
        expect(errorText(sinkErr)).toMatch(/authentication failed/i);
        expectNoSecret(errorText(sinkErr), 'the sink error');
      } finally {
        await sink.close().catch(() => {});
      }
      expect(Date.now() - t1).toBeLessThan(20_000);

      // the source: its batches reject, as quickly
      const t2 = Date.now();
      const abort = new AbortController();
      const source = createSource(sourceSchema.parse({ name: 'secure', type: 'kafka', client: client(username, env), topics: [TOPIC], groupId: 'vigie-sec-bad' }), {
        baseDir: process.cwd(),
        clock: systemClock,
        logger: log.logger,
        batchSize: 100,
        stdin: process.stdin,
        signal: abort.signal,
      });
      try {
        const sourceErr = await failure(source.batches()[Symbol.asyncIterator]().next());
        expect(errorText(sourceErr)).toMatch(/authentication failed/i);
        expectNoSecret(errorText(sourceErr), 'the source error');
      } finally {
        abort.abort();
        await source.close().catch(() => {});
      }
      expect(Date.now() - t2).toBeLessThan(20_000);
    }
    expectNoSecret(log.text(), 'the log');
  });
});
