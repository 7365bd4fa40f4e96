/**
 * `vigie kafka-local` (`npm run kafka:local`): a single-node Kafka broker in the foreground, for
 * trying Vigie on a real topic on a machine with Java and no Docker. The broker is the one the tests
 * run (src/kafka/local-broker.ts); its data stays in --dir between starts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { Command } from 'commander';
import { VigieError } from '../errors.js';
import {
  brokerCommand,
  brokerLayout,
  brokerLogs,
  describeExit,
  ensureKafkaArtifacts,
  formatStorage,
  isFormatted,
  kafkaVersion,
  plainListeners,
  waitKafkaReady,
  writeBrokerFiles,
  type BrokerLayout,
} from '../kafka/local-broker.js';
import { int } from './options.js';
import { onStopSignals } from './signals.js';

/** The topics config/kafka.yaml and config/kafka-local.yaml read and write (a test keeps them in step). */
export const DEMO_TOPICS = ['payments', 'vigie-alerts', 'vigie-dead-letters'] as const;

/** Kafka's controlled shutdown of one node takes seconds; past this the broker is killed. */
const STOP_GRACE_MS = 30_000;

const SETPRIV = process.platform === 'linux' && existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined;

interface Options {
  dir: string;
  port: number;
  partitions: number;
  topics: string;
}

const say = (line: string): void => {
  process.stdout.write(`kafka-local: ${line}\n`);
};

/** Binding first gives a clear message; the JVM would only log a BindException deep in its log. */
function checkPortFree(port: number): Promise<void> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) =>
      reject(new VigieError('VIGIE_ERR_BROKER', `cannot listen on 127.0.0.1:${port}: ${err.code === 'EADDRINUSE' ? 'the port is in use (another broker?)' : err.message}; choose another with --port`, { cause: err })),
    );
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolvePort()));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr !== null && typeof addr === 'object' ? resolvePort(addr.port) : reject(new VigieError('VIGIE_ERR_BROKER', 'no free loopback port for the controller'))));
    });
  });
}

/**
 * The JVM in a process group of its own, so that Ctrl-C reaches only us and the broker gets one
 * orderly SIGTERM; under `setpriv --pdeathsig` it still dies with us if we are killed outright.
 */
function launch(libs: string, layout: BrokerLayout): ChildProcess {
  const { file, args } = brokerCommand(libs, layout);
  const out = openSync(layout.stdoutLog, 'a');
  try {
    const [cmd, argv] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', file, ...args]] : [file, args];
    return spawn(cmd, argv, { cwd: layout.dir, detached: true, stdio: ['ignore', out, out] });
  } finally {
    closeSync(out);
  }
}

/** Creates the missing topics; describes each topic, in the order asked. */
async function createTopics(kafka: Kafka, topics: string[], partitions: number): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length > 0) await admin.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: partitions })), waitForLeaders: true });
    const meta = await admin.fetchTopicMetadata({ topics });
    const count = new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
    return topics.map((t) => `${t} (${count.get(t)} partition${count.get(t) === 1 ? '' : 's'}${missing.includes(t) ? ', created' : ''})`);
  } finally {
    await admin.disconnect();
  }
}

/**
 * A fresh broker creates its transaction-state and consumer-offsets topics on first use and answers
 * "coordinator is loading" meanwhile, which kafkajs logs as errors (and a consumer as a crash) although
 * it retries: an idempotent producer's connect and a group lookup here keep the first `vigie produce`
 * and `vigie run` quiet.
 */
async function warmUpCoordinators(kafka: Kafka): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  await producer.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.describeGroups(['vigie-kafka-local-warm-up']);
  } finally {
    await admin.disconnect();
  }
}

async function kafkaLocal(opts: Options): Promise<void> {
  const topics = opts.topics.split(',').map((t) => t.trim()).filter(Boolean);
  const layout = brokerLayout(resolve(opts.dir));
  mkdirSync(layout.dir, { recursive: true });
  await checkPortFree(opts.port);
  const libs = await ensureKafkaArtifacts(process.stderr);
  const controllerPort = await freePort();
  writeBrokerFiles(layout, controllerPort, plainListeners(opts.port, controllerPort));
  if (!isFormatted(layout)) {
    await formatStorage(libs, layout);
    say(`new cluster formatted in ${layout.dataDir}`);
  }

  const broker = launch(libs, layout);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((done) => {
    broker.once('error', (error) => done({ code: null, signal: null, error }));
    broker.once('exit', (code, signal) => done({ code, signal }));
  });
  let exit: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | undefined;
  void exited.then((e) => (exit = e));

  let stopRequested: (sig: NodeJS.Signals) => void = () => {};
  const stopping = new Promise<NodeJS.Signals>((done) => (stopRequested = done));
  let signals = 0;
  const removeHandlers = onStopSignals(
    (sig) => {
      signals++;
      say(`${sig}: stopping the broker (its data stays in ${layout.dir})`);
      broker.kill('SIGTERM');
      stopRequested(sig);
    },
    (sig) => {
      signals++;
      say(`${sig} again: killing the broker`);
      broker.kill('SIGKILL');
    },
  );
  try {
    const brokers = [`127.0.0.1:${opts.port}`];
    const ready = waitKafkaReady(brokers, { failed: () => (exit ? describeExit(exit) : undefined), logs: () => brokerLogs(layout) });
    // Ctrl-C while the broker starts: stop waiting for it, stop it.
    const first = await Promise.race([ready.then(() => 'ready' as const), stopping]);
    if (first === 'ready') {
      const kafka = new Kafka({ clientId: 'vigie-kafka-local', brokers, logLevel: logLevel.NOTHING });
      const setUp = createTopics(kafka, topics, opts.partitions).then(async (described) => {
        await warmUpCoordinators(kafka);
        return described;
      });
      const described = await Promise.race([setUp, stopping]);
      if (Array.isArray(described)) {
        say(`broker ready (Kafka ${kafkaVersion()}, data in ${layout.dir}, log in ${layout.brokerLog})`);
        if (described.length > 0) say(`topics: ${described.join(', ')}`);
        say(`bootstrap address: ${brokers[0]}`);
        say('Ctrl-C stops it; the next start with the same --dir finds the topics and their data again');
      }
    } else {
      ready.catch(() => {}); // the broker is being stopped: its readiness no longer matters
    }
    const end = await Promise.race([exited.then(() => 'exited' as const), stopping]);
    if (end === 'exited' && signals === 0) throw new VigieError('VIGIE_ERR_BROKER', `the broker ${describeExit(exit!)}.\n${brokerLogs(layout)}`);
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([exited.then(() => true), new Promise<boolean>((done) => (timer = setTimeout(() => done(false), STOP_GRACE_MS)))]);
    clearTimeout(timer);
    if (!inTime) {
      broker.kill('SIGKILL');
      await exited;
      throw new VigieError('VIGIE_ERR_BROKER', `the broker did not stop within ${STOP_GRACE_MS / 1000}s and was killed; it recovers its data at the next start.\n${brokerLogs(layout)}`);
    }
    if (signals > 1) throw new VigieError('VIGIE_ERR_BROKER', 'the broker was killed before it finished stopping; it recovers its data at the next start');
    say('broker stopped');
  } catch (err) {
    // Whatever went wrong, no JVM is left behind holding the port and the data folder.
    if (exit === undefined) {
      broker.kill('SIGTERM');
      const killer = setTimeout(() => broker.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(killer);
    }
    throw err;
  } finally {
    removeHandlers();
  }
}

export function addKafkaLocalCommand(program: Command): void {
  program
    .command('kafka-local')
    .description(
      'Run a single-node Kafka broker (KRaft, the official jars from Maven Central; Java 17 and Maven needed, no Docker) in the foreground on 127.0.0.1, ' +
        'create the demo topics, print the bootstrap address; SIGINT/SIGTERM stop it. The data stays in --dir for the next start. `npm run kafka:local -- --dir FOLDER`.',
    )
    .requiredOption('--dir <folder>', 'folder of the broker: config, data (data/) and log (broker.log); created if missing, reused if it holds a broker already')
    .option('--port <n>', 'client port on 127.0.0.1', int('port', 1, 65535), 9092)
    .option('--partitions <n>', 'partitions of each topic created', int('partitions', 1, 1000), 3)
    .option('--topics <list>', 'comma-separated topics to create when missing', DEMO_TOPICS.join(','))
    .action(kafkaLocal);
}
