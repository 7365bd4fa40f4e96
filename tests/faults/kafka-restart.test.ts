/**
 * The Kafka broker going away in the middle of a run: a private single-node broker (the Maven jars,
 * whatever KAFKA_BROKERS or Docker say: these tests stop it) is stopped (SIGTERM) and started again on
 * the same ports with the same data while the engine is reading; once at once (a restart), once after
 * being held down longer than the Kafka client retries a request (so that offset commits fail). The
 * engine is not restarted: it rides through the outage by itself, reports the source not ready
 * meanwhile, is ready again after, delivers every expected alert exactly once (counted at an
 * acknowledging memory sink, no dedup), and its committed offsets reach the end of the topic.
 * Partition state is checkpointed in a private Redis.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memorySink, type MemorySink } from '../../sinks/memory.js';
import { Engine } from '../../src/engine/engine.js';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { memorySource } from '../../src/sources/memory.js';
import { startKafka, startRedis, type KafkaService, type RedisService } from '../infra/index.js';
import { config } from '../helpers/collect.js';
import { BURSTS_T0, USER_PIPELINES, userBursts, type UserEvent } from '../helpers/user-bursts.js';

const FAR = BURSTS_T0 + 86_400_000;
const PARTITIONS = 2;
const USERS = 40;
const PER_USER = 75;

const detection = `
time: { maxOutOfOrderness: 0 }
${USER_PIPELINES}
sinks: [{ name: c, type: console }]
engine: { maxInflightBatches: 4 }
metrics: { enabled: false }
`;

function liveConfig(topic: string, brokers: string[], redisUrl: string): string {
  return `
name: kafka-restart
sources:
  - name: payments
    type: kafka
    topics: [${topic}]
    groupId: ${topic}-group
    sessionTimeout: 6000
    heartbeatInterval: 500
    maxBytesPerPartition: 4096
    bufferedBatches: 8
    client: { brokers: "${brokers.join(',')}", connectionTimeout: 1000, requestTimeout: 5000 }
state: { store: redis, redisUrl: "${redisUrl}", prefix: "${topic}", interval: 200ms }
${detection}`;
}

type Rec = UserEvent;

/** Events in time order, then markers far in the future (several keys, so every partition gets one) closing every window. */
function records(): Rec[] {
  const out: Rec[] = userBursts(USERS, PER_USER);
  for (let i = 0; i < 20; i++) out.push({ id: `marker-${i}`, ts: FAR, user: `MARK${i}` });
  return out;
}

/** An acknowledging memory sink whose writes take a little while, so that the input is read over a few seconds. */
function pacedSink(ms: number): MemorySink {
  const inner = memorySink('mem', ['alerts']);
  const write = inner.write.bind(inner);
  return Object.assign(inner, {
    async write(b: Parameters<MemorySink['write']>[0]) {
      await new Promise((r) => setTimeout(r, ms));
      await write(b);
    },
  });
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The pid of the broker JVM started in `dir` (its command line names `dir`/server.properties). */
function brokerPid(dir: string): number {
  const props = join(dir, 'server.properties');
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const args = cmdline.split('\0');
    if (args.includes('kafka.Kafka') && args.includes(props)) found.push(Number(entry));
  }
  if (found.length !== 1) throw new Error(`expected one broker process for ${props}, found ${found.length}`);
  return found[0];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A private broker from the Maven jars: never the shared one (KAFKA_BROKERS) nor a container, since it is restarted. */
async function privateKafka(): Promise<KafkaService> {
  const saved = { brokers: process.env.KAFKA_BROKERS, docker: process.env.VIGIE_DOCKER };
  delete process.env.KAFKA_BROKERS;
  process.env.VIGIE_DOCKER = '0';
  try {
    return await startKafka();
  } finally {
    if (saved.brokers === undefined) delete process.env.KAFKA_BROKERS;
    else process.env.KAFKA_BROKERS = saved.brokers;
    if (saved.docker === undefined) delete process.env.VIGIE_DOCKER;
    else process.env.VIGIE_DOCKER = saved.docker;
  }
}

describe('Kafka broker outage mid-stream', () => {
  let kafka: KafkaService;
  let redis: RedisService;
  let client: Kafka;
  const recs = records();
  let expected: string[];

  beforeAll(async () => {
    [kafka, redis] = await Promise.all([privateKafka(), startRedis({ persistence: true })]);
    client = new Kafka({ clientId: 'fault-test', brokers: kafka.brokers, logLevel: logLevel.NOTHING, connectionTimeout: 1000, retry: { retries: 3 } });
    // The reference: the same records, one partition, replayed from memory.
    const ref = memorySink('ref', ['alerts']);
    await new Engine({
      loaded: config(`sources: [{ name: payments, type: stdin }]\n${detection}`),
      mode: 'replay',
      sources: [memorySource(recs, { name: 'payments', batchSize: 100 })],
      sinks: [ref],
    }).run();
    expected = ref.alerts.map((a) => a.id);
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([kafka?.stop(), redis?.stop()]);
  });

  async function createTopic(topic: string): Promise<void> {
    const admin = client.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
  }

  /** Produces in small sends, so that the broker's record batches (and so the engine's batches) stay small. */
  async function produce(topic: string, part: Rec[]): Promise<void> {
    const producer = client.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      for (let i = 0; i < part.length; i += 25) {
        await producer.send({ topic, acks: -1, messages: part.slice(i, i + 25).map((r) => ({ key: r.user, value: JSON.stringify(r) })) });
      }
    } finally {
      await producer.disconnect();
    }
  }

  /** Records between the group's committed offsets and the ends of the topic's partitions. */
  async function committedBehind(admin: Admin, topic: string): Promise<number> {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId: `${topic}-group`, topics: [topic] });
    let behind = 0;
    for (const e of ends) {
      const c = Number(committed.partitions.find((p) => p.partition === e.partition)?.offset ?? -1);
      behind += Number(e.high) - Math.max(0, c);
    }
    return behind;
  }

  /**
   * Half the input in the topic, the engine started on it; once some alerts are out, `outage` runs
   * (readiness sampled meanwhile); then the rest of the input, and the checks.
   */
  async function scenario(topic: string, outage: () => Promise<void>): Promise<{ reasons: Set<string>; logs: string[] }> {
    expect(kafka.kind).toBe('maven');
    expect(new Set(expected).size).toBe(expected.length);
    expect(expected.length).toBeGreaterThan(300);
    await createTopic(topic);
    const split = Math.floor((USERS * PER_USER) / 2);
    await produce(topic, recs.slice(0, split));

    const logs: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logs.push(line) });
    const sink = pacedSink(25);
    const metrics = new EngineMetrics(false);
    const engine = new Engine({ loaded: config(liveConfig(topic, kafka.brokers, redis.url)), mode: 'live', sinks: [sink], metrics, logger });
    let failure: unknown;
    let finished = false;
    const running = engine.run().then(
      () => void (finished = true),
      (err: unknown) => {
        failure = err;
        finished = true;
      },
    );
    const sourceUp = async () => (await metrics.sourceUp.get()).values.find((v) => v.labels.source === 'payments')?.value;
    const admin = client.admin();
    const reasons = new Set<string>();
    try {
      // Mid-stream: some alerts out, most of the input still to come.
      await until('the first alerts', () => sink.alerts.length >= 20, 30_000);
      expect(engine.readiness()).toEqual({ ready: true, reasons: [] });
      expect(await sourceUp()).toBe(1);
      const alertsBefore = sink.alerts.length;

      let notReadySamples = 0;
      let sourceDownSamples = 0;
      let over = false;
      const done = outage().finally(() => (over = true));
      const t0 = performance.now();
      while (!over && performance.now() - t0 < 60_000) {
        const r = engine.readiness();
        if (!r.ready) notReadySamples++;
        for (const reason of r.reasons) reasons.add(reason);
        if ((await sourceUp()) === 0) sourceDownSamples++;
        await sleep(50);
      }
      await done;
      console.log(`${topic}: outage of ${Math.round(performance.now() - t0)} ms; alerts before: ${alertsBefore}/${expected.length}; readiness reasons: ${[...reasons].join(' | ')}`);
      expect(failure).toBeUndefined();
      expect(finished).toBe(false);
      expect(notReadySamples).toBeGreaterThan(0);
      expect(sourceDownSamples).toBeGreaterThan(0);
      expect([...reasons].some((r) => r.startsWith('source payments cannot read'))).toBe(true);

      // The rest of the input, produced once the broker is back.
      await produce(topic, recs.slice(split));

      // Everything arrives; the engine is ready again and committed everything it read.
      await until('every expected alert', () => sink.alerts.length >= expected.length, 60_000);
      await until('the source ready again', () => engine.readiness().ready, 30_000);
      await admin.connect();
      await until('offsets committed to the end', async () => (await committedBehind(admin, topic)) === 0, 30_000);
      await sleep(500); // anything repeated late would show now
      expect(failure).toBeUndefined();
      expect(finished).toBe(false);
      expect(engine.readiness()).toEqual({ ready: true, reasons: [] });
      expect(await sourceUp()).toBe(1);

      const ids = sink.alerts.map((a) => a.id);
      expect(ids.length).toBe(expected.length);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual([...expected].sort());
      // The outage came mid-stream: alerts before it, and more after.
      expect(alertsBefore).toBeGreaterThan(0);
      expect(alertsBefore).toBeLessThan(expected.length / 2);
    } finally {
      engine.stop();
      await Promise.race([running, sleep(10_000)]);
      await admin.disconnect().catch(() => {});
    }
    expect(failure).toBeUndefined();
    return { reasons, logs };
  }

  it('broker restart: rides through it by itself, not ready meanwhile, every alert exactly once, offsets committed to the end', async () => {
    expect(typeof kafka.restart).toBe('function');
    await scenario('fault-restart', () => kafka.restart!());
  }, 90_000);

  it('broker down longer than the client retries: offset commits fail without stopping the engine, and are made once it is back', async () => {
    const { logs } = await scenario('fault-down', async () => {
      const pid = brokerPid(kafka.dir as string);
      process.kill(pid, 'SIGTERM');
      await until('the broker to exit', () => !alive(pid), 30_000);
      await sleep(15_000); // kafkajs gives up a request after ~10 s of retries (5 retries, 300 ms doubling)
      await kafka.restart!(); // the process is gone already: this starts it again, same ports and data
    });
    // An offset commit was attempted while the broker was down, failed, and did not end the run.
    expect(logs.some((l) => l.includes('offset commit failed: cluster unreachable'))).toBe(true);
  }, 120_000);
});
