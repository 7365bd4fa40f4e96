/**
 * A real Redis for tests and benchmarks, found or started by itself:
 *   1. REDIS_URL set: that server, as it is (never flushed; stop() leaves it alone);
 *   2. a Docker engine answers: the redis:7 image through testcontainers;
 *   3. otherwise: `redis-server` from PATH on a free loopback port, without persistence, in a temp dir.
 * Never the machine's own Redis on 6379 unless REDIS_URL names it.
 * `persistence: true` asks for a private server (REDIS_URL is not used then) that keeps its data across
 * restarts: append-only file, synced before every reply.
 * `tls` asks for a private server reachable over TLS only (the plain port is off).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import { ManagedProcess, dockerAvailable, readyContainer, ownedTempDir, freePort, sleep, tail, tempDirCleanup } from './proc.js';

export type RedisKind = 'env' | 'spawned' | 'testcontainers';

export interface RedisService {
  /** redis://[:password@]host:port (rediss:// with `tls`) */
  url: string;
  port: number;
  kind: RedisKind;
  /** Stops what was started (nothing for 'env'); removes the temp dir; safe to call twice. */
  stop(): Promise<void>;
  /**
   * 'spawned' only: stops the server (SIGTERM) and starts it again on the same port with the same
   * password, resolving once it answers PING. Without `persistence` the data is gone after it; with
   * it, everything acknowledged before the stop is back.
   */
  restart?: () => Promise<void>;
  /** 'spawned' only: the first half of restart(): stops the server (SIGTERM), keeping port, password and temp dir. */
  stopServer?: () => Promise<void>;
  /** 'spawned' only: the second half of restart(): starts the stopped server again, resolving once it answers PING. */
  startServer?: () => Promise<void>;
}

export interface StartRedisOptions {
  /** Sets `requirepass` ('spawned' and 'testcontainers' kinds; ignored for REDIS_URL). */
  password?: string;
  /**
   * Keep the data across restarts: `appendonly yes` and `appendfsync always` (every write is on disk
   * before its reply). Always a private server: REDIS_URL is not used, since its persistence is not ours
   * to set. Default false: no persistence at all, as before.
   */
  persistence?: boolean;
  /**
   * A one-node Redis Cluster (`cluster-enabled yes`, every slot assigned to the node): multi-key
   * commands and scripts are refused across slots (CROSSSLOT) as on a real cluster. Always a private
   * `redis-server` from PATH (neither REDIS_URL nor Docker).
   */
  cluster?: boolean;
  /**
   * TLS only: the server listens with `--tls-port` on the service's port and the plain port is off
   * (`--port 0`); `url` is `rediss://`. Always a private `redis-server` from PATH. PEM files; see
   * tests/infra/tls.ts for throwaway ones. Can be combined with `password` and `persistence`.
   */
  tls?: RedisTlsOptions;
}

export interface RedisTlsOptions {
  /** The server's certificate (chain) and key. */
  certFile: string;
  keyFile: string;
  /** The CA that clients' certificates must chain to; also what the readiness probe trusts. */
  caFile: string;
  /** `--tls-auth-clients`: 'no' (default: no client certificate asked), 'optional', or 'yes' (mutual TLS). */
  authClients?: 'no' | 'optional' | 'yes';
  /** Client certificate and key for the readiness probe (default: the server's own, when `authClients` is 'yes'). */
  probeCertFile?: string;
  probeKeyFile?: string;
}

const READY_TIMEOUT_MS = 15_000;

function redisUrl(host: string, port: number, password?: string, tls = false): string {
  const auth = password === undefined ? '' : `:${encodeURIComponent(password)}@`;
  return `${tls ? 'rediss' : 'redis'}://${auth}${host}:${port}`;
}

/** What the probe (and assignAllSlots) need to speak TLS to a `tls` server. */
function probeTls(tls: RedisTlsOptions | undefined): TlsConnectionOptions | undefined {
  if (tls === undefined) return undefined;
  const mutual = tls.authClients === 'yes';
  const certFile = tls.probeCertFile ?? (mutual ? tls.certFile : undefined);
  const keyFile = tls.probeKeyFile ?? (mutual ? tls.keyFile : undefined);
  return {
    ca: [readFileSync(tls.caFile, 'utf8')],
    ...(certFile !== undefined && { cert: readFileSync(certFile, 'utf8') }),
    ...(keyFile !== undefined && { key: readFileSync(keyFile, 'utf8') }),
  };
}

async function waitRedisReady(url: string, failed: () => string | undefined, logs: () => string, tls?: TlsConnectionOptions): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = 'none';
  while (Date.now() < deadline) {
    const why = failed();
    if (why !== undefined) throw new Error(`redis-server ${why} before it answered PING.\n${logs()}`);
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 1000, retryStrategy: () => null, enableOfflineQueue: false, ...(tls && { tls }) });
    client.on('error', () => {}); // reported through the rejected calls below
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    } finally {
      client.disconnect();
    }
    await sleep(100);
  }
  throw new Error(`Redis at ${url.replace(/\/\/:[^@]*@/, '//:***@')} not ready after ${READY_TIMEOUT_MS / 1000}s (last error: ${lastError}).\n${logs()}`);
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisService> {
  const fromEnv = opts.persistence || opts.cluster || opts.tls ? undefined : process.env.REDIS_URL?.trim();
  if (fromEnv) {
    const u = new URL(fromEnv);
    return { kind: 'env', url: fromEnv, port: u.port === '' ? 6379 : Number(u.port), stop: async () => {} };
  }
  if (!opts.cluster && !opts.tls && (await dockerAvailable())) return startRedisContainer(opts);
  return startRedisLocal(opts);
}

async function startRedisLocal(opts: StartRedisOptions): Promise<RedisService> {
  const dir = ownedTempDir('vigie-redis-');
  const removeDir = tempDirCleanup(dir);
  const outFile = join(dir, 'redis.out');
  const logs = () => `--- ${outFile} (tail) ---\n${tail(outFile)}`;
  let port = 0;
  let proc: ManagedProcess | undefined;
  const tls = opts.tls;
  const clientTls = probeTls(tls);
  const url = () => redisUrl('127.0.0.1', port, opts.password, tls !== undefined);

  const launch = async (): Promise<void> => {
    const persistence = opts.persistence ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    const ports = tls === undefined
      ? ['--port', String(port)]
      : ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile,
          '--tls-ca-cert-file', tls.caFile, '--tls-auth-clients', tls.authClients ?? 'no'];
    const args = [...ports, '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir, '--daemonize', 'no'];
    if (opts.password !== undefined) args.push('--requirepass', opts.password);
    // Without an announced address, CLUSTER SLOTS names no host for the lone node and clients find no node.
    if (opts.cluster) args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-announce-ip', '127.0.0.1');
    const p = new ManagedProcess('redis-server', args, { outFile, cwd: dir });
    proc = p;
    await waitRedisReady(
      url(),
      () => (p.exit ? (p.exit.error ? `could not be started (${p.exit.error.message})` : `exited (code ${p.exit.code}, signal ${p.exit.signal})`) : undefined),
      logs,
      clientTls,
    );
    if (opts.cluster) await assignAllSlots(url(), logs, clientTls);
  };

  try {
    // A port picked as free can be taken before redis-server binds it: then another port.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await launch();
        break;
      } catch (err) {
        await proc?.stop(5000);
        if (!/Address already in use/.test(tail(outFile, 20)) || attempt >= 3) throw err;
      }
    }
  } catch (err) {
    removeDir();
    throw err;
  }

  let stopped = false;
  const stopServer = async (): Promise<void> => {
    if (stopped) throw new Error('Redis service already stopped');
    await proc?.stop(5000);
  };
  const startServer = async (): Promise<void> => {
    if (stopped) throw new Error('Redis service already stopped');
    if (proc?.running) throw new Error('redis-server is already running');
    await launch();
  };
  return {
    kind: 'spawned',
    url: url(),
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      await proc?.stop(5000);
      removeDir();
    },
    async restart() {
      await stopServer();
      await startServer();
    },
    stopServer,
    startServer,
  };
}

/** A fresh one-node cluster owns no slot: give it all of them, then wait for `cluster_state:ok`. */
async function assignAllSlots(url: string, logs: () => string, tls?: TlsConnectionOptions): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, ...(tls && { tls }) });
  client.on('error', () => {});
  try {
    await client.connect();
    const info = async () => String(await client.call('CLUSTER', 'INFO'));
    if (/cluster_slots_assigned:0\b/.test(await info())) {
      await client.call('CLUSTER', 'ADDSLOTS', ...Array.from({ length: 16384 }, (_, i) => String(i)));
    }
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!/cluster_state:ok/.test(await info())) {
      if (Date.now() > deadline) throw new Error(`one-node Redis Cluster not ok after ${READY_TIMEOUT_MS / 1000}s.\n${logs()}`);
      await sleep(100);
    }
  } finally {
    client.disconnect();
  }
}

/** The container path (cannot run on machines without a Docker engine): kept small on purpose. */
async function startRedisContainer(opts: StartRedisOptions): Promise<RedisService> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const command = ['redis-server', '--save', '', ...(opts.persistence ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'])];
  if (opts.password !== undefined) command.push('--requirepass', opts.password);
  const container = await new GenericContainer('redis:7')
    .withExposedPorts(6379)
    .withCommand(command)
    .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
    .withStartupTimeout(120_000)
    .start();
  const port = container.getMappedPort(6379);
  const url = redisUrl(container.getHost(), port, opts.password);
  const stop = await readyContainer(container, () => waitRedisReady(url, () => undefined, () => ''));
  return { kind: 'testcontainers', url, port, stop };
}
