/**
 * `vigie run` as the Kafka benchmarks start and watch it: as a user starts it, with its metrics scraped,
 * its CPU time and peak memory read from /proc.
 */
import { join } from 'node:path';
import { ManagedProcess, freePort, sleep, tail } from '../tests/infra/proc.js';
import { repoRoot } from './replay-bench.js';
import { peakRssMb, processCpuSeconds } from './proc-stats.js';

/** The value of an unlabelled (or summed over its labels) counter in a Prometheus text exposition. */
export function metricValue(text: string, name: string): number {
  let sum = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const c = line.charCodeAt(name.length);
    if (c !== 32 /* space */ && c !== 123 /* { */) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) {
      sum += v;
      seen = true;
    }
  }
  return seen ? sum : 0;
}

export interface VigieProcOptions {
  config: string;
  /** Environment added to this process's (KAFKA_BROKERS, REDIS_URL, VIGIE_TOPIC, ...). */
  env: Record<string, string>;
  logFile: string;
}

/** `vigie run` in a child process, with its metrics endpoint on a free port. */
export class VigieProc {
  private constructor(
    readonly proc: ManagedProcess,
    readonly metricsPort: number,
    readonly logFile: string,
  ) {}

  static async start(o: VigieProcOptions): Promise<VigieProc> {
    const port = await freePort();
    const main = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
    const proc = new ManagedProcess(process.execPath, ['--max-semi-space-size=64', main, 'run', '-c', o.config, '--metrics-port', String(port)], {
      outFile: o.logFile,
      cwd: repoRoot,
      env: { ...process.env, ...o.env, VIGIE_LOG_LEVEL: 'warn' },
    });
    return new VigieProc(proc, port, o.logFile);
  }

  get pid(): number {
    return this.proc.child.pid ?? -1;
  }

  /** The exposition text of /metrics, or undefined while the endpoint does not answer. */
  async scrape(): Promise<string | undefined> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`, { signal: AbortSignal.timeout(2000) });
      return res.ok ? await res.text() : undefined;
    } catch {
      return undefined;
    }
  }

  /** Events read from the sources so far (vigie_events_in_total), 0 while the endpoint does not answer. */
  async eventsIn(): Promise<number> {
    const text = await this.scrape();
    return text === undefined ? 0 : metricValue(text, 'vigie_events_in_total');
  }

  /** Waits until /readyz answers 200 (the sources connected and the state restored). */
  async ready(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.checkAlive();
      try {
        const res = await fetch(`http://127.0.0.1:${this.metricsPort}/readyz`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`vigie run not ready after ${timeoutMs / 1000}s; log ${this.logFile}:\n${tail(this.logFile)}`);
      await sleep(200);
    }
  }

  checkAlive(): void {
    if (!this.proc.running) throw new Error(`vigie run exited (${JSON.stringify(this.proc.exit)}); log ${this.logFile}:\n${tail(this.logFile)}`);
  }

  /** CPU seconds (user + system, all threads) so far; NaN once the process is gone. */
  cpuSeconds(): number {
    return processCpuSeconds(this.pid) ?? Number.NaN;
  }

  peakRssMb(): number {
    return peakRssMb(this.pid);
  }

  async stop(): Promise<void> {
    await this.proc.stop(20_000);
  }
}

export interface DrainResult {
  events: number;
  /** From the first event seen to the last, by scrapes every `pollMs`. */
  seconds: number;
  eventsPerSecond: number;
  /** CPU seconds of all the processes over the same span. */
  cpuSeconds: number;
  eventsPerCpuSecond: number;
  peakRssMb: number[];
}

/**
 * Waits until `procs` together have read `n` events and measures the rate from the first scrape that
 * saw events to the one that saw them all (one poll of error on each side: keep `n` large). When one
 * poll saw them all at once (a small `n`), from the last scrape that saw none.
 */
export async function measureDrain(procs: VigieProc[], n: number, o: { timeoutMs: number; pollMs?: number }): Promise<DrainResult> {
  const poll = o.pollMs ?? 200;
  const deadline = Date.now() + o.timeoutMs;
  let first: { t: number; count: number; cpu: number } | undefined;
  let none = { t: performance.now(), count: 0, cpu: 0 };
  const cpu = () => procs.reduce((a, p) => a + p.cpuSeconds(), 0);
  for (;;) {
    for (const p of procs) p.checkAlive();
    const count = (await Promise.all(procs.map((p) => p.eventsIn()))).reduce((a, b) => a + b, 0);
    const t = performance.now();
    if (first === undefined && count === 0) none = { t, count, cpu: cpu() };
    if (first === undefined && count > 0) first = count >= n ? none : { t, count, cpu: cpu() };
    if (first !== undefined && count >= n) {
      const seconds = (t - first.t) / 1000;
      const events = count - first.count;
      const cpuS = cpu() - first.cpu;
      return { events: count, seconds, eventsPerSecond: events / seconds, cpuSeconds: cpuS, eventsPerCpuSecond: events / cpuS, peakRssMb: procs.map((p) => p.peakRssMb()) };
    }
    if (Date.now() > deadline) throw new Error(`drain timed out after ${o.timeoutMs / 1000}s with ${count}/${n} events read`);
    await sleep(poll);
  }
}
