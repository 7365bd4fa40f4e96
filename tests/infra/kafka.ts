/**
 * A real Kafka broker for tests and benchmarks, found or started by itself:
 *   1. KAFKA_BROKERS set: that cluster, as it is (stop() leaves it alone);
 *   2. a Docker engine answers: the apache/kafka image through testcontainers;
 *   3. otherwise: the official broker jars, resolved from Maven Central by fetch-kafka.sh into
 *      ${VIGIE_CACHE_DIR:-~/.cache/vigie}, run as one JVM in KRaft combined mode (broker and
 *      controller, node 1) on two free loopback ports, with its data and logs in a temp dir.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { ManagedProcess, dockerAvailable, readyContainer, ownedTempDir, freePorts, infraDir, sleep, tail, tempDirCleanup, type ExitInfo } from './proc.js';

export type KafkaKind = 'env' | 'maven' | 'testcontainers';

export interface KafkaService {
  /** Bootstrap addresses, `host:port`. */
  brokers: string[];
  kind: KafkaKind;
  /** Stops what was started (nothing for 'env'); removes the temp dir; safe to call twice. */
  stop(): Promise<void>;
  /**
   * 'maven' only: stops the broker (SIGTERM) and starts it again on the same ports with the same
   * data (no reformat), resolving once it serves again. For fault tests.
   */
  restart?: () => Promise<void>;
  /** 'maven' only: the folder holding server.properties, data/, broker.log and stdout.log. */
  dir?: string;
}

export interface StartKafkaOptions {
  /**
   * 'maven' only: folder for the broker's data (data/) and its logs. Created if missing, formatted
   * only if not formatted yet, and kept after stop(). Default: a fresh temp dir, removed by stop().
   */
  logDir?: string;
  /**
   * Always a private broker from the Maven jars (whatever KAFKA_BROKERS or Docker say), whose client
   * listener is SASL_PLAINTEXT with this SCRAM mechanism only; the user is created when the storage is
   * formatted (`kafka-storage format --add-scram`). Controller and inter-broker traffic stay PLAINTEXT
   * on listeners of their own. No authorizer: any authenticated user may do anything.
   * Name and password: letters, digits and `-_.@~!#$%^&*+` only (the format tool's parser splits on `,=[]`).
   */
  sasl?: KafkaSaslCredentials;
  /**
   * Always a private broker from the Maven jars, whose client listener is SSL (SASL_SSL with `sasl`),
   * with a PEM keystore and truststore; controller and inter-broker traffic stay PLAINTEXT on listeners
   * of their own, as with `sasl`. See tests/infra/tls.ts for throwaway PEM files.
   */
  tls?: KafkaTlsOptions;
}

export interface KafkaTlsOptions {
  /** PEM file holding the broker's unencrypted PKCS#8 private key followed by its certificate chain. */
  keystoreFile: string;
  /** PEM file of the CA that client certificates must chain to; also what the readiness probe trusts. */
  caFile: string;
  /** `ssl.client.auth`: 'none' (default), 'requested', or 'required' (mutual TLS). */
  clientAuth?: 'none' | 'requested' | 'required';
  /** PEM client certificate and key for the readiness probe when clientAuth is 'required'. */
  probeCertFile?: string;
  probeKeyFile?: string;
}

export interface KafkaSaslCredentials {
  mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  username: string;
  password: string;
}

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;

/** The Kafka version: VIGIE_KAFKA_VERSION, else kafka.version in tests/infra/maven/pom.xml. */
export function kafkaVersion(): string {
  const fromEnv = process.env.VIGIE_KAFKA_VERSION?.trim();
  if (fromEnv) return fromEnv;
  const pom = readFileSync(join(infraDir(), 'maven', 'pom.xml'), 'utf8');
  const m = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom);
  if (!m) throw new Error('no <kafka.version> in tests/infra/maven/pom.xml');
  return m[1].trim();
}

let artifacts: Promise<string> | undefined;

/**
 * Resolves the broker's jars (Maven Central, then the cache; one `mvn` run the first time only) and
 * returns the folder holding them. The work is done by fetch-kafka.sh, which .ci/run also calls.
 */
export function ensureKafkaArtifacts(): Promise<string> {
  artifacts ??= new Promise<string>((resolve, reject) => {
    const script = join(infraDir(), 'fetch-kafka.sh');
    execFile('bash', [script], { maxBuffer: 32 * 1024 * 1024, timeout: 20 * 60_000 }, (err, stdout, stderr) => {
      const libs = String(stdout).trim().split('\n').pop()?.trim() ?? '';
      if (err !== null || libs === '' || !existsSync(libs)) {
        reject(new Error(`${script} failed: ${err?.message ?? 'no libs dir printed'}\n${String(stderr).trim().split('\n').slice(-30).join('\n')}`));
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

export async function startKafka(opts: StartKafkaOptions = {}): Promise<KafkaService> {
  const fromEnv = process.env.KAFKA_BROKERS?.trim();
  if (fromEnv && opts.sasl === undefined && opts.tls === undefined) {
    const brokers = fromEnv.split(',').map((b) => b.trim()).filter(Boolean);
    return { kind: 'env', brokers, stop: async () => {} };
  }
  if (opts.sasl === undefined && opts.tls === undefined && (await dockerAvailable())) return startKafkaContainer();
  return startKafkaLocal(opts);
}

/** Broker settings common to the local JVM and the container: one node, small, quick to rebalance. */
const SINGLE_NODE_SETTINGS: Record<string, string> = {
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

/** Ready = a kafkajs admin client gets a cluster description with a broker and a controller. */
async function waitKafkaReady(
  brokers: string[],
  failed: () => string | undefined,
  logs: () => string,
  sasl?: KafkaSaslCredentials,
  ssl?: TlsConnectionOptions,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = 'none';
  while (Date.now() < deadline) {
    const why = failed();
    if (why !== undefined) throw new Error(`Kafka broker ${why} before it was ready.\n${logs()}`);
    const admin = new Kafka({
      brokers,
      clientId: 'vigie-infra-probe',
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      requestTimeout: 3000,
      retry: { retries: 0 },
      ...(sasl && { sasl: { mechanism: sasl.mechanism.toLowerCase(), username: sasl.username, password: sasl.password } as SASLOptions }),
      ...(ssl && { ssl }),
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
    await sleep(250);
  }
  throw new Error(`Kafka at ${brokers.join(',')} not ready after ${READY_TIMEOUT_MS / 1000}s (last error: ${lastError}).\n${logs()}`);
}

function describeExit(e: ExitInfo): string {
  if (e.error) return `could not be started (${e.error.message})`;
  return e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
}

/** A Kafka cluster id: 16 random bytes, base64url without padding, not starting with '-'. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function javaBin(): string {
  const home = process.env.JAVA_HOME;
  return home && existsSync(join(home, 'bin', 'java')) ? join(home, 'bin', 'java') : 'java';
}

/** Runs a command; `secret` (if any) is masked in the error. */
function run(cmd: string, args: string[], secret?: string): Promise<void> {
  const mask = (text: string) => (secret ? text.replaceAll(secret, '***') : text);
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(mask(`${cmd} ${args.join(' ')} failed: ${err.message}\n${String(stdout)}${String(stderr)}`.trim())));
      else resolve();
    });
  });
}

/** The format tool's `--add-scram` parser splits on `,=[]"`: refuse what it would misread. */
const SCRAM_VALUE = /^[A-Za-z0-9\-_.@~!#$%^&*+]+$/;

/** What the readiness probe needs to speak TLS to a `tls` broker. */
function probeSsl(tls: KafkaTlsOptions | undefined): TlsConnectionOptions | undefined {
  if (tls === undefined) return undefined;
  return {
    ca: [readFileSync(tls.caFile, 'utf8')],
    ...(tls.probeCertFile !== undefined && { cert: readFileSync(tls.probeCertFile, 'utf8') }),
    ...(tls.probeKeyFile !== undefined && { key: readFileSync(tls.probeKeyFile, 'utf8') }),
  };
}

async function startKafkaLocal(opts: StartKafkaOptions): Promise<KafkaService> {
  const sasl = opts.sasl;
  const tls = opts.tls;
  const probeTls = probeSsl(tls);
  if (sasl !== undefined) {
    if (sasl.mechanism !== 'SCRAM-SHA-256' && sasl.mechanism !== 'SCRAM-SHA-512') throw new Error(`startKafka: unsupported SASL mechanism ${String(sasl.mechanism)}`);
    if (!SCRAM_VALUE.test(sasl.username) || !SCRAM_VALUE.test(sasl.password)) {
      throw new Error('startKafka: SASL username and password must be non-empty and use only letters, digits and -_.@~!#$%^&*+');
    }
  }
  const libs = await ensureKafkaArtifacts();
  const dir = opts.logDir ?? ownedTempDir('vigie-kafka-');
  mkdirSync(dir, { recursive: true });
  const removeDir = opts.logDir === undefined ? tempDirCleanup(dir) : () => {};
  const dataDir = join(dir, 'data');
  const propsFile = join(dir, 'server.properties');
  const log4jFile = join(dir, 'log4j2.properties');
  const log4jToolsFile = join(dir, 'log4j2-tools.properties');
  const brokerLog = join(dir, 'broker.log');
  const stdoutLog = join(dir, 'stdout.log');
  const classpath = `${libs}/*`;
  const jvmLogging = [`-Dlog4j2.configurationFile=${log4jFile}`, `-Dkafka.logs.dir=${dir}`];
  const logs = () =>
    `--- ${brokerLog} (tail) ---\n${tail(brokerLog)}\n--- ${stdoutLog} (tail) ---\n${tail(stdoutLog, 20)}`;

  const log4j = (file: string, level: string) =>
    [
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
  writeFileSync(log4jFile, log4j(brokerLog, 'INFO'));
  // the storage tool logs its own config dump: kept out of broker.log
  writeFileSync(log4jToolsFile, log4j(join(dir, 'format.log'), 'WARN'));

  // SASL and/or TLS: clients on SASL_PLAINTEXT (SCRAM only), SSL or SASL_SSL, the broker's own traffic
  // on a PLAINTEXT listener of its own.
  const secured = sasl !== undefined || tls !== undefined;
  const clientListener = sasl === undefined ? 'SSL' : tls === undefined ? 'SASL_PLAINTEXT' : 'SASL_SSL';
  const listenerProps = (port: number, controllerPort: number, internalPort: number): Record<string, string> =>
    !secured
      ? {
          listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
          'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
          'inter.broker.listener.name': 'PLAINTEXT',
          'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
        }
      : {
          listeners: `${clientListener}://127.0.0.1:${port},INTERNAL://127.0.0.1:${internalPort},CONTROLLER://127.0.0.1:${controllerPort}`,
          'advertised.listeners': `${clientListener}://127.0.0.1:${port},INTERNAL://127.0.0.1:${internalPort}`,
          'inter.broker.listener.name': 'INTERNAL',
          'listener.security.protocol.map': `${clientListener}:${clientListener},INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT`,
          ...(sasl && {
            'sasl.enabled.mechanisms': sasl.mechanism,
            [`listener.name.${clientListener.toLowerCase()}.${sasl.mechanism.toLowerCase()}.sasl.jaas.config`]: 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
          }),
          ...(tls && {
            [`listener.name.${clientListener.toLowerCase()}.ssl.keystore.type`]: 'PEM',
            [`listener.name.${clientListener.toLowerCase()}.ssl.keystore.location`]: tls.keystoreFile,
            [`listener.name.${clientListener.toLowerCase()}.ssl.truststore.type`]: 'PEM',
            [`listener.name.${clientListener.toLowerCase()}.ssl.truststore.location`]: tls.caFile,
            [`listener.name.${clientListener.toLowerCase()}.ssl.client.auth`]: tls.clientAuth ?? 'none',
          }),
        };
  const writeProps = (port: number, controllerPort: number, internalPort: number) =>
    writeFileSync(
      propsFile,
      Object.entries({
        'process.roles': 'broker,controller',
        'node.id': '1',
        'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
        ...listenerProps(port, controllerPort, internalPort),
        'controller.listener.names': 'CONTROLLER',
        'log.dirs': dataDir,
        ...SINGLE_NODE_SETTINGS,
      })
        .map(([k, v]) => `${k}=${v}`)
        .join('\n') + '\n',
    );

  const launch = () =>
    new ManagedProcess(
      javaBin(),
      [
        '-Xms256m',
        '-Xmx768m',
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-XX:+ExitOnOutOfMemoryError',
        '-Djava.awt.headless=true',
        ...jvmLogging,
        '-cp',
        classpath,
        'kafka.Kafka',
        propsFile,
      ],
      { outFile: stdoutLog, cwd: dir },
    );

  let proc: ManagedProcess | undefined;
  let brokers: string[] = [];
  try {
    // A port picked as free can be taken by someone else before the JVM binds it: then new ports.
    for (let attempt = 1; ; attempt++) {
      const [port, controllerPort, internalPort] = await freePorts(secured ? 3 : 2);
      brokers = [`127.0.0.1:${port}`];
      writeProps(port, controllerPort, internalPort);
      if (!existsSync(join(dataDir, 'meta.properties'))) {
        const toolLogging = [`-Dlog4j2.configurationFile=${log4jToolsFile}`];
        const scram = sasl === undefined ? [] : ['--add-scram', `${sasl.mechanism}=[name=${sasl.username},password=${sasl.password}]`];
        await run(javaBin(), [...toolLogging, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', propsFile, ...scram], sasl?.password);
      }
      const p = launch();
      proc = p;
      try {
        await waitKafkaReady(brokers, () => (p.exit ? describeExit(p.exit) : undefined), logs, sasl, probeTls);
        break;
      } catch (err) {
        await p.stop(STOP_GRACE_MS);
        const bindFailure = /BindException|Address already in use/.test(tail(brokerLog, 200) + tail(stdoutLog, 50));
        if (!bindFailure || attempt >= 3) throw err;
      }
    }
  } catch (err) {
    removeDir();
    throw err;
  }

  let stopped = false;
  return {
    kind: 'maven',
    brokers,
    dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await proc?.stop(STOP_GRACE_MS);
      removeDir();
    },
    async restart() {
      if (stopped) throw new Error('Kafka service already stopped');
      await proc?.stop(STOP_GRACE_MS);
      const p = launch();
      proc = p;
      await waitKafkaReady(brokers, () => (p.exit ? describeExit(p.exit) : undefined), logs, sasl, probeTls);
    },
  };
}

/** The container path (cannot run on machines without a Docker engine): kept small on purpose. */
async function startKafkaContainer(): Promise<KafkaService> {
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import('testcontainers');
  const host = (await getContainerRuntimeClient()).info.containerRuntime.host;
  // The advertised address must be the one clients dial, so the host port is fixed up front.
  const [port] = await freePorts(1);
  const env: Record<string, string> = {
    KAFKA_NODE_ID: '1',
    KAFKA_PROCESS_ROLES: 'broker,controller',
    KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
    KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${host}:${port}`,
    KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
    KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
    KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
  };
  for (const [k, v] of Object.entries(SINGLE_NODE_SETTINGS)) env[`KAFKA_${k.toUpperCase().replaceAll('.', '_')}`] = v;
  const container = await new GenericContainer(process.env.VIGIE_KAFKA_IMAGE ?? `apache/kafka:${kafkaVersion()}`)
    .withExposedPorts({ container: 9092, host: port })
    .withEnvironment(env)
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .withStartupTimeout(180_000)
    .start();
  const brokers = [`${host}:${port}`];
  const stop = await readyContainer(container, () => waitKafkaReady(brokers, () => undefined, () => ''));
  return { kind: 'testcontainers', brokers, stop };
}
