/**
 * A Redis Sentinel group for tests: a master, one replica and one sentinel (quorum 1), all private
 * `redis-server` processes on free loopback ports, in a temp dir. `failover()` asks the sentinel to
 * promote the replica (SENTINEL FAILOVER) and resolves once the sentinel names it as the master.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ManagedProcess, freePorts, ownedTempDir, sleep, tail, tempDirCleanup } from './proc.js';

export interface SentinelGroup {
  /** Name of the monitored master. */
  name: string;
  sentinel: { host: string; port: number };
  /** Ports of the two data servers; the master is `ports[0]` until a failover. */
  ports: [number, number];
  /** The master's port as the sentinel reports it. */
  masterPort(): Promise<number>;
  /** Promote the replica; resolves once the sentinel reports the new master and it accepts writes. */
  failover(): Promise<number>;
  stop(): Promise<void>;
}

const NAME = 'vigie-master';
const READY_MS = 20_000;

async function until<T>(what: string, fn: () => Promise<T | undefined>, logs: () => string): Promise<T> {
  const deadline = Date.now() + READY_MS;
  let last = 'none';
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`sentinel group: ${what} not reached within ${READY_MS / 1000}s (last error: ${last}).\n${logs()}`);
}

/** Run one command on a short-lived connection. */
async function call(port: number, ...args: string[]): Promise<unknown> {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1000 });
  r.on('error', () => {});
  try {
    await r.connect();
    return await r.call(args[0], ...args.slice(1));
  } finally {
    r.disconnect();
  }
}

export async function startSentinelGroup(): Promise<SentinelGroup> {
  const dir = ownedTempDir('vigie-sentinel-');
  const removeDir = tempDirCleanup(dir);
  const [p1, p2, ps] = await freePorts(3);
  const procs: ManagedProcess[] = [];
  const logs = () => ['a', 'b', 's'].map((n) => `--- ${n}.out ---\n${tail(join(dir, `${n}.out`))}`).join('\n');
  const server = (name: string, port: number, extra: string[]) => {
    mkdirSync(join(dir, name), { recursive: true });
    procs.push(
      new ManagedProcess('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', join(dir, name), ...extra], {
        outFile: join(dir, `${name}.out`),
      }),
    );
  };
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop(5000)));
    removeDir();
  };
  try {
    server('a', p1, []);
    server('b', p2, ['--replicaof', '127.0.0.1', String(p1)]);
    // The sentinel rewrites its config file: it must be writable.
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${ps}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${NAME} 127.0.0.1 ${p1} 1`,
        `sentinel down-after-milliseconds ${NAME} 1000`,
        `sentinel failover-timeout ${NAME} 10000`,
        '',
      ].join('\n'),
    );
    procs.push(new ManagedProcess('redis-server', [conf, '--sentinel'], { outFile: join(dir, 's.out'), cwd: dir }));
    await until('replica in sync', async () => {
      const info = String(await call(p2, 'INFO', 'replication'));
      return /master_link_status:up/.test(info) ? true : undefined;
    }, logs);
    // Promotable: the sentinel has the replica's INFO, with its link to the master up.
    await until('sentinel sees a promotable replica', async () => {
      const replicas = (await call(ps, 'SENTINEL', 'REPLICAS', NAME)) as string[][];
      const ok = replicas.some((r) => {
        const f = (k: string) => r[r.indexOf(k) + 1];
        return f('flags') === 'slave' && f('master-link-status') === 'ok';
      });
      return ok ? true : undefined;
    }, logs);
  } catch (err) {
    await stop();
    throw err;
  }
  const masterPort = async () => Number(((await call(ps, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', NAME)) as string[])[1]);
  return {
    name: NAME,
    sentinel: { host: '127.0.0.1', port: ps },
    ports: [p1, p2],
    masterPort,
    async failover() {
      const before = await masterPort();
      // NOGOODSLAVE while the sentinel's view of the replica is being refreshed: ask again.
      await until('a failover accepted', async () => ((await call(ps, 'SENTINEL', 'FAILOVER', NAME)) === 'OK' ? true : undefined), logs);
      return until('failover', async () => {
        const now = await masterPort();
        if (now === before) return undefined;
        const role = String(await call(now, 'ROLE'));
        return role.startsWith('master') ? now : undefined;
      }, logs);
    },
    stop,
  };
}
