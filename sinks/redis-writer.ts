/** The redis sink itself: batches written one after the other, each retried with backoff until Redis has it, health and buffer fill, closing. */
import type { Logger } from 'pino';
import type { EngineMetrics } from '../src/metrics/registry.js';
import { describeRedisTarget } from '../src/redis/connection.js';
import type { RedisSinkConfig, type as redisType } from './redis-config.js';
import { RedisSinkClient } from './redis-client.js';
import { buildAlertCalls, buildQueueCalls, type AlertCall, type RedisCommandOptions } from './redis-commands.js';
import { FatalError, messageOf } from './redis-errors.js';
import type { OutputKind, Sink, SinkBatch, SinkContext } from './types.js';
import { VigieError, internalError } from '../src/errors.js';

/** A sleep that ends early when woken (Redis is back, or the sink is closing). */
class Waker {
  private wakers = new Set<() => void>();

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  wake(): void {
    for (const w of [...this.wakers]) w();
  }
}

/** Counters of a sink, for tests and benchmarks. */
export interface RedisSinkStats {
  /** Alerts appended to a stream. */
  stored: number;
  /** Alerts skipped because their id was already stored. */
  duplicates: number;
  /** Failed attempts that were retried. */
  retries: number;
}

interface Job {
  calls: AlertCall[];
  /** Distinct streams of the batch, for messages. */
  streams: string[];
}

const LOG_EVERY_MS = 10_000;

export class RedisSink implements Sink {
  readonly name: string;
  // Only the type of the registry's literal: a value import would make redis.ts and this module import each other.
  readonly type: typeof redisType = 'redis';
  readonly acknowledges = true;
  readonly outputs: ReadonlySet<OutputKind>;
  readonly stats: RedisSinkStats = { stored: 0, duplicates: 0, retries: 0 };
  private readonly opts: RedisCommandOptions;
  private readonly client: RedisSinkClient;
  private readonly target: string;
  private readonly logger: Logger;
  private readonly metrics: EngineMetrics | undefined;
  private readonly retry: { initialDelay: number; maxDelay: number };
  private readonly minReplicas: number;
  private readonly maxPending: number;
  private readonly closeTimeout: number;
  private readonly waker = new Waker();
  /**
   * Writes run one after the other: a batch resolves only after every earlier batch is stored, so
   * acknowledging batch N implies N-1 is safe too, and entries keep batch order within a stream.
   */
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;
  private up = true;
  private closing: Promise<void> | undefined;
  private aborted = false;
  private readonly shadowStream: string;

  constructor(config: RedisSinkConfig, ctx: SinkContext) {
    this.name = config.name;
    this.outputs = new Set(config.outputs);
    this.logger = ctx.logger;
    this.metrics = ctx.metrics;
    this.retry = config.retry;
    this.minReplicas = config.minReplicas ?? (config.sentinel !== undefined ? 1 : 0);
    this.maxPending = config.maxPendingBatches;
    this.closeTimeout = config.closeTimeout;
    this.shadowStream = config.shadowStream;
    this.target = describeRedisTarget(config);
    this.opts = {
      stream: config.stream,
      prefix: config.prefix,
      maxLen: config.maxLen,
      maxAge: config.maxAge,
      dedupTtl: config.dedupTtl,
      stateTtl: config.stateTtl,
      channel: config.channel,
      cluster: config.cluster !== undefined,
    };
    this.client = new RedisSinkClient(config, {
      target: this.target,
      logger: this.logger,
      minReplicas: this.minReplicas,
      backoff: (attempt) => this.backoff(attempt),
      onReady: () => this.waker.wake(),
      stats: this.stats,
    });
    this.metrics?.sinkUp.set({ sink: this.name }, 1);
    this.metrics?.sinkBufferFill.set({ sink: this.name }, 0);
  }

  write(batch: SinkBatch): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(internalError(`redis sink \"${this.name}\" is closed`));
    // Build the commands now, synchronously: the caller may reuse or mutate the batch once we return.
    const calls = this.outputs.has('alerts') ? buildAlertCalls(this.opts, batch.alerts) : [];
    if (this.outputs.has('shadowAlerts') && batch.shadowAlerts.length > 0) calls.push(...buildAlertCalls({ ...this.opts, stream: this.shadowStream }, batch.shadowAlerts));
    if (this.outputs.has('queue') && batch.queue.length > 0) calls.push(...buildQueueCalls(this.opts, batch.queue));
    if (calls.length === 0) return this.tail;
    const job: Job = { calls, streams: [...new Set(calls.map((c) => c.stream))] };
    this.pending++;
    this.reportFill();
    const run = this.tail
      .then(() => this.deliver(job))
      .finally(() => {
        this.pending--;
        this.reportFill();
      });
    // Keep the chain alive after a failure; the caller still gets this batch's rejection.
    this.tail = run.catch(() => undefined);
    return run;
  }

  healthy(): boolean {
    return this.up;
  }

  bufferFill(): number {
    return Math.min(1, this.pending / this.maxPending);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        this.tail.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), this.closeTimeout);
        }),
      ]);
      clearTimeout(timer);
      if (!drained) {
        // Give up on what is still pending: those writes reject (never reported as written).
        this.aborted = true;
        this.waker.wake();
        this.client.disconnect();
        await this.tail;
        this.logger.warn({ sink: this.name, closeTimeoutMs: this.closeTimeout }, 'redis sink closed with writes still pending: they were failed');
      }
      this.client.disconnect();
    })();
    return this.closing;
  }

  private reportFill(): void {
    this.metrics?.sinkBufferFill.set({ sink: this.name }, this.bufferFill());
  }

  /** Delay before retry (or reconnection) number `attempt` (1, 2, ...): doubling, capped, minus up to 20% jitter. */
  private backoff(attempt: number): number {
    const base = Math.min(this.retry.maxDelay, this.retry.initialDelay * 2 ** Math.min(attempt - 1, 30));
    return Math.max(1, Math.round(base * (1 - 0.2 * Math.random())));
  }

  private where(job: Job): string {
    return `stream ${job.streams.map((s) => `"${s}"`).join(', ')}`;
  }

  /** Try the batch until Redis took all of it; only errors no retry can fix reject. */
  private async deliver(job: Job): Promise<void> {
    let failures = 0;
    let downSince = 0;
    let loggedAt = 0;
    for (;;) {
      if (this.aborted) {
        throw new VigieError('VIGIE_ERR_SINK', `redis sink "${this.name}": closed before the batch could be written to ${this.where(job)}${this.client.lastError ? ` (last error: ${this.client.lastError.message})` : ''}`);
      }
      let failure: unknown;
      try {
        await this.client.attempt(job.calls);
      } catch (err) {
        failure = err;
      }
      if (failure === undefined) {
        if (!this.up) {
          this.up = true;
          this.metrics?.sinkUp.set({ sink: this.name }, 1);
          this.logger.info({ sink: this.name, target: this.target, retries: failures, downMs: downSince ? Date.now() - downSince : 0 }, 'redis sink writing again');
        }
        return;
      }
      this.setDown();
      if (failure instanceof FatalError || this.aborted) {
        const why = failure instanceof FatalError ? failure.message : `closed while retrying: ${messageOf(failure)}`;
        throw new VigieError('VIGIE_ERR_SINK', `redis sink "${this.name}": cannot write to ${this.where(job)}: ${why}`, { cause: failure });
      }
      failures++;
      downSince ||= Date.now();
      this.stats.retries++;
      this.metrics?.sinkRetries.inc({ sink: this.name });
      const delay = this.backoff(failures);
      const now = Date.now();
      if (failures === 1 || now - loggedAt >= LOG_EVERY_MS) {
        loggedAt = now;
        this.logger.warn(
          { sink: this.name, target: this.target, streams: job.streams, alerts: job.calls.length, attempt: failures, retryInMs: delay, err: messageOf(failure) },
          'redis sink cannot write; retrying the batch',
        );
      }
      await this.waker.sleep(delay);
    }
  }

  private setDown(): void {
    if (!this.up) return;
    this.up = false;
    this.metrics?.sinkUp.set({ sink: this.name }, 0);
  }
}
