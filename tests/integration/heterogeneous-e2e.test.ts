/**
 * End to end, heterogeneous sources: three `vigie run` instances in one consumer group read a
 * `payments` topic and a `logins` topic (3 partitions each, record key = customer), one of them is
 * SIGKILLed mid-stream, and the union of what the instances wrote must equal, as sets, what
 * `vigie replay` computes from the same events in files: nothing missing, nothing extra.
 *
 * Pipelines:
 * - by-customer: keyed like the topics (co-partitioned), tumbling 1m, count and sum; runs today.
 * - by-terminal (WITH_REKEY): keyed by terminal, which the topics are not partitioned by, so the events
 *   are re-keyed through Kafka; some terminals are shared by many customers, so its windows differ
 *   from by-customer's. WITH_TABLE: enriched from the compacted `terminals` table (merchant, risk).
 * - login-then-pay (WITH_JOIN): interval join of logins and payments by customer, a payment within 10m
 *   after a login from another device.
 *
 * Each feature is switched by a constant below (or VIGIE_E2E_FEATURES=rekey,table,join, any subset, empty
 * for none); with all three off the test runs the by-customer pipeline alone (plus the unused logins
 * source). Uses the shared services:
 *   KAFKA_BROKERS=127.0.0.1:9092 REDIS_URL=redis://127.0.0.1:6391 npx vitest run tests/integration/heterogeneous-e2e.test.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { Partitioners } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { covers, diffOutputs, Fleet, jsonlSinkYaml, outputsOf, replay, type OutLine, type Outputs } from '../helpers/fleet.js';
import { produce, uniqueTopic, withAdmin } from '../helpers/kafka.js';
import { services } from '../infra/index.js';
import { mulberry32 as rng } from '../helpers/rng.js';

/** (a) re-keying through Kafka internal repartition topics: the by-terminal pipeline. */
const REKEY = true;
/** (b) table enrichment: the terminals table, joined into by-terminal (needs REKEY to matter). */
const TABLE = true;
/** (c) interval join of logins and payments: the login-then-pay pipeline. */
const JOIN = true;
// VIGIE_E2E_FEATURES (a comma-separated subset of rekey,table,join; empty for none) overrides the three.
const features = process.env.VIGIE_E2E_FEATURES?.split(',').map((f) => f.trim());
const WITH_REKEY = features ? features.includes('rekey') : REKEY;
const WITH_TABLE = features ? features.includes('table') : TABLE;
const WITH_JOIN = features ? features.includes('join') : JOIN;

const PARTITIONS = 3;
const INSTANCES = 3;
const SEED = 20261205;
const CUSTOMERS = 150;
const TERMINALS = 40;
/** Terminals T00..T04 take half the payments: many customers each. */
const HUBS = 5;
const PAYMENTS = 3000;
const BURSTS = 40;
const LOGINS = 1200;
const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);
const SPAN = 40 * 60_000;
/**
 * Trailing markers far in the future, several per topic so that every partition (and every
 * repartitioned partition) gets one: they move each watermark past every window of the data. Their own
 * windows start at FAR and are left out of the comparison. Ahead of the wall clock, hence
 * `time.maxFutureSkew: 0`.
 */
const FAR = Date.UTC(2027, 0, 1);
const MARKERS = 40;

type Rec = Record<string, string | number>;

const pad = (n: number, w: number) => String(n).padStart(w, '0');
const customerName = (c: number) => `C${pad(c, 3)}`;
const terminalName = (t: number) => `T${pad(t, 2)}`;
const homeDevice = (c: number) => `dev-${customerName(c)}`;

/** Payments and logins, each sorted by time (so in order on every partition), then the markers. */
function generateEvents(): { payments: Rec[]; logins: Rec[]; terminals: Rec[] } {
  const r = rng(SEED);
  const pick = (n: number) => Math.floor(r() * n);
  // A few heavy customers, many light ones.
  const customer = () => (r() < 0.3 ? pick(15) : pick(CUSTOMERS));
  const terminal = () => (r() < 0.5 ? pick(HUBS) : HUBS + pick(TERMINALS - HUBS));
  const device = (c: number, other: number) => (r() < other ? `dev-X${pad(pick(30), 2)}` : homeDevice(c));
  const amount = () => Math.round((5 + r() ** 3 * 900) * 100) / 100;
  const payments: Rec[] = [];
  const pay = (c: number, t: number, ts: number) => payments.push({ customer: customerName(c), terminal: terminalName(t), amount: amount(), device: device(c, 0.15), ts, type: 'payment' });
  for (let i = 0; i < PAYMENTS; i++) pay(customer(), terminal(), T0 + pick(SPAN));
  // Bursts: one customer, 4 to 7 payments within 30 s at one terminal.
  for (let b = 0; b < BURSTS; b++) {
    const c = pick(CUSTOMERS);
    const t = terminal();
    const at = T0 + pick(SPAN - 30_000);
    for (let k = 4 + pick(4); k > 0; k--) pay(c, t, at + pick(30_000));
  }
  const logins: Rec[] = [];
  for (let i = 0; i < LOGINS; i++) {
    const c = customer();
    logins.push({ customer: customerName(c), device: device(c, 0.25), ts: T0 + pick(SPAN), type: 'login' });
  }
  const byTime = (a: Rec, b: Rec) => (a.ts as number) - (b.ts as number);
  payments.sort(byTime).forEach((p, i) => (p.id = `p-${pad(i, 5)}`));
  logins.sort(byTime).forEach((l, i) => (l.id = `l-${pad(i, 5)}`));
  for (let i = 0; i < MARKERS; i++) {
    payments.push({ id: `p-marker-${i}`, customer: `MARK${i}`, terminal: `MT${i}`, amount: 0, device: 'marker-p', ts: FAR, type: 'marker' });
    logins.push({ id: `l-marker-${i}`, customer: `MARK${i}`, device: 'marker-l', ts: FAR, type: 'marker' });
  }
  // The table: every terminal but the last (its payments are flagged as missing from the table).
  const terminals: Rec[] = [];
  for (let t = 0; t < TERMINALS - 1; t++) terminals.push({ terminal: terminalName(t), merchant: `M${t % 7}`, risk: Math.round(r() * 100) / 100 });
  return { payments, logins, terminals };
}

interface Names {
  payments: string;
  logins: string;
  terminals: string;
  group: string;
  prefix: string;
}

/** The config under test (the agreed syntax for partitionedBy, tables, enrich and join), with `sinks`. */
function config(n: Names, sinks: string): string {
  const client = 'client: { brokers: "${KAFKA_BROKERS}" }';
  const partitionedBy = WITH_REKEY || WITH_JOIN ? ', partitionedBy: customer' : '';
  // One group per source: kafkajs's round-robin assigner spreads every subscribed topic over every member
  // of a group, whatever each member subscribed to.
  const group = (s: string) => `groupId: ${n.group}-${s}, sessionTimeout: 6000, heartbeatInterval: 500`;
  let yaml = `
name: e2e
time: { maxOutOfOrderness: 0, maxFutureSkew: 0 }
sources:
  - { name: payments, type: kafka, topics: [${n.payments}], ${group('payments')}${partitionedBy}, ${client}, fields: { amount: number } }
  - { name: logins, type: kafka, topics: [${n.logins}], ${group('logins')}${partitionedBy}, ${client} }
`;
  if (WITH_TABLE) {
    yaml += `tables:
  - { name: terminals, type: kafka, topic: ${n.terminals}, key: terminal, ${client} }
`;
  }
  yaml += `pipelines:
  - name: by-customer
    sources: [payments]
    key: customer
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }, { name: total, fn: sum, field: amount }]
    detectors:
      - { name: burst, type: threshold, aggregate: n, op: '>=', value: 4, severity: high }
      - { name: big-total, type: threshold, aggregate: total, op: '>=', value: 1500, severity: medium }
`;
  if (WITH_REKEY) {
    yaml += `  - name: by-terminal
    sources: [payments]
    key: terminal
${WITH_TABLE ? '    enrich: [{ table: terminals, on: terminal, missing: flag }]\n' : ''}    window: { type: tumbling, size: 1m }
    aggregates:
      - { name: n, fn: count }
      - { name: customers, fn: distinct, field: customer }
${WITH_TABLE ? '      - { name: risk, fn: max, field: risk }\n      - { name: merchants, fn: distinct, field: merchant }\n' : ''}    detectors:
      - { name: shared-terminal, type: threshold, aggregate: customers, op: '>=', value: 10, severity: medium }
${WITH_TABLE ? "      - { name: risky-terminal, type: threshold, aggregate: risk, op: '>=', value: 0.9, minCount: 3, severity: high }\n" : ''}`;
  }
  if (WITH_JOIN) {
    yaml += `  - name: login-then-pay
    key: customer
    join: { left: { sources: [logins], as: login }, right: { sources: [payments], as: payment }, between: { lower: 0s, upper: 10m }, type: inner, differ: [device] }
    window: { type: tumbling, size: 10m }
    aggregates: [{ name: n, fn: count }]
    detectors:
      - { name: takeover, type: threshold, aggregate: n, op: '>=', value: 3, severity: high }
`;
  }
  yaml += `${sinks}state: { store: redis, redisUrl: "\${REDIS_URL}", prefix: "${n.prefix}", interval: 200ms, ttl: 1h }
metrics: { enabled: false }
engine: { batchSize: 500 }
`;
  return yaml;
}

/** Outputs of the data, not of the markers' own windows. */
const ofData = (l: OutLine) => (l.kind === 'result' ? (l.start ?? FAR) < FAR : l.kind === 'alert' ? (l.window?.start ?? l.eventTime ?? FAR) < FAR : false);

/** Kafka's default partition of a record key (murmur2, as the producer of the tests' helper uses). */
function partitionOf(topic: string, key: string): number {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: PARTITIONS }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0] }));
  return partitioner({ topic, partitionMetadata: partitionMetadata as never, message: { key, value: null } });
}

const records = (events: Rec[]) => events.map((e) => ({ key: String(e.customer), value: JSON.stringify(e) }));

let dir: string;
let names: Names;
let env: NodeJS.ProcessEnv;
let events: ReturnType<typeof generateEvents>;
let expected: Outputs;
let expectedLines: OutLine[];
let fleet: Fleet | undefined;

beforeAll(async () => {
  dir = tempDir('vigie-e2e-');
  console.log(`heterogeneous e2e: files and logs in ${dir}`);
  const { kafkaBrokers, redisUrl } = services();
  env = { KAFKA_BROKERS: kafkaBrokers.join(','), REDIS_URL: redisUrl };
  const id = uniqueTopic('e2e');
  names = { payments: `${id}-payments`, logins: `${id}-logins`, terminals: `${id}-terminals`, group: `${id}-g`, prefix: `vigie-test-${id}` };
  events = generateEvents();
  // The markers reach every partition of both topics (a repartitioned stream is checked by its results).
  const markerParts = new Set(events.payments.filter((e) => e.type === 'marker').map((e) => partitionOf(names.payments, String(e.customer))));
  expect(markerParts.size).toBe(PARTITIONS);
  await withAdmin((admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: names.payments, numPartitions: PARTITIONS },
        { topic: names.logins, numPartitions: PARTITIONS },
        ...(WITH_TABLE ? [{ topic: names.terminals, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] : []),
      ],
    }),
  );
  if (WITH_TABLE) await produce(names.terminals, events.terminals.map((t) => ({ key: String(t.terminal), value: JSON.stringify(t) })));

  // The reference: a replay of the same events from files (the table, if any, read from its topic).
  const inputs = { payments: join(dir, 'payments.ndjson'), logins: join(dir, 'logins.ndjson') };
  writeFileSync(inputs.payments, events.payments.map((e) => JSON.stringify(e)).join('\n') + '\n');
  writeFileSync(inputs.logins, events.logins.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const cfg = join(dir, 'replay.yaml');
  writeFileSync(cfg, config(names, ''));
  const r = replay({ config: cfg, inputs, out: join(dir, 'replay'), env });
  expectedLines = r.lines.filter(ofData);
  expected = outputsOf(expectedLines);
  const summary = r.summary as { deadLetters: { total: number } };
  expect(summary.deadLetters.total, JSON.stringify(summary.deadLetters)).toBe(0);
  // Enough of each pipeline for the comparison to mean something.
  const count = (pipeline: string, kind: string) => expectedLines.filter((l) => l.kind === kind && l.pipeline === pipeline).length;
  expect(count('by-customer', 'result')).toBeGreaterThan(1500);
  expect(count('by-customer', 'alert')).toBeGreaterThan(30);
  if (WITH_REKEY) {
    expect(count('by-terminal', 'result')).toBeGreaterThan(500);
    expect(count('by-terminal', 'alert')).toBeGreaterThan(10);
  }
  if (WITH_JOIN) {
    expect(count('login-then-pay', 'result')).toBeGreaterThan(100);
    expect(count('login-then-pay', 'alert')).toBeGreaterThan(5);
  }
}, 120_000);

afterAll(async () => {
  await fleet?.stopAll('SIGTERM', 10_000);
  if (names === undefined) return;
  await withAdmin((admin) => admin.deleteTopics({ topics: [names.payments, names.logins, ...(WITH_TABLE ? [names.terminals] : [])] })).catch(() => undefined);
  // This run's checkpoints only (never a flush: the Redis is shared).
  const redis = new Redis(env.REDIS_URL as string, { lazyConnect: true, maxRetriesPerRequest: 2 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${names.prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch {
    // Best effort: the keys expire anyway (state.ttl).
  } finally {
    redis.disconnect();
  }
}, 60_000);

describe('three instances on heterogeneous sources', () => {
  // The features on (all by default; VIGIE_E2E_FEATURES narrows them) are printed with a failure's diff.
  it("one SIGKILLed mid-stream: the union of outputs equals the replay's, for the pipelines keyed like the topic, re-keyed, enriched and joined", async () => {
    const data = (es: Rec[]) => es.filter((e) => e.type !== 'marker');
    const payments = data(events.payments);
    const logins = data(events.logins);
    const half = (es: Rec[]) => Math.floor(es.length / 2);
    // The first halves, then the fleet.
    await produce(names.payments, records(payments.slice(0, half(payments))));
    await produce(names.logins, records(logins.slice(0, half(logins))));
    fleet = Fleet.start({ dir, size: INSTANCES, name: 'e2e', env, config: (out) => config(names, jsonlSinkYaml(out)) });
    const byCustomer = expectedLines.filter((l) => l.kind === 'result' && l.pipeline === 'by-customer').length;
    const some = await fleet.until((ls) => ls.filter((l) => l.kind === 'result').length >= byCustomer / 10, 90_000);
    expect(some, `no results within 90 s\n${fleet.describe()}`).toBe(true);
    await sleep(1000);
    // Mid-stream: after some results, before the second halves exist.
    const killed = await fleet.stop(1, 'SIGKILL');
    expect(killed?.signal).toBe('SIGKILL');
    await produce(names.payments, records(payments.slice(half(payments))));
    await produce(names.logins, records(logins.slice(half(logins))));

    // Every payments partition read to its end: each by-customer window that closes before the last
    // event of its partition is out. Only then the markers, so that none overtakes data on its way
    // through a repartition topic.
    const lastOf = new Map<number, number>();
    for (const p of payments) {
      const part = partitionOf(names.payments, String(p.customer));
      lastOf.set(part, Math.max(lastOf.get(part) ?? -Infinity, p.ts as number));
    }
    const closable = new Set(
      expectedLines
        .filter((l) => l.kind === 'result' && l.pipeline === 'by-customer' && (l.end as number) <= (lastOf.get(partitionOf(names.payments, String(l.key))) ?? -Infinity))
        .map((l) => JSON.stringify([l.key, l.start])),
    );
    const read = await fleet.until((ls) => {
      const seen = new Set(ls.filter((l) => l.kind === 'result' && l.pipeline === 'by-customer').map((l) => JSON.stringify([l.key, l.start])));
      return [...closable].every((k) => seen.has(k));
    }, 60_000);
    // Not an assertion: what is missing shows in the comparison below.
    if (!read) console.warn(`by-customer results still missing after 60 s: going on with the markers\n${fleet.describe()}`);
    await sleep(2000);
    await produce(names.payments, records(events.payments.filter((e) => e.type === 'marker')));
    await produce(names.logins, records(events.logins.filter((e) => e.type === 'marker')));

    // Then everything the replay has, plus a moment for anything extra (a repeated id is no extra).
    await fleet.until((ls) => covers(outputsOf(ls, ofData), expected), 90_000);
    await sleep(1500);
    await fleet.stopAll('SIGTERM', 20_000);
    const diff = diffOutputs(expected, fleet.outputs(ofData));
    expect(diff, `outputs differ from the replay's\n${diff}\n${fleet.describe()}`).toBe('');
  }, 300_000);
});
