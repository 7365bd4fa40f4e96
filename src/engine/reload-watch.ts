/**
 * Hot reload of the running config (`vigie run`): what asks for one, and the audit of each.
 *
 * Triggers: SIGHUP re-reads the config file; a change of the file (watched through its directory, so
 * that editors that replace the file by renaming, and Kubernetes ConfigMap symlink swaps, are seen;
 * debounced; only a change of content counts); and, with `reload.redis`, a message on a pub/sub
 * channel, on which every instance reads the config text held in a Redis key and applies it, so that a
 * whole fleet switches together (the key is also read at start, and after a reconnection, in case a
 * message was missed).
 *
 * Each new config is validated first (an invalid one never reaches the engine: every problem is
 * logged, counted, and the engine keeps running), then handed to `Engine.reload`, which applies it
 * between two batches or rejects it (only pipelines can change). Every outcome is logged with pino
 * (info when applied, warn when rejected), counted in `vigie_config_reloads_total{mechanism,outcome}`
 * and, with `reload.redis`, appended to an audit stream (XADD, MAXLEN ~ 10000) with this instance's
 * name: time, instance, mechanism, outcome, version, previous, added, changed, removed, errors.
 * Nothing secret is recorded: passwords come from environment variables, and URLs in messages are
 * redacted.
 *
 * Example:
 * ```yaml
 * reload:
 *   watchFile: true
 *   redis: { url: "${REDIS_URL}", passwordEnv: REDIS_PASSWORD, key: "vigie:config", channel: "vigie:config:changed" }
 * ```
 * then, to switch the fleet: `SET vigie:config "<yaml>"` and `PUBLISH vigie:config:changed 1`.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, formatProblem, parseConfig, type LoadedConfig } from '../config/load.js';
import type { VigieConfig } from '../config/schema.js';
import type { ReloadMechanism, ReloadResult } from './engine.js';
import type { EngineMetrics } from '../metrics/registry.js';
import { createRedis, describeRedisTarget, type RedisClient } from '../redis/connection.js';
import { silentLogger, redactSecrets } from '../log.js';

/** The `reload` section of a config. */
export type ReloadSettings = NonNullable<VigieConfig['reload']>;

/** What the reloader drives: an Engine. */
export interface ReloadTarget {
  readonly version: string;
  reload(next: LoadedConfig, mechanism: ReloadMechanism): Promise<ReloadResult>;
}

/** How an audit entry ends: `unchanged` (the config given already runs) is logged and counted, not audited. */
export type ReloadOutcomeKind = 'applied' | 'rejected' | 'unchanged';

/** One reload, as logged and audited. */
export interface AuditEntry {
  /** ISO-8601 time of the outcome. */
  time: string;
  instance: string;
  mechanism: ReloadMechanism;
  outcome: ReloadOutcomeKind;
  /** Version of the config given ("" when it could not be parsed). */
  version: string;
  /** Version running before. */
  previous: string;
  added: string[];
  changed: string[];
  removed: string[];
  errors: string[];
}

/** Audit entries kept in the stream (approximately: `MAXLEN ~`). */
export const AUDIT_MAXLEN = 10_000;
export const DEFAULT_AUDIT_STREAM = 'vigie:config:audit';
/** Quiet time after the last change of the file before it is read. */
export const DEFAULT_DEBOUNCE_MS = 500;

export interface ConfigReloaderOptions {
  engine: ReloadTarget;
  /** The config file `vigie run` was started with. */
  file: string;
  /** The `reload` section (absent: watch the file, no Redis). */
  settings?: ReloadSettings;
  logger?: Logger;
  metrics?: EngineMetrics;
  /** Name of this instance in the audit (default: `reload.redis.instance`, else hostname:pid). */
  instance?: string;
  debounceMs?: number;
  /** Environment for `${VAR}` expansion in new configs (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

export { redactSecrets };

/** A stream entry's fields: lists as JSON arrays. */
export function auditFields(e: AuditEntry): string[] {
  return [
    'time', e.time,
    'instance', e.instance,
    'mechanism', e.mechanism,
    'outcome', e.outcome,
    'version', e.version,
    'previous', e.previous,
    'added', JSON.stringify(e.added),
    'changed', JSON.stringify(e.changed),
    'removed', JSON.stringify(e.removed),
    'errors', JSON.stringify(e.errors),
  ];
}

/** Watches for new configs and applies them to an engine, one at a time, in the order asked. */
export class ConfigReloader {
  readonly instance: string;
  private readonly file: string;
  private readonly settings: ReloadSettings;
  private readonly logger: Logger;
  private readonly debounceMs: number;
  /** Reloads run one after the other. */
  private chain: Promise<unknown> = Promise.resolve();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Text of the config file last read: a file event without a change of content does nothing. */
  private fileText: string | undefined;
  private client: RedisClient | undefined;
  private sub: RedisClient | undefined;
  private closed = false;
  private lastRedisError = 0;

  constructor(private readonly opts: ConfigReloaderOptions) {
    this.file = resolve(opts.file);
    this.settings = opts.settings ?? { watchFile: true };
    this.logger = opts.logger ?? silentLogger;
    this.debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.instance = opts.instance ?? this.settings.redis?.instance ?? `${hostname()}:${process.pid}`;
  }

  /**
   * Start the triggers: the file watch at once; with `reload.redis`, subscribe to the channel and apply
   * the key's config if any. Resolves once subscribed and the key read (it waits while Redis is
   * unreachable: do not block a run on it).
   */
  async start(): Promise<void> {
    try {
      if (this.settings.watchFile) await this.watchFile();
      if (this.settings.redis) await this.startRedis(this.settings.redis);
    } catch (err) {
      if (!this.closed) throw err; // closed while starting: nothing to report
    }
  }

  /** Re-read the config file and apply it (SIGHUP; `file` for a change seen by the watch). */
  reloadFile(mechanism: ReloadMechanism = 'signal'): Promise<AuditEntry | undefined> {
    return this.serial(async () => {
      let text: string;
      try {
        text = await readFile(this.file, 'utf8');
      } catch (err) {
        return this.record(mechanism, { errors: [`${this.opts.file}: cannot read config: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`] });
      }
      // A change seen by the watch that leaves the content as it was (touch, chmod, a save without edit).
      if (mechanism === 'file' && text === this.fileText) return undefined;
      this.fileText = text;
      return this.applyText(text, this.opts.file, mechanism);
    });
  }

  /** Read the config in the Redis key and apply it (a message on the channel, the start, a reconnection). */
  reloadFromRedis(): Promise<AuditEntry | undefined> {
    const redis = this.settings.redis;
    if (!redis || !this.client || this.closed) return Promise.resolve(undefined);
    const client = this.client;
    return this.serial(async () => {
      let text: string | null;
      try {
        text = await client.get(redis.key);
      } catch (err) {
        this.logger.warn({ key: redis.key, target: describeRedisTarget(redis), err: redactSecrets((err as Error).message) }, 'config reload: cannot read the config key; will read it again on the next message or reconnection');
        return undefined;
      }
      if (text === null) {
        this.logger.info({ key: redis.key }, 'config reload: the config key is empty; running the current config');
        return undefined;
      }
      return this.applyText(text, `redis:${redis.key}`, 'redis');
    });
  }

  /** Apply a config validated elsewhere (mechanism `api`), with the same audit. */
  apply(next: LoadedConfig, mechanism: ReloadMechanism = 'api'): Promise<AuditEntry> {
    return this.serial(() => this.applyLoaded(next, mechanism));
  }

  /** Stop the triggers; waits for a reload under way and its audit. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.close();
    await this.chain.catch(() => undefined);
    this.sub?.disconnect();
    if (this.client) await this.client.quit().catch(() => this.client?.disconnect());
  }

  // --- internals ---

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async applyText(text: string, file: string, mechanism: ReloadMechanism): Promise<AuditEntry> {
    let next: LoadedConfig;
    try {
      next = parseConfig(text, file, this.opts.env ?? process.env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      // Invalid: every problem is reported, nothing reaches the engine.
      return this.record(mechanism, { errors: err.problems.map(formatProblem) });
    }
    return this.applyLoaded(next, mechanism);
  }

  private async applyLoaded(next: LoadedConfig, mechanism: ReloadMechanism): Promise<AuditEntry> {
    const result = await this.opts.engine.reload(next, mechanism);
    return this.record(mechanism, { result });
  }

  /** Log, count and audit one outcome. */
  private async record(mechanism: ReloadMechanism, what: { result?: ReloadResult; errors?: string[] }): Promise<AuditEntry> {
    const r = what.result;
    const outcome: ReloadOutcomeKind = r?.applied ? 'applied' : r?.unchanged ? 'unchanged' : 'rejected';
    const entry: AuditEntry = {
      time: new Date().toISOString(),
      instance: this.instance,
      mechanism,
      outcome,
      version: r?.version ?? '',
      previous: r?.previous ?? this.opts.engine.version,
      added: r?.changes.added ?? [],
      changed: r?.changes.changed ?? [],
      removed: r?.changes.removed ?? [],
      errors: (what.errors ?? r?.errors ?? []).map(redactSecrets),
    };
    this.opts.metrics?.configReloads.inc({ mechanism, outcome });
    const log = { reload: entry, ...(r ? { pipelines: r.pipelines, unchangedDetectors: r.changes.unchanged } : {}) };
    if (outcome === 'applied') this.logger.info(log, `config reloaded (${mechanism}): version ${entry.version}, was ${entry.previous}`);
    else if (outcome === 'unchanged') this.logger.info({ reload: { mechanism, version: entry.version, instance: entry.instance } }, `config reload (${mechanism}): version ${entry.version} already runs`);
    else this.logger.warn(log, `config reload rejected (${mechanism}): ${entry.errors.length} problem${entry.errors.length === 1 ? '' : 's'}; still running version ${entry.previous}`);
    if (outcome !== 'unchanged' && this.client && this.settings.redis) {
      const stream = this.settings.redis.auditStream ?? DEFAULT_AUDIT_STREAM;
      try {
        await this.client.xadd(stream, 'MAXLEN', '~', String(AUDIT_MAXLEN), '*', ...auditFields(entry));
      } catch (err) {
        this.logger.warn({ stream, err: redactSecrets((err as Error).message) }, 'config reload: audit entry not written to Redis (it is in this log)');
      }
    }
    return entry;
  }

  private async watchFile(): Promise<void> {
    try {
      this.fileText = await readFile(this.file, 'utf8');
    } catch {
      this.fileText = undefined;
    }
    if (this.closed) return;
    const name = basename(this.file);
    try {
      // The directory, not the file: an editor or a ConfigMap update replacing the file keeps being seen.
      this.watcher = watch(dirname(this.file), { persistent: false }, (_event, changed) => {
        const n = changed?.toString();
        if (n === undefined || n === name || n.startsWith('..')) this.fileChanged();
      });
      this.watcher.on('error', (err) => this.logger.warn({ file: this.opts.file, err: err.message }, 'config reload: cannot watch the config file any more (SIGHUP still reloads it)'));
    } catch (err) {
      this.logger.warn({ file: this.opts.file, err: (err as Error).message }, 'config reload: cannot watch the config file (SIGHUP still reloads it)');
    }
  }

  private fileChanged(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) void this.reloadFile('file').catch((err) => this.logger.error({ err: (err as Error).message }, 'config reload failed'));
    }, this.debounceMs);
    this.timer.unref();
  }

  private async startRedis(cfg: NonNullable<ReloadSettings['redis']>): Promise<void> {
    if (this.closed) return;
    const onError = (err: Error) => {
      // ioredis reports every failed reconnection: once in a while is enough.
      const now = Date.now();
      if (now - this.lastRedisError < 30_000) return;
      this.lastRedisError = now;
      this.logger.warn({ target: describeRedisTarget(cfg), err: redactSecrets(err.message) }, 'config reload: Redis unreachable (retrying)');
    };
    this.client = createRedis(cfg, { lazyConnect: true, maxRetriesPerRequest: 3, connectionName: 'vigie-reload' });
    // The subscriber waits for Redis as long as it takes, and resubscribes after reconnecting.
    this.sub = createRedis(cfg, { lazyConnect: true, maxRetriesPerRequest: null, connectionName: 'vigie-reload-sub' });
    this.client.on('error', onError);
    this.sub.on('error', onError);
    this.sub.on('message', (channel: string) => {
      if (channel === cfg.channel && !this.closed) void this.reloadFromRedis().catch((err) => this.logger.error({ err: (err as Error).message }, 'config reload failed'));
    });
    let subscribed = false;
    this.sub.on('ready', () => {
      // Back after a disconnection: a message may have been missed, read the key again.
      if (subscribed && !this.closed) void this.reloadFromRedis().catch(() => undefined);
    });
    await this.sub.subscribe(cfg.channel);
    if (this.closed) return;
    subscribed = true;
    this.logger.info({ target: describeRedisTarget(cfg), key: cfg.key, channel: cfg.channel, instance: this.instance }, 'config reload: listening on Redis');
    await this.reloadFromRedis();
  }
}
