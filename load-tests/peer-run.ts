/**
 * Running the Kafka Streams peer of the standard job (load-tests/peers/kafka-streams) from a benchmark:
 * build its jar, fill an input topic with the load generator's payments, start it, follow its progress
 * lines and its CPU time, stop it, and read its alerts back.
 *
 * The peer prints `progress <epochMs> <records> <firstRecordMs> <lastRecordMs>` about once a second; its
 * rate over a drain is records / (last - first), JVM start-up and group join left out. Its alerts topic is
 * created here with `message.timestamp.type=LogAppendTime`, so that each alert's timestamp is the time
 * the broker appended it.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Kafka, Partitioners, logLevel, type Admin, type ITopicConfig } from 'kafkajs';
import { VigieError } from '../src/errors.js';
import { hashString } from '../src/generator/rng.js';
import { javaBin } from '../src/kafka/local-broker.js';
import { EventFactory, serialize, type EventOptions } from './loadgen.js';
import { repoRoot } from './replay-bench.js';
import { processCpuSeconds } from './proc-stats.js';

export const PEER_DIR = join(repoRoot, 'load-tests', 'peers', 'kafka-streams');
export const PEER_JAR = join(PEER_DIR, 'target', 'peer.jar');

/** One progress line of the peer. `firstMs` and `lastMs` are 0 before the first record. */
export interface PeerProgress {
  atMs: number;
  records: number;
  firstMs: number;
  lastMs: number;
}

/** The progress line's fields, or null for any other line. */
export function parseProgressLine(line: string): PeerProgress | null {
  const m = /^progress (\d+) (\d+) (\d+) (\d+)\s*$/.exec(line);
  if (!m) return null;
  return { atMs: Number(m[1]), records: Number(m[2]), firstMs: Number(m[3]), lastMs: Number(m[4]) };
}

async function runTool(cmd: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return await new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (b: Buffer): void => {
      output = (output + b.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (err) => reject(new VigieError('VIGIE_ERR_PEER', `cannot run ${cmd}: ${err.message} (the peer needs Java 17 and Maven)`, { cause: err })));
    child.once('close', (code) => resolve({ code, output }));
  });
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, name.name);
    newest = Math.max(newest, name.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** The peer's jar, built with Maven when it is missing or older than its sources. */
export async function ensurePeerJar(): Promise<string> {
  const sources = Math.max(newestSource(join(PEER_DIR, 'src')), statSync(join(PEER_DIR, 'pom.xml')).mtimeMs);
  if (existsSync(PEER_JAR) && statSync(PEER_JAR).mtimeMs >= sources) return PEER_JAR;
  const java = await runTool(javaBin(), ['-version'], PEER_DIR);
  if (java.code !== 0) throw new VigieError('VIGIE_ERR_PEER', `java -version failed:\n${java.output}`);
  const built = await runTool('mvn', ['-q', '-B', '-DskipTests', 'package'], PEER_DIR);
  if (built.code !== 0 || !existsSync(PEER_JAR)) throw new VigieError('VIGIE_ERR_PEER', `mvn package in ${PEER_DIR} failed (exit code ${built.code}):\n${built.output}`);
  return PEER_JAR;
}

export function peerKafka(brokers: string, clientId: string): Kafka {
  return new Kafka({ clientId, brokers: brokers.split(','), logLevel: logLevel.NOTHING });
}

/**
 * Creates a topic and waits for its leaders. A broker that has just created a topic may answer a metadata
 * request for it with UNKNOWN_TOPIC_OR_PARTITION, which kafkajs does not retry: asked again for 30 s.
 */
async function createTopic(admin: Admin, topic: ITopicConfig): Promise<void> {
  try {
    await admin.createTopics({ topics: [topic], waitForLeaders: true });
    return;
  } catch (err) {
    if ((err as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
  }
  for (const until = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 200))) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic.topic] });
      if (meta.topics[0]?.partitions.every((p) => p.leader >= 0)) return;
    } catch (err) {
      if (Date.now() > until) throw err;
    }
    if (Date.now() > until) throw new VigieError('VIGIE_ERR_PEER', `topic ${topic.topic} has no leader 30 s after its creation`);
  }
}

/** Creates the alerts topic (one partition, broker append time as record timestamps) unless it exists. */
export async function createAlertsTopic(kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = await admin.listTopics();
    if (topics.includes(topic)) return;
    await createTopic(admin, { topic, numPartitions: 1, configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] });
  } finally {
    await admin.disconnect();
  }
}

export interface InputOptions extends EventOptions {
  events: number;
  /** Event time of the first payment (ms); payments follow at `eventRate` per second of event time. */
  start: number;
  eventRate: number;
  partitions: number;
}

/** The load generator's payments, keyed by customer, each with its partition hash(customer) mod partitions. */
export function paymentRecords(o: InputOptions): Array<{ key: string; value: string; ts: number; partition: number }> {
  const factory = new EventFactory(o);
  const out = [];
  for (let i = 0; i < o.events; i++) {
    const e = factory.next(o.start + Math.floor((i * 1000) / o.eventRate));
    out.push({ key: e.customer, value: serialize(e, o.start, 0), ts: e.ts, partition: hashString(e.customer) % o.partitions });
  }
  return out;
}

/**
 * Creates `topic` with `partitions` and writes the records to it, in their order, then one record of type
 * `end` per partition `endAfterMs` after the last payment (it moves the peer's watermark past every
 * payment and window). Returns the number of records written.
 */
export async function fillInputTopic(kafka: Kafka, topic: string, partitions: number, records: Array<{ key: string; value: string; ts: number; partition: number }>, endAfterMs: number): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createTopic(admin, { topic, numPartitions: partitions });
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 5000) {
      await producer.send({ topic, acks: -1, messages: records.slice(i, i + 5000).map((r) => ({ key: r.key, value: r.value, partition: r.partition })) });
    }
    const end = records.reduce((m, r) => Math.max(m, r.ts), 0) + endAfterMs;
    const markers = Array.from({ length: partitions }, (_, p) => ({ partition: p, key: 'end', value: JSON.stringify({ id: `end-${p}`, type: 'end', ts: end }) }));
    await producer.send({ topic, acks: -1, messages: markers });
  } finally {
    await producer.disconnect();
  }
  return records.length + partitions;
}

export interface PeerOptions {
  brokers: string;
  inputTopic: string;
  alertsTopic: string;
  applicationId: string;
  stateDir: string;
  threads?: number;
  /** Kafka Streams' commit.interval.ms; its default (30 s) when absent. */
  commitIntervalMs?: number;
  jar?: string;
  /** More arguments for the peer (e.g. `--idle-exit 10`). */
  extraArgs?: string[];
}

/** A drain measured by the peer's progress lines. */
export interface Drain {
  records: number;
  firstMs: number;
  lastMs: number;
  recordsPerSecond: number;
  /** CPU seconds of the JVM from its last progress line before the first record to the line that reached the count. */
  cpuSeconds: number;
}

export interface PeerHandle {
  pid: number;
  /** The latest progress line (records 0 before any). */
  readonly progress: PeerProgress;
  /** Lines of stdout that are not progress lines (e.g. the summary of --idle-exit). */
  readonly lines: string[];
  /** CPU seconds of the JVM (and children) so far; the last value sampled once it has exited. */
  cpuSeconds(): number;
  /** Resolves once `records` records were processed; rejects if the peer exits or `timeoutMs` passes first. */
  waitProcessed(records: number, timeoutMs: number): Promise<Drain>;
  /** Resolves when the peer exits by itself. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (the peer closes and commits), then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the peer (its jar built when needed, its alerts topic created). */
export async function startPeer(o: PeerOptions): Promise<PeerHandle> {
  const jar = o.jar ?? (await ensurePeerJar());
  await createAlertsTopic(peerKafka(o.brokers, `${o.applicationId}-admin`), o.alertsTopic);
  const args = ['-jar', jar, '--bootstrap', o.brokers, '--input', o.inputTopic, '--output', o.alertsTopic, '--application-id', o.applicationId,
    '--state-dir', o.stateDir, '--threads', String(o.threads ?? 1)];
  if (o.commitIntervalMs !== undefined) args.push('--commit-interval-ms', String(o.commitIntervalMs));
  args.push(...(o.extraArgs ?? []));
  const child = spawn(javaBin(), args, { cwd: PEER_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  if (pid === undefined) {
    const err = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new VigieError('VIGIE_ERR_PEER', `cannot run ${javaBin()}: ${err.message} (the peer needs Java 17)`, { cause: err });
  }
  let progress: PeerProgress = { atMs: Date.now(), records: 0, firstMs: 0, lastMs: 0 };
  let cpu = 0;
  const sample = (): number => (cpu = processCpuSeconds(pid) ?? cpu);
  const sampler = setInterval(sample, 500);
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  /** CPU at the last progress line without records, and at each line since. */
  let cpuBefore = 0;
  let cpuAtLine = 0;
  createInterface({ input: child.stdout }).on('line', (line) => {
    const p = parseProgressLine(line);
    if (p === null) {
      lines.push(line);
      return;
    }
    cpuAtLine = sample();
    if (p.records === 0) cpuBefore = cpuAtLine;
    progress = p;
    for (const l of listeners) l();
  });
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      clearInterval(sampler);
      exit = { code, signal };
      for (const l of listeners) l();
      resolve(exit);
    });
  });
  const why = (): string => `${stderr.trim().split('\n').slice(-15).join('\n')}`;

  return {
    pid,
    get progress() {
      return progress;
    },
    lines,
    cpuSeconds: () => (exit === undefined ? sample() : cpu),
    exited,
    waitProcessed: (records, timeoutMs) =>
      new Promise<Drain>((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        const check = (): void => {
          if (progress.records >= records) {
            done();
            const seconds = Math.max(1e-3, (progress.lastMs - progress.firstMs) / 1000);
            resolve({ records: progress.records, firstMs: progress.firstMs, lastMs: progress.lastMs, recordsPerSecond: progress.records / seconds, cpuSeconds: cpuAtLine - cpuBefore });
          } else if (exit !== undefined) {
            done();
            reject(new VigieError('VIGIE_ERR_PEER', `the peer exited (code ${exit.code}, signal ${exit.signal}) after ${progress.records} of ${records} records:\n${why()}`));
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new VigieError('VIGIE_ERR_PEER', `the peer processed ${progress.records} of ${records} records in ${timeoutMs / 1000} s:\n${why()}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
    stop: async (graceMs = 30_000) => {
      if (exit !== undefined) return exit;
      sample();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export interface PeerAlert {
  detector: string;
  key: string;
  /** The triggering event's id; for beneficiaries-1h, the window "start-end". */
  trigger: string;
  /** The record's timestamp: with LogAppendTime, when the broker appended it. */
  appendMs: number;
}

/** Reads `topic` from the beginning up to the end it had when called (its high watermarks). */
export async function readAlerts(kafka: Kafka, topic: string, opts: { timeoutMs: number }): Promise<PeerAlert[]> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `${topic}-reader-${Date.now()}`;
  const alerts: PeerAlert[] = [];
  try {
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
    const left = new Set([...ends].filter(([, high]) => high > 0).map(([p]) => p));
    if (left.size === 0) return alerts;
    const consumer = kafka.consumer({ groupId });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      let finished!: () => void;
      const all = new Promise<void>((resolve) => (finished = resolve));
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          const offset = Number(message.offset);
          const high = ends.get(partition) ?? 0;
          if (offset >= high) return;
          const a = JSON.parse(message.value?.toString() ?? '{}') as { detector: string; key: string; eventId: string };
          alerts.push({ detector: a.detector, key: a.key, trigger: a.eventId, appendMs: Number(message.timestamp) });
          if (offset === high - 1) left.delete(partition);
          if (left.size === 0) finished();
        },
      });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new VigieError('VIGIE_ERR_PEER', `read ${alerts.length} alerts of ${topic} in ${opts.timeoutMs / 1000} s, not all`)), opts.timeoutMs);
      });
      try {
        await Promise.race([all, late]);
      } finally {
        clearTimeout(timer);
      }
    } finally {
      await consumer.disconnect();
    }
    await admin.deleteGroups([groupId]).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
  return alerts;
}
