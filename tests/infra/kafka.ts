/**
 * A real Kafka broker for tests and benchmarks, found or started by itself:
 *   1. KAFKA_BROKERS set: that cluster, as it is (stop() leaves it alone);
 *   2. a Docker engine answers: the apache/kafka image through testcontainers;
 *   3. otherwise: the official broker jars from Maven Central (ops/kafka/fetch-kafka.sh, cached in
 *      ${VIGIE_CACHE_DIR:-~/.cache/vigie}), run as one JVM in KRaft combined mode (broker and
 *      controller, node 1) on free loopback ports, with its data and logs in a temp dir. The broker
 *      itself is src/kafka/local-broker.ts, the same one `npm run kafka:local` runs; what is here is
 *      what only tests need: security variants, throwaway folders, restarts, processes that die with us.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import {
  SINGLE_NODE_SETTINGS,
  brokerCommand,
  brokerLayout,
  brokerLogs,
  describeExit,
  ensureKafkaArtifacts,
  failedToBind,
  formatStorage,
  isFormatted,
  kafkaVersion,
  plainListeners,
  waitKafkaReady,
  writeBrokerFiles,
} from '../../src/kafka/local-broker.js';
import { ManagedProcess, dockerAvailable, readyContainer, ownedTempDir, freePorts, tempDirCleanup } from './proc.js';

export { ensureKafkaArtifacts, kafkaVersion };

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

const STOP_GRACE_MS = 15_000;

export async function startKafka(opts: StartKafkaOptions = {}): Promise<KafkaService> {
  const fromEnv = process.env.KAFKA_BROKERS?.trim();
  if (fromEnv && opts.sasl === undefined && opts.tls === undefined) {
    const brokers = fromEnv.split(',').map((b) => b.trim()).filter(Boolean);
    return { kind: 'env', brokers, stop: async () => {} };
  }
  if (opts.sasl === undefined && opts.tls === undefined && (await dockerAvailable())) return startKafkaContainer();
  return startKafkaLocal(opts);
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
  const probeSasl = sasl && ({ mechanism: sasl.mechanism.toLowerCase(), username: sasl.username, password: sasl.password } as SASLOptions);
  const libs = await ensureKafkaArtifacts();
  const dir = opts.logDir ?? ownedTempDir('vigie-kafka-');
  mkdirSync(dir, { recursive: true });
  const removeDir = opts.logDir === undefined ? tempDirCleanup(dir) : () => {};
  const layout = brokerLayout(dir);
  const logs = () => brokerLogs(layout);

  // SASL and/or TLS: clients on SASL_PLAINTEXT (SCRAM only), SSL or SASL_SSL, the broker's own traffic
  // on a PLAINTEXT listener of its own.
  const secured = sasl !== undefined || tls !== undefined;
  const clientListener = sasl === undefined ? 'SSL' : tls === undefined ? 'SASL_PLAINTEXT' : 'SASL_SSL';
  const listenerProps = (port: number, controllerPort: number, internalPort: number): Record<string, string> =>
    !secured
      ? plainListeners(port, controllerPort)
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

  const launch = () => {
    const { file, args } = brokerCommand(libs, layout);
    return new ManagedProcess(file, args, { outFile: layout.stdoutLog, cwd: dir });
  };
  const ready = (p: ManagedProcess) =>
    waitKafkaReady(brokers, { failed: () => (p.exit ? describeExit(p.exit) : undefined), logs, sasl: probeSasl, ssl: probeTls });

  let proc: ManagedProcess | undefined;
  let brokers: string[] = [];
  try {
    // A port picked as free can be taken by someone else before the JVM binds it: then new ports.
    for (let attempt = 1; ; attempt++) {
      const [port, controllerPort, internalPort] = await freePorts(secured ? 3 : 2);
      brokers = [`127.0.0.1:${port}`];
      writeBrokerFiles(layout, controllerPort, listenerProps(port, controllerPort, internalPort));
      if (!isFormatted(layout)) {
        const scram = sasl === undefined ? [] : ['--add-scram', `${sasl.mechanism}=[name=${sasl.username},password=${sasl.password}]`];
        await formatStorage(libs, layout, scram, sasl?.password);
      }
      const p = launch();
      proc = p;
      try {
        await ready(p);
        break;
      } catch (err) {
        await p.stop(STOP_GRACE_MS);
        if (!failedToBind(layout) || attempt >= 3) throw err;
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
      await ready(p);
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
  const stop = await readyContainer(container, () => waitKafkaReady(brokers, { failed: () => undefined, logs: () => '' }));
  return { kind: 'testcontainers', brokers, stop };
}
