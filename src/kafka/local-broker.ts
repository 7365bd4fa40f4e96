/**
 * A single-node Apache Kafka broker (KRaft, broker and controller in one JVM) run from the official
 * jars on Maven Central, with no Docker: the building blocks that `npm run kafka:local`
 * (src/cli/kafka-local.ts) and the test suite's broker (tests/infra/kafka.ts) share. The jars are
 * resolved once by ops/kafka/fetch-kafka.sh into ${VIGIE_CACHE_DIR:-~/.cache/vigie}; a broker
 * keeps its config, data (data/) and logs (broker.log, stdout.log) in one folder.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { VigieError } from '../errors.js';

/** Broker settings of a one-node cluster: replication factors of 1, small, quick to rebalance. */
export const SINGLE_NODE_SETTINGS: Readonly<Record<string, string>> = {
  'num.partitions': '1',
  'default.replication.factor': '1',
  'min.insync.replicas': '1',
  'offsets.topic.replication.factor': '1',
  'offsets.topic.num.partitions': '5',
  'transaction.state.log.replication.factor': '1',
  'transaction.state.log.min.isr': '1',
  'transaction.state.log.num.partitions': '5',
  'share.coordinator.state.topic.replication.factor': '1',
  'share.coordinator.state.topic.min.isr': '1',
  'group.initial.rebalance.delay.ms': '0',
  'auto.create.topics.enable': 'false',
  'delete.topic.enable': 'true',
  'log.segment.bytes': String(16 * 1024 * 1024),
  'log.retention.ms': String(60 * 60_000),
  'log.retention.bytes': String(256 * 1024 * 1024),
  'log.retention.check.interval.ms': '30000',
  'log.cleaner.dedupe.buffer.size': String(16 * 1024 * 1024),
  'num.network.threads': '2',
  'num.io.threads': '4',
  'num.recovery.threads.per.data.dir': '1',
};

const READY_TIMEOUT_MS = 60_000;

/**
 * A file of the package (e.g. ops/kafka/pom.xml), found by walking up from this module, which runs
 * from src/kafka/ under the tests and from dist/src/kafka/ once built.
 */
function packageFile(relative: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, relative))) return join(dir, relative);
    const up = dirname(dir);
    if (up === dir) throw new VigieError('VIGIE_ERR_BROKER', `${relative} not found above ${fileURLToPath(import.meta.url)}: the package is incomplete`);
    dir = up;
  }
}

/** The Kafka version: VIGIE_KAFKA_VERSION, else kafka.version in ops/kafka/pom.xml. */
export function kafkaVersion(): string {
  const fromEnv = process.env.VIGIE_KAFKA_VERSION?.trim();
  if (fromEnv) return fromEnv;
  const pomFile = packageFile(join('ops', 'kafka', 'pom.xml'));
  const m = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(readFileSync(pomFile, 'utf8'));
  if (!m) throw new VigieError('VIGIE_ERR_BROKER', `no <kafka.version> in ${pomFile}`);
  return m[1].trim();
}

let artifacts: Promise<string> | undefined;

/**
 * Resolves the broker's jars (Maven Central, then the cache; one `mvn` run the first time only) and
 * returns the folder holding them. `progress` receives the fetch script's messages as they come:
 * the first resolution takes a while, and a foreground command should say why it waits.
 */
export function ensureKafkaArtifacts(progress?: NodeJS.WritableStream): Promise<string> {
  artifacts ??= new Promise<string>((resolve, reject) => {
    const script = packageFile(join('ops', 'kafka', 'fetch-kafka.sh'));
    const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-16_384);
      progress?.write(chunk);
    });
    child.once('error', (err) => reject(new VigieError('VIGIE_ERR_BROKER', `cannot run ${script}: ${err.message}`, { cause: err })));
    child.once('close', (code) => {
      const libs = stdout.trim().split('\n').pop()?.trim() ?? '';
      if (code !== 0 || libs === '' || !existsSync(libs)) {
        const why = stderr.trim().split('\n').slice(-30).join('\n');
        reject(new VigieError('VIGIE_ERR_BROKER', `${script} could not resolve the Kafka jars (exit code ${code}):\n${why}`));
      } else {
        resolve(libs);
      }
    });
  });
  artifacts.catch(() => {
    artifacts = undefined; // a later call tries again
  });
  return artifacts;
}

/** Where a broker keeps its files, all under one folder. */
export interface BrokerLayout {
  dir: string;
  /** `log.dirs`: the topics' data and the KRaft metadata log. */
  dataDir: string;
  propsFile: string;
  log4jFile: string;
  log4jToolsFile: string;
  brokerLog: string;
  stdoutLog: string;
}

export function brokerLayout(dir: string): BrokerLayout {
  return {
    dir,
    dataDir: join(dir, 'data'),
    propsFile: join(dir, 'server.properties'),
    log4jFile: join(dir, 'log4j2.properties'),
    log4jToolsFile: join(dir, 'log4j2-tools.properties'),
    brokerLog: join(dir, 'broker.log'),
    stdoutLog: join(dir, 'stdout.log'),
  };
}

/** Listeners of a broker whose clients, controller and replication all speak PLAINTEXT on loopback. */
export function plainListeners(port: number, controllerPort: number): Record<string, string> {
  return {
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
  };
}

function log4j(file: string, level: string): string {
  return [
    'status = warn',
    'appender.file.type = File',
    'appender.file.name = FILE',
    `appender.file.fileName = ${file}`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    `rootLogger.level = ${level}`,
    'rootLogger.appenderRef.file.ref = FILE',
    'logger.request.name = kafka.request.logger',
    'logger.request.level = WARN',
    '',
  ].join('\n');
}

/**
 * Writes server.properties (node 1, broker and controller, the single-node settings, then
 * `listenerProps`, which name the ports and may add security) and the logging configs. Rewritten at
 * every start: ports may change between starts, the data does not depend on them.
 */
export function writeBrokerFiles(layout: BrokerLayout, controllerPort: number, listenerProps: Record<string, string>): void {
  const props: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    ...listenerProps,
    'controller.listener.names': 'CONTROLLER',
    'log.dirs': layout.dataDir,
    ...SINGLE_NODE_SETTINGS,
  };
  writeFileSync(layout.propsFile, Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  writeFileSync(layout.log4jFile, log4j(layout.brokerLog, 'INFO'));
  // the storage tool logs its own config dump: kept out of broker.log
  writeFileSync(layout.log4jToolsFile, log4j(join(layout.dir, 'format.log'), 'WARN'));
}

/** Whether the data folder holds a cluster already (formatting again would refuse or wipe its identity). */
export function isFormatted(layout: BrokerLayout): boolean {
  return existsSync(join(layout.dataDir, 'meta.properties'));
}

/** A Kafka cluster id: 16 random bytes, base64url without padding, not starting with '-'. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export function javaBin(): string {
  const home = process.env.JAVA_HOME;
  return home && existsSync(join(home, 'bin', 'java')) ? join(home, 'bin', 'java') : 'java';
}

/**
 * Formats the data folder for a new cluster (`kafka-storage format`); `extraArgs` such as
 * `--add-scram` go to the tool, `secret` (if any) is masked in the error.
 */
export function formatStorage(libs: string, layout: BrokerLayout, extraArgs: string[] = [], secret?: string): Promise<void> {
  const args = [`-Dlog4j2.configurationFile=${layout.log4jToolsFile}`, '-cp', `${libs}/*`, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', layout.propsFile, ...extraArgs];
  const mask = (text: string) => (secret ? text.replaceAll(secret, '***') : text);
  return new Promise((resolve, reject) => {
    execFile(javaBin(), args, { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new VigieError('VIGIE_ERR_BROKER', mask(`formatting ${layout.dataDir} failed: ${err.message}\n${String(stdout)}${String(stderr)}`.trim()), { cause: err }));
      else resolve();
    });
  });
}

/** The JVM command line of the broker (its stdout and stderr belong in layout.stdoutLog). */
export function brokerCommand(libs: string, layout: BrokerLayout): { file: string; args: string[] } {
  return {
    file: javaBin(),
    args: [
      '-Xms256m',
      '-Xmx768m',
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-XX:+ExitOnOutOfMemoryError',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${layout.log4jFile}`,
      `-Dkafka.logs.dir=${layout.dir}`,
      '-cp',
      `${libs}/*`,
      'kafka.Kafka',
      layout.propsFile,
    ],
  };
}

/** The last `lines` lines of a file, or '' when it cannot be read. */
export function tailOf(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n').trimEnd();
  } catch {
    return '';
  }
}

/** The end of the broker's logs, for messages about a broker that failed. */
export function brokerLogs(layout: BrokerLayout): string {
  return `--- ${layout.brokerLog} (tail) ---\n${tailOf(layout.brokerLog)}\n--- ${layout.stdoutLog} (tail) ---\n${tailOf(layout.stdoutLog, 20)}`;
}

/** Whether a failed start was the JVM finding its port taken (another process bound it first). */
export function failedToBind(layout: BrokerLayout): boolean {
  return /BindException|Address already in use/.test(tailOf(layout.brokerLog, 200) + tailOf(layout.stdoutLog, 50));
}

export function describeExit(e: { code: number | null; signal: NodeJS.Signals | null; error?: Error }): string {
  if (e.error) return `could not be started (${e.error.message})`;
  return e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
}

export interface WaitReadyOptions {
  /** Why the broker cannot become ready any more (its process is gone), or undefined. */
  failed: () => string | undefined;
  /** What to quote when it never gets ready. */
  logs: () => string;
  sasl?: SASLOptions;
  ssl?: TlsConnectionOptions;
  timeoutMs?: number;
}

/** Ready = a kafkajs admin client gets a cluster description with a broker and a controller. */
export async function waitKafkaReady(brokers: string[], opts: WaitReadyOptions): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? READY_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let lastError = 'none';
  while (Date.now() < deadline) {
    const why = opts.failed();
    if (why !== undefined) throw new VigieError('VIGIE_ERR_BROKER', `Kafka broker ${why} before it was ready.\n${opts.logs()}`);
    const admin = new Kafka({
      brokers,
      clientId: 'vigie-broker-probe',
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      requestTimeout: 3000,
      retry: { retries: 0 },
      ...(opts.sasl && { sasl: opts.sasl }),
      ...(opts.ssl && { ssl: opts.ssl }),
    }).admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length > 0 && cluster.controller !== null) return;
      lastError = 'no broker or no controller yet';
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    } finally {
      await admin.disconnect().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new VigieError('VIGIE_ERR_BROKER', `Kafka at ${brokers.join(',')} not ready after ${timeoutMs / 1000}s (last error: ${lastError}).\n${opts.logs()}`);
}
