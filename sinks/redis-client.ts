/** The redis sink's connection to Redis, and one attempt at a batch over it: ready, one pipeline of script calls (and `WAIT`), the replies read. */
import type { Logger } from 'pino';
import { createRedis, type RedisClient } from '../src/redis/connection.js';
import type { RedisSinkConfig } from './redis-config.js';
import { ALERT_SCRIPT, ALERT_SCRIPT_SHA, QUEUE_SCRIPT, type AlertCall } from './redis-commands.js';
import { classifyError, FatalError, messageOf, refusal, RetriableError } from './redis-errors.js';
import { VigieError } from '../src/errors.js';

/** What the connection takes from the sink besides its config. */
export interface RedisSinkClientOptions {
  /** The server(s), for messages; no secrets. */
  target: string;
  logger: Logger;
  /** Replicas that must have a batch (`WAIT`) before it counts as written; 0: the master's reply is enough. */
  minReplicas: number;
  /** The sink's backoff, also between reconnections. */
  backoff: (attempt: number) => number;
  /** Called on each `ready`, so that retries waiting for Redis go at once. */
  onReady: () => void;
  /** The sink's counters, which the replies add to. */
  stats: { stored: number; duplicates: number };
}

export class RedisSinkClient {
  private readonly name: string;
  private readonly redis: RedisClient;
  private readonly cluster: boolean;
  private readonly target: string;
  private readonly logger: Logger;
  private readonly stats: { stored: number; duplicates: number };
  private readonly connectWait: number;
  private readonly minReplicas: number;
  private readonly replicaTimeout: number;
  private lastErr: Error | undefined;
  /** Set when connecting failed on credentials or permissions; cleared once connected. */
  /** A connection error no retry fixes (refused credentials, untrusted certificate), until the next `ready`. */
  private authError: Error | undefined;

  constructor(config: RedisSinkConfig, opts: RedisSinkClientOptions) {
    this.name = config.name;
    this.logger = opts.logger;
    this.stats = opts.stats;
    this.minReplicas = opts.minReplicas;
    this.replicaTimeout = config.replicaTimeout ?? 1000;
    this.connectWait = config.connectTimeout;
    this.cluster = config.cluster !== undefined;
    this.target = opts.target;
    this.redis = this.client(config, opts.backoff);
    this.redis.on('error', (err: Error) => {
      this.lastErr = err;
      if (refusal(err, this.target) !== undefined) this.authError = err;
      this.logger.debug({ sink: this.name, target: this.target, err: err.message }, 'redis sink connection error');
    });
    this.redis.on('ready', () => {
      this.authError = undefined;
      opts.onReady();
    });
  }

  /** Last error the client reported (for messages while not connected). */
  get lastError(): Error | undefined {
    return this.lastErr;
  }

  /** The ioredis client; a bad URL or an unset password variable fails here, naming the sink. */
  private client(config: RedisSinkConfig, backoff: (attempt: number) => number): RedisClient {
    try {
      return createRedis(config, {
        lazyConnect: true,
        // The sink's own loop retries whole batches: the client never queues nor resends on its own,
        // so a lost connection fails the batch's commands at once instead of leaving them pending.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        commandTimeout: config.commandTimeout,
        retryStrategy: backoff,
        // A failover turned our master into a replica: reconnect (Sentinel finds the new master).
        reconnectOnError: (err) => err.message.startsWith('READONLY'),
        connectionName: `vigie-sink-${config.name}`.replace(/[^A-Za-z0-9_.:-]/g, '_'),
      });
    } catch (err) {
      throw new VigieError('VIGIE_ERR_SINK', `redis sink "${config.name}": ${messageOf(err)}`, { cause: err });
    }
  }

  disconnect(): void {
    this.redis.disconnect();
  }

  /**
   * One attempt: connected, then one pipeline (one per stream on a cluster). After a NOSCRIPT reply
   * (script cache flushed, server restarted or failed over) the batch is sent again at once with EVAL,
   * which caches the script again; alerts the first try stored are skipped by the dedup check.
   */
  async attempt(calls: AlertCall[]): Promise<void> {
    await this.ensureReady();
    let noscript = await this.execute(calls, false);
    if (noscript) noscript = await this.execute(calls, true);
    if (noscript) throw new RetriableError('NOSCRIPT after EVAL');
  }

  /** Wait for the client to be ready, at most connectTimeout; wrong credentials fail at once. */
  private async ensureReady(): Promise<void> {
    const r = this.redis;
    if (r.status === 'ready') return;
    if (this.authError) throw new FatalError(refusal(this.authError, this.target) as string);
    if (r.status === 'wait' || r.status === 'end') r.connect().catch(() => undefined);
    await new Promise<void>((resolve, reject) => {
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        r.off('ready', onReady);
        r.off('error', onError);
        settle();
      };
      const onReady = () => finish(resolve);
      const onError = (err: Error) => {
        const why = refusal(err, this.target);
        if (why !== undefined) finish(() => reject(new FatalError(why)));
      };
      const timer = setTimeout(
        () => finish(() => reject(new RetriableError(`not connected to ${this.target}${this.lastErr ? `: ${this.lastErr.message}` : ''}`))),
        this.connectWait,
      );
      r.on('ready', onReady);
      r.on('error', onError);
    });
  }

  /** Send the calls; true when Redis did not know the script (nothing was written then). */
  private async execute(calls: AlertCall[], useEval: boolean): Promise<boolean> {
    if (!this.cluster) return this.runPipeline(calls, useEval);
    // A cluster pipeline must stay within one slot: one per stream (all keys of a stream share its hash tag).
    const byStream = new Map<string, AlertCall[]>();
    for (const c of calls) {
      let list = byStream.get(c.stream);
      if (list === undefined) byStream.set(c.stream, (list = []));
      list.push(c);
    }
    const results = await Promise.allSettled([...byStream.values()].map((list) => this.runPipeline(list, useEval)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    const fatal = failed.find((e) => e instanceof FatalError);
    if (fatal !== undefined) throw fatal;
    if (failed.length > 0) throw failed[0];
    return results.some((r) => r.status === 'fulfilled' && r.value);
  }

  private async runPipeline(calls: AlertCall[], useEval: boolean): Promise<boolean> {
    const p = this.redis.pipeline();
    let queueLines = 0;
    for (const c of calls) {
      if (c.script === 'queue') {
        // Always EVAL (a few lines per period): a NOSCRIPT reply, and the retry of the whole batch
        // it causes, then only ever comes from alerts, which the dedup check keeps counted right.
        queueLines++;
        p.eval(QUEUE_SCRIPT, 2, c.keys[0], c.keys[1], ...c.args);
      } else if (useEval) p.eval(ALERT_SCRIPT, 3, c.keys[0], c.keys[1], c.keys[2], ...c.args);
      else p.evalsha(ALERT_SCRIPT_SHA, 3, c.keys[0], c.keys[1], c.keys[2], ...c.args);
    }
    const waiting = this.minReplicas > 0;
    if (waiting) p.call('WAIT', String(this.minReplicas), String(this.replicaTimeout));
    let replies: Array<[Error | null, unknown]> | null;
    try {
      replies = await p.exec();
    } catch (err) {
      throw this.wrap(err);
    }
    if (replies === null || replies.length !== calls.length + (waiting ? 1 : 0)) throw new RetriableError('incomplete pipeline reply');
    if (waiting) {
      const [err, acked] = replies.pop() as [Error | null, unknown];
      if (err === null && Number(acked) < this.minReplicas && replies.every(([e]) => e === null)) {
        throw new RetriableError(`${String(acked)} of the ${this.minReplicas} replicas required have the batch after ${this.replicaTimeout} ms`);
      }
      if (err !== null) throw this.wrap(err);
    }
    let fatal: unknown;
    let retriable: unknown;
    let noscript = false;
    let stored = 0;
    for (const [err, value] of replies) {
      if (err) {
        const kind = classifyError(err);
        if (kind === 'fatal') fatal ??= err;
        else if (kind === 'retriable') retriable ??= err;
        else noscript = true;
      } else if (value !== null) {
        stored++;
      }
    }
    if (fatal !== undefined) throw this.wrap(fatal);
    if (retriable !== undefined) throw this.wrap(retriable);
    if (!noscript) {
      // Queue lines (always written) are not alerts: they count in neither figure.
      this.stats.stored += stored - queueLines;
      this.stats.duplicates += calls.length - stored;
    }
    return noscript;
  }

  private wrap(err: unknown): Error {
    if (err instanceof FatalError || err instanceof RetriableError) return err;
    const why = refusal(err, this.target);
    if (why !== undefined) return new FatalError(why, { cause: err });
    if (classifyError(err) === 'fatal') return new FatalError(messageOf(err), { cause: err });
    return new RetriableError(messageOf(err), { cause: err });
  }
}
