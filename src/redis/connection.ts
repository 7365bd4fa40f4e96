/**
 * Connection to Redis, shared by everything in Vigie that talks to Redis (the redis sink, the
 * checkpoint store): one schema of connection options and one factory building an ioredis client
 * from them. Secrets never sit in the config file: the password comes from an environment variable
 * named by `passwordEnv`, and nothing here ever logs it (see {@link describeRedisTarget}).
 *
 * Example (the fields are spread into a component's own options):
 * ```yaml
 * url: ${REDIS_URL}            # redis://[user@]host:port[/db], rediss:// for TLS
 * passwordEnv: REDIS_PASSWORD
 * tls: { caFile: /etc/ssl/redis-ca.pem }
 * # or, through Sentinel:  sentinel: { name: mymaster, sentinels: [{ host: s1, port: 26379 }] }
 * # or, a Redis Cluster:   cluster: [{ host: r1, port: 6379 }, { host: r2, port: 6379 }]
 * ```
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { z } from 'zod';
import { positiveDurationSchema } from '../time/duration.js';
import { VigieError } from '../errors.js';

const nodeSchema = z.strictObject({
  host: z.string().min(1).describe('Host name or IP address.'),
  port: z.number().int().min(1).max(65535).describe('TCP port.'),
});

const tlsFilesSchema = z.strictObject({
  caFile: z.string().min(1).optional().describe('PEM file of the CA that signed the server certificates (default: the system CAs).'),
  certFile: z.string().min(1).optional().describe('PEM client certificate (mutual TLS).'),
  keyFile: z.string().min(1).optional().describe('PEM client key (mutual TLS).'),
  rejectUnauthorized: z.boolean().default(true).describe('Verify the server certificates.'),
});

/**
 * The connection options, as zod fields to spread into a component's strictObject (the redis sink
 * takes them at its top level). Check them together with {@link checkRedisConnection}.
 */
export const redisConnectionShape = {
  url: z
    .string()
    .min(1)
    .default('redis://127.0.0.1:6379')
    .describe(
      'Redis URL, `redis://[user@]host:port[/db]` (`rediss://` for TLS), e.g. "${REDIS_URL}". Give the password with `passwordEnv` ' +
        'rather than in the URL. With `sentinel` or `cluster`, only the URL\'s user, password and database are used.',
    ),
  username: z.string().min(1).optional().describe('ACL user name (Redis 6+); overrides the URL\'s user.'),
  passwordEnv: z
    .string()
    .min(1)
    .optional()
    .describe('Name of the environment variable holding the password; overrides a password in the URL. Never logged.'),
  tls: z
    .union([z.boolean(), tlsFilesSchema])
    .default(false)
    .describe(
      'TLS: `true` with the system CAs, or `{ caFile, certFile, keyFile, rejectUnauthorized }` (PEM files; `rejectUnauthorized` defaults to true). ' +
        'A `rediss://` URL turns it on too. Applies to the sentinels as well.',
    ),
  sentinel: z
    .strictObject({
      name: z.string().min(1).describe('Name of the monitored master.'),
      sentinels: z.array(nodeSchema).min(1).describe('Sentinels to ask for the master\'s address.'),
      username: z.string().min(1).optional().describe('ACL user name on the sentinels.'),
      passwordEnv: z.string().min(1).optional().describe('Environment variable holding the sentinels\' password.'),
    })
    .optional()
    .describe(
      'Connect to the master of a Sentinel-managed group instead of the URL\'s host, following failovers: ' +
        '`{ name, sentinels: [{ host, port }], username, passwordEnv }` (the last two for the sentinels themselves, optional).',
    ),
  cluster: z
    .array(nodeSchema)
    .min(1)
    .optional()
    .describe('Startup nodes of a Redis Cluster, `[{ host, port }, ...]`, instead of the URL\'s host. Keys written together share a hash tag.'),
  connectTimeout: positiveDurationSchema.default(5000).describe('How long connecting to a server may take.'),
};

/** The connection options on their own (for components that nest them). */
export const redisConnectionSchema = z.strictObject(redisConnectionShape).superRefine((c, ctx) => checkRedisConnection(c, ctx));

/** Cross-field checks of the connection options (for a superRefine of the schema they are spread into). */
export function checkRedisConnection(c: { sentinel?: unknown; cluster?: unknown; url?: string }, ctx: z.RefinementCtx): void {
  if (c.sentinel !== undefined && c.cluster !== undefined) {
    ctx.addIssue({ code: 'custom', message: 'give either sentinel or cluster, not both', path: ['cluster'] });
  }
  if (c.url !== undefined) {
    try {
      parseRedisUrl(c.url);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message, path: ['url'] });
    }
  }
}

export type RedisConnectionConfig = z.output<typeof redisConnectionSchema>;

/** What the factory needs: any subset of the validated options (absent ones mean "ioredis default"). */
export interface RedisConnectionOptions {
  url?: string;
  username?: string;
  passwordEnv?: string;
  tls?: boolean | { caFile?: string; certFile?: string; keyFile?: string; rejectUnauthorized?: boolean };
  sentinel?: { name: string; sentinels: Array<{ host: string; port: number }>; username?: string; passwordEnv?: string };
  cluster?: Array<{ host: string; port: number }>;
  connectTimeout?: number;
}

/** Client behaviour chosen by the component (not by the user): how it queues, retries and times out. */
export interface RedisClientOptions {
  /** Connect on the first command or on `connect()` instead of at once (default true). */
  lazyConnect?: boolean;
  /** Queue commands while disconnected (ioredis default true). */
  enableOfflineQueue?: boolean;
  /** Reconnections a queued or in-flight command survives before it is rejected (ioredis default 20). */
  maxRetriesPerRequest?: number | null;
  /** Resend commands left without reply by a lost connection (ioredis default true). */
  autoResendUnfulfilledCommands?: boolean;
  /** Reject a command that got no reply after this many ms (default: no limit). */
  commandTimeout?: number;
  /** Delay before reconnection attempt `times` (1, 2, ...); null stops reconnecting (default: ioredis'). */
  retryStrategy?: (times: number) => number | null;
  /** Reconnect on these server errors (e.g. READONLY after a failover). */
  reconnectOnError?: (err: Error) => boolean;
  /** CLIENT SETNAME, shown by CLIENT LIST. */
  connectionName?: string;
}

/** A client: a single server (direct or through Sentinel) or a cluster. */
export type RedisClient = Redis | Cluster;

interface ParsedUrl {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  tls: boolean;
}

/** The parts of a redis:// or rediss:// URL. Throws a message that never contains the password. */
export function parseRedisUrl(url: string): ParsedUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new VigieError('VIGIE_ERR_CONFIG', `invalid Redis URL "${redactUrl(url)}": expected redis://host:port or rediss://host:port`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new VigieError('VIGIE_ERR_CONFIG', `invalid Redis URL "${redactUrl(url)}": the scheme must be redis:// or rediss://`);
  }
  const path = u.pathname.replace(/^\//, '');
  let db: number | undefined;
  if (path !== '') {
    db = Number(path);
    if (!Number.isInteger(db) || db < 0) throw new VigieError('VIGIE_ERR_CONFIG', `invalid Redis URL "${redactUrl(url)}": the path must be a database number`);
  }
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: u.port === '' ? 6379 : Number(u.port),
    username: u.username === '' ? undefined : decodeURIComponent(u.username),
    password: u.password === '' ? undefined : decodeURIComponent(u.password),
    db,
    tls: u.protocol === 'rediss:',
  };
}

/** A URL with its password (if any) replaced by `***`, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}

/** Where a client connects, for logs and error messages: never a password. */
export function describeRedisTarget(conn: RedisConnectionOptions): string {
  if (conn.cluster) return `cluster ${conn.cluster.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (conn.sentinel) return `sentinel master "${conn.sentinel.name}"`;
  try {
    const u = parseRedisUrl(conn.url ?? 'redis://127.0.0.1:6379');
    return `${u.host}:${u.port}${u.db ? `/${u.db}` : ''}`;
  } catch {
    return redactUrl(conn.url ?? '');
  }
}

function envSecret(name: string, what: string): string {
  const value = process.env[name];
  if (value === undefined) throw new VigieError('VIGIE_ERR_ENV', `${what}: environment variable ${name} is not set`);
  return value;
}

function tlsOptions(tls: RedisConnectionOptions['tls'], fromUrl: boolean): TlsOptions | undefined {
  if (tls === undefined || tls === false) return fromUrl ? {} : undefined;
  if (tls === true) return {};
  return {
    rejectUnauthorized: tls.rejectUnauthorized ?? true,
    ca: tls.caFile ? [readFileSync(tls.caFile, 'utf8')] : undefined,
    cert: tls.certFile ? readFileSync(tls.certFile, 'utf8') : undefined,
    key: tls.keyFile ? readFileSync(tls.keyFile, 'utf8') : undefined,
  };
}

/**
 * The ioredis options for a connection (without host, port or sentinels for a cluster). Exported for
 * tests; reads the password from the environment and TLS files from disk, so it may throw.
 */
export function redisOptions(conn: RedisConnectionOptions, client: RedisClientOptions = {}): RedisOptions {
  const url = parseRedisUrl(conn.url ?? 'redis://127.0.0.1:6379');
  const password = conn.passwordEnv !== undefined ? envSecret(conn.passwordEnv, 'redis password') : url.password;
  const opts: RedisOptions = {
    username: conn.username ?? url.username,
    password,
    db: url.db,
    tls: tlsOptions(conn.tls, url.tls),
    connectTimeout: conn.connectTimeout,
    lazyConnect: client.lazyConnect ?? true,
    enableOfflineQueue: client.enableOfflineQueue,
    maxRetriesPerRequest: client.maxRetriesPerRequest,
    autoResendUnfulfilledCommands: client.autoResendUnfulfilledCommands,
    commandTimeout: client.commandTimeout,
    retryStrategy: client.retryStrategy,
    reconnectOnError: client.reconnectOnError,
    connectionName: client.connectionName,
  };
  if (conn.sentinel) {
    opts.name = conn.sentinel.name;
    opts.sentinels = conn.sentinel.sentinels.map((s) => ({ host: s.host, port: s.port }));
    opts.sentinelUsername = conn.sentinel.username;
    opts.sentinelPassword = conn.sentinel.passwordEnv !== undefined ? envSecret(conn.sentinel.passwordEnv, 'redis sentinel password') : undefined;
    if (opts.tls) {
      opts.enableTLSForSentinelMode = true;
      opts.sentinelTLS = opts.tls;
    }
    if (client.retryStrategy) opts.sentinelRetryStrategy = client.retryStrategy;
    // Reconnect as soon as a sentinel announces a new master (+switch-master), rather than writing on
    // to the old one until it is turned into a replica.
    opts.failoverDetector = true;
  } else if (!conn.cluster) {
    opts.host = url.host;
    opts.port = url.port;
  }
  // ioredis treats a present-but-undefined option as set: leave out what was not chosen.
  for (const k of Object.keys(opts) as Array<keyof RedisOptions>) if (opts[k] === undefined) delete opts[k];
  return opts;
}

/**
 * A client for the options: `Cluster` when `cluster` is given, otherwise `Redis` (direct, or through
 * Sentinel). Lazy by default: nothing connects before the first command or `connect()`.
 * Throws (without connecting) when the URL is invalid or a named environment variable is not set.
 */
export function createRedis(conn: RedisConnectionOptions, client: RedisClientOptions = {}): RedisClient {
  const opts = redisOptions(conn, client);
  if (!conn.cluster) return new Redis(opts);
  const { lazyConnect, enableOfflineQueue, retryStrategy, ...nodeOptions } = opts;
  delete nodeOptions.db; // a cluster has database 0 only
  delete nodeOptions.reconnectOnError;
  const clusterOpts: ClusterOptions = {
    lazyConnect,
    enableOfflineQueue,
    clusterRetryStrategy: retryStrategy ?? undefined,
    redisOptions: nodeOptions,
  };
  if (clusterOpts.clusterRetryStrategy === undefined) delete clusterOpts.clusterRetryStrategy;
  if (clusterOpts.enableOfflineQueue === undefined) delete clusterOpts.enableOfflineQueue;
  return new Cluster(
    conn.cluster.map((n) => ({ host: n.host, port: n.port })),
    clusterOpts,
  );
}

/** True for a client of a Redis Cluster. */
export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}
