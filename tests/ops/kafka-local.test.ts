/**
 * `npm run kafka:local`, the way a user runs it (the script's command line from package.json, on the
 * build of the global setup): a broker on a free port with its data in a temp dir, the demo topics,
 * the bootstrap address printed, SIGTERM stops it with exit code 0, and a second start on the same
 * folder finds the topics and a record written before.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_TOPICS } from '../../src/cli/kafka-local.js';
import { ROOT, tempDir } from '../helpers/cli.js';
import { freePort } from '../infra/index.js';

const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['kafka:local'];

interface Started {
  child: ChildProcess;
  bootstrap: string;
  output: () => string;
  exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();

/** Starts the script's command with `args`; resolves once it prints the bootstrap address. */
async function start(args: string[]): Promise<Started> {
  const [cmd, ...scriptArgs] = script.split(' ');
  expect(cmd).toBe('node');
  const child = spawn(process.execPath, [...scriptArgs, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  let gone = false;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => {
    gone = true;
    children.delete(child);
  });
  const deadline = Date.now() + 150_000;
  for (;;) {
    const m = /bootstrap address: (\S+)/.exec(out);
    if (m) return { child, bootstrap: m[1], output: () => out, exited };
    if (gone || Date.now() > deadline) throw new Error(`kafka:local did not print its bootstrap address:\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const dir = tempDir('vigie-kafka-local-');

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('npm run kafka:local', () => {
  it('is the CLI command kafka-local, built by its pre-script', () => {
    expect(script).toBe('node dist/src/cli/main.js kafka-local');
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['prekafka:local']).toBe('npm run build');
  });

  it('creates the topics the Kafka example configs read and write', () => {
    const named = new Set<string>();
    for (const file of ['config/kafka.yaml', 'config/kafka-local.yaml']) {
      const cfg = parse(readFileSync(join(ROOT, file), 'utf8')) as { sources: { type: string; topics?: string[] }[]; sinks: { type: string; topics?: Record<string, string> }[] };
      for (const s of cfg.sources) if (s.type === 'kafka') for (const t of s.topics ?? []) named.add(t);
      for (const s of cfg.sinks) if (s.type === 'kafka') for (const t of Object.values(s.topics ?? {})) named.add(t);
    }
    expect([...DEMO_TOPICS].sort()).toEqual([...named].sort());
  });

  it('runs a broker in the foreground, stops on SIGTERM with exit code 0, and keeps its data for the next start', async () => {
    const port = await freePort();
    const first = await start(['--dir', dir, '--port', String(port)]);
    expect(first.bootstrap).toBe(`127.0.0.1:${port}`);
    expect(first.output()).toContain('new cluster formatted');

    const kafka = new Kafka({ clientId: 'kafka-local-test', brokers: [first.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [...DEMO_TOPICS] });
      expect(meta.topics.map((t) => t.name).sort()).toEqual([...DEMO_TOPICS].sort());
      for (const t of meta.topics) expect(t.partitions).toHaveLength(3);
    } finally {
      await admin.disconnect();
    }
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    await producer.send({ topic: 'payments', acks: -1, messages: [{ key: 'C1', value: '{"id":"kept"}' }] });
    await producer.disconnect();

    first.child.kill('SIGTERM');
    expect(await first.exited, first.output()).toBe(0);
    expect(first.output()).toContain('broker stopped');

    // Same folder, another port: the cluster, its topics and the record are still there.
    const port2 = await freePort();
    const second = await start(['--dir', dir, '--port', String(port2)]);
    expect(second.output()).not.toContain('new cluster formatted');
    expect(second.output()).toMatch(/payments \(3 partitions\)/);
    expect(second.output()).not.toMatch(/created/);
    const again = new Kafka({ clientId: 'kafka-local-test', brokers: [second.bootstrap], logLevel: logLevel.NOTHING });
    const consumer = again.consumer({ groupId: 'kafka-local-test', sessionTimeout: 6000, heartbeatInterval: 500 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: ['payments'], fromBeginning: true });
      const values: string[] = [];
      await consumer.run({ eachMessage: async ({ message }) => void values.push(String(message.value)) });
      const deadline = Date.now() + 30_000;
      while (values.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(values).toEqual(['{"id":"kept"}']);
    } finally {
      await consumer.disconnect();
    }
    second.child.kill('SIGTERM');
    expect(await second.exited, second.output()).toBe(0);
  }, 300_000);

  it('refuses a port in use with VIGIE_ERR_BROKER, before starting anything', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    try {
      const port = (blocker.address() as { port: number }).port;
      const [, ...scriptArgs] = script.split(' ');
      const child = spawn(process.execPath, [...scriptArgs, '--dir', join(dir, 'busy'), '--port', String(port)], { cwd: ROOT });
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      expect(code).toBe(1);
      expect(err).toContain(`vigie: VIGIE_ERR_BROKER: cannot listen on 127.0.0.1:${port}: the port is in use`);
    } finally {
      blocker.close();
    }
  });
});
