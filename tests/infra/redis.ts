/**
 * A real Redis for tests and benchmarks, found or started by itself:
 *   1. REDIS_URL set: that server, as it is (never flushed; stop() leaves it alone);
 *   2. a Docker engine answers: the redis:7 image through testcontainers;
 *   3. otherwise: `redis-server` from PATH on a free loopback port, without persistence, in a temp dir.
 * Never the machine's own Redis on 6379 unless REDIS_URL names it.
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ManagedProcess, dockerAvailable, readyContainer, ownedTempDir, freePort, sleep, tail, tempDirCleanup } from './proc.js';

export type RedisKind = 'env' | 'spawned' | 'testcontainers';

export interface RedisService {
  /** redis://[:password@]host:port */
  url: string;
  port: number;
  kind: RedisKind;
  /** Stops what was started (nothing for 'env'); removes the temp dir; safe to call twice. */
  stop(): Promise<void>;
  /**
   * 'spawned' only: stops the server (SIGTERM) and starts it again on the same port with the same
   * password, resolving once it answers PING. Nothing is persisted: the data is gone after it.
   */
  restart?: () => Promise<void>;
}

export interface StartRedisOptions {
  /** Sets `requirepass` ('spawned' and 'testcontainers' kinds; ignored for REDIS_URL). */
  password?: string;
}

const READY_TIMEOUT_MS = 15_000;

function redisUrl(host: string, port: number, password?: string): string {
  const auth = password === undefined ? '' : `:${encodeURIComponent(password)}@`;
  return `redis://${auth}${host}:${port}`;
}

async function waitRedisReady(url: string, failed: () => string | undefined, logs: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = 'none';
  while (Date.now() < deadline) {
    const why = failed();
    if (why !== undefined) throw new Error(`redis-server ${why} before it answered PING.\n${logs()}`);
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 1000, retryStrategy: () => null, enableOfflineQueue: false });
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
  const fromEnv = process.env.REDIS_URL?.trim();
  if (fromEnv) {
    const u = new URL(fromEnv);
    return { kind: 'env', url: fromEnv, port: u.port === '' ? 6379 : Number(u.port), stop: async () => {} };
  }
  if (await dockerAvailable()) return startRedisContainer(opts);
  return startRedisLocal(opts);
}

async function startRedisLocal(opts: StartRedisOptions): Promise<RedisService> {
  const dir = ownedTempDir('vigie-redis-');
  const removeDir = tempDirCleanup(dir);
  const outFile = join(dir, 'redis.out');
  const logs = () => `--- ${outFile} (tail) ---\n${tail(outFile)}`;
  let port = 0;
  let proc: ManagedProcess | undefined;

  const launch = async (): Promise<void> => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'];
    if (opts.password !== undefined) args.push('--requirepass', opts.password);
    const p = new ManagedProcess('redis-server', args, { outFile, cwd: dir });
    proc = p;
    await waitRedisReady(
      redisUrl('127.0.0.1', port, opts.password),
      () => (p.exit ? (p.exit.error ? `could not be started (${p.exit.error.message})` : `exited (code ${p.exit.code}, signal ${p.exit.signal})`) : undefined),
      logs,
    );
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
  return {
    kind: 'spawned',
    url: redisUrl('127.0.0.1', port, opts.password),
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      await proc?.stop(5000);
      removeDir();
    },
    async restart() {
      if (stopped) throw new Error('Redis service already stopped');
      await proc?.stop(5000);
      await launch();
    },
  };
}

/** The container path (cannot run on machines without a Docker engine): kept small on purpose. */
async function startRedisContainer(opts: StartRedisOptions): Promise<RedisService> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const command = ['redis-server', '--save', '', '--appendonly', 'no'];
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
