/**
 * Plumbing shared by the service starters: free loopback ports, the Docker probe, and child
 * processes that never outlive the process that started them.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `n` distinct free TCP ports on 127.0.0.1 (all held open together, so they differ, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const srv = createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve());
      });
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') throw new Error('freePorts: no TCP address');
      ports.push(addr.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port;
}

let dockerProbe: Promise<boolean> | undefined;

/**
 * Whether a Docker engine answers, asked once per process: `docker info` with a 3 s limit, quietly.
 * No docker CLI, no daemon, or VIGIE_DOCKER=0 all mean no.
 */
export function dockerAvailable(): Promise<boolean> {
  if (process.env.VIGIE_DOCKER === '0') return Promise.resolve(false);
  dockerProbe ??= new Promise<boolean>((resolve) => {
    execFile('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 3000, windowsHide: true }, (err, stdout) =>
      resolve(err === null && String(stdout).trim() !== ''),
    );
  });
  return dockerProbe;
}

/** The last `lines` lines of a file, or '' when it cannot be read. */
export function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n').trimEnd();
  } catch {
    return '';
  }
}

// ---- last-resort cleanup ---------------------------------------------------------------------
// Every started service registers a synchronous cleanup (SIGKILL its process, remove its temp dir)
// that runs if this process exits or is interrupted without stopping it. On Linux the child is also
// started under `setpriv --pdeathsig KILL`, so even a SIGKILLed parent takes its services with it.

const cleanups = new Set<() => void>();
let hooked = false;

function runCleanups(): void {
  for (const fn of [...cleanups].reverse()) {
    cleanups.delete(fn);
    try {
      fn();
    } catch {
      // best effort: the process is going away
    }
  }
}

/** Registers `fn` to run at exit (latest first) unless the returned function is called first. */
export function onExit(fn: () => void): () => void {
  if (!hooked) {
    hooked = true;
    process.on('exit', runCleanups);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(sig, () => {
        runCleanups();
        // Nobody else handles it: die of it, as we would have without this handler.
        if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
      });
    }
  }
  cleanups.add(fn);
  return () => {
    cleanups.delete(fn);
  };
}

const SETPRIV = process.platform === 'linux' && existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all. */
  error?: Error;
}

/** A child process whose stdout and stderr go to a file, and that is killed if we exit first. */
export class ManagedProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitInfo>;
  exit: ExitInfo | undefined;
  private readonly unregister: () => void;

  constructor(cmd: string, args: string[], opts: { outFile: string; cwd?: string; env?: NodeJS.ProcessEnv }) {
    const fd = openSync(opts.outFile, 'a');
    try {
      const [file, argv] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, args];
      this.child = spawn(file, argv, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    this.exited = new Promise<ExitInfo>((resolve) => {
      this.child.once('error', (error) => {
        this.exit ??= { code: null, signal: null, error };
        resolve(this.exit);
      });
      this.child.once('exit', (code, signal) => {
        this.exit ??= { code, signal };
        resolve(this.exit);
      });
    });
    const pid = this.child.pid;
    this.unregister = onExit(() => {
      if (this.exit === undefined && pid !== undefined) process.kill(pid, 'SIGKILL');
    });
    void this.exited.then(() => this.unregister());
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs: number): Promise<ExitInfo> {
    if (this.exit !== undefined) return this.exit;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) this.child.kill('SIGKILL');
    return this.exited;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A fresh temp dir `<tmpdir>/<prefix>XXXXXX` owned by this process (owner.pid). Dirs of the same
 * prefix whose owner is dead (a run that was SIGKILLed: its services died with it, under pdeathsig,
 * but nothing removed their dirs) are removed first.
 */
export function ownedTempDir(prefix: string): string {
  const root = tmpdir();
  for (const name of readdirSync(root)) {
    if (!name.startsWith(prefix)) continue;
    const dir = join(root, name);
    try {
      const owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && !alive(owner)) rmSync(dir, { recursive: true, force: true });
    } catch {
      // not one of ours, or not readable: leave it
    }
  }
  const dir = mkdtempSync(join(root, prefix));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  return dir;
}

/** Removes a directory, ignoring errors; also at exit if never called. */
export function tempDirCleanup(dir: string): () => void {
  const unregister = onExit(() => rmSync(dir, { recursive: true, force: true }));
  return () => {
    unregister();
    rmSync(dir, { recursive: true, force: true });
  };
}

/**
 * Wait until a started container's service answers (stopping the container if it never does), then
 * give it a stop() that can be called more than once.
 */
export async function readyContainer(container: { stop(): Promise<unknown> }, ready: () => Promise<void>): Promise<() => Promise<void>> {
  try {
    await ready();
  } catch (err) {
    await container.stop();
    throw err;
  }
  let stopped = false;
  return async () => {
    if (stopped) return;
    stopped = true;
    await container.stop();
  };
}
