/**
 * The console's HTTP server (node:http, JSON over GET, server-sent events for live alerts, the live
 * page). Every request needs a valid bearer token (auth.ts) or a session cookie from signing in with
 * one (session.ts); only the sign-in form and its stylesheet are open. What it reads is the redis sink's streams, exactly as
 * stored: the sink already minimised and pseudonymised the alerts as the config says.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { VigieError } from '../errors.js';
import { createRedis, describeRedisTarget, type RedisClient } from '../redis/connection.js';
import { SEVERITIES } from '../types.js';
import { AlertsStore, type AlertFilter } from './alerts-store.js';
import { serveAsset } from './assets.js';
import { authorize, roleOfToken, type Role, type Tokens } from './auth.js';
import { HttpError, limitParam, sendError, sendJson, textParam, timeParam, type RouteContext, type Routes } from './http.js';
import { Lab, type LabOptions } from './lab-routes.js';
import { serveLive } from './live.js';
import { queueRoutes } from './queue-routes.js';
import { QueueStore } from './queue-store.js';
import { livePage, loginPage, redirect, sendHtml } from './page.js';
import { CLEARED_COOKIE, formToken, sameOrigin, sessionCookie, Sessions } from './session.js';
import type { ConsoleTarget } from './target.js';
import { triageRoutes } from './triage-routes.js';
import type { TriageKeys } from './triage.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8790;
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

export interface ConsoleOptions {
  target: ConsoleTarget;
  tokens: Tokens;
  logger: Logger;
  host?: string;
  /** 0: a free port the system picks. */
  port?: number;
  /** Entries read per stream and request at most. */
  scanLimit?: number;
  heartbeatMs?: number;
  /** Where triage lives: state hashes' prefix, audit and labels streams (triage.ts has the defaults). */
  triage?: Partial<TriageKeys>;
  /** The lab (lab-routes.ts): its datasets folder and the current config. */
  lab?: LabOptions;
}

export interface ConsoleServer {
  /** http://host:port */
  url: string;
  close(): Promise<void>;
}

const REDIS_CLIENT = { commandTimeout: 10_000, maxRetriesPerRequest: 1 };

function filterOf(q: URLSearchParams): AlertFilter {
  const severity = textParam(q, 'severity');
  if (severity !== undefined && !(SEVERITIES as readonly string[]).includes(severity)) {
    throw new HttpError(400, 'bad_request', `severity: expected one of ${SEVERITIES.join(', ')}, got "${severity}"`);
  }
  return { detector: textParam(q, 'detector'), severity, key: textParam(q, 'key'), since: timeParam(q, 'since'), until: timeParam(q, 'until') };
}

export async function startConsole(opts: ConsoleOptions): Promise<ConsoleServer> {
  const { target, tokens, logger } = opts;
  const connect = (name: string): RedisClient => {
    const client = createRedis(target.connection, { ...REDIS_CLIENT, connectionName: name });
    // Failures reach the requests that need Redis (503); the event only needs a listener.
    client.on('error', (err: Error) => logger.debug({ err: err.message }, 'console: redis connection error'));
    return client;
  };
  const redis = connect('vigie-console');
  const store = new AlertsStore(redis, target.streams, opts.scanLimit);
  const live = new Set<ServerResponse>();

  const sessions = new Sessions();
  /** Route modules, asked in order before the alerts API (each answers its own paths). */
  const lab = new Lab(opts.lab ?? {}, logger);
  const modules: Routes[] = [
    queueRoutes(new QueueStore(redis, target.prefix ?? 'vigie', target.cluster)),
    triageRoutes({ redis, alerts: store, keys: opts.triage, scanLimit: opts.scanLimit }),
    lab.routes,
  ];

  /** The open routes: the sign-in form, its stylesheet, signing in, and no icon (browsers ask for one). */
  async function open(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (path === '/assets/console.css' && req.method === 'GET') return serveAsset(res, path);
    if (path === '/favicon.ico' && req.method === 'GET') {
      res.writeHead(204, { 'cache-control': 'max-age=86400' }).end();
      return true;
    }
    if (path !== '/login') return false;
    if (req.method === 'GET') {
      sendHtml(res, 200, loginPage());
      return true;
    }
    if (req.method !== 'POST') throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on /login`);
    // Another site must not sign a browser in (into a session of its choosing): a browser's form post
    // says where it comes from; a client that says nothing (curl) is not a browser to protect.
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined ? site !== 'same-origin' && site !== 'none' : req.headers.origin !== undefined && !sameOrigin(req)) {
      throw new HttpError(403, 'forbidden', 'a cross-site sign-in is refused');
    }
    const token = await formToken(req);
    const role = token === undefined ? undefined : roleOfToken(tokens, token);
    if (role === undefined) {
      logger.info('console: sign-in refused (no valid token)');
      sendHtml(res, 401, loginPage('wrong token'));
      return true;
    }
    logger.info({ role }, 'console: signed in');
    redirect(res, '/', { 'set-cookie': sessionCookie(sessions.create(role)) });
    return true;
  }

  async function route(req: IncomingMessage, res: ServerResponse, role: Role, byCookie: boolean): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://console');
    const q = url.searchParams;
    const path = url.pathname;
    // A signed-in browser's cookie goes with every request, even one another site makes it send:
    // anything but a GET with the cookie alone must come from the console's own pages.
    if (req.method !== 'GET' && req.method !== 'HEAD' && byCookie && !sameOrigin(req)) {
      throw new HttpError(403, 'forbidden', `a cross-site ${req.method} request is refused`);
    }
    if (path === '/logout' && req.method === 'POST') {
      sessions.drop(req);
      return redirect(res, '/login', { 'set-cookie': CLEARED_COOKIE });
    }
    const ctx: RouteContext = { req, res, path, query: q, role, logger };
    for (const routes of modules) if (await routes(ctx)) return;
    if (req.method !== 'GET') throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${path}`);
    if (path === '/') return sendHtml(res, 200, livePage());
    if (serveAsset(res, path)) return;
    if (path === '/api/alerts') {
      const { alerts, scanned, truncated } = await store.list(filterOf(q), limitParam(q, 'limit', DEFAULT_LIMIT, MAX_LIMIT));
      return sendJson(res, 200, { alerts, scanned, truncated });
    }
    if (path.startsWith('/api/alerts/')) {
      let id: string;
      try {
        id = decodeURIComponent(path.slice('/api/alerts/'.length));
      } catch {
        throw new HttpError(400, 'bad_request', 'the alert id is not valid percent-encoding');
      }
      const found = await store.get(id);
      if (found === undefined) throw new HttpError(404, 'not_found', `no alert "${id}" among the recent entries`);
      return sendJson(res, 200, found);
    }
    if (path === '/api/counts') return sendJson(res, 200, await store.counts(filterOf(q)));
    if (path === '/api/live') {
      const filter = filterOf(q);
      live.add(res);
      res.once('close', () => live.delete(res));
      logger.info({ role, filter }, 'console: live client connected');
      return serveLive(res, { connect: () => connect('vigie-console-live'), streams: target.streams, filter, logger, heartbeatMs: opts.heartbeatMs });
    }
    throw new HttpError(404, 'not_found', `no such endpoint: ${path}`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://console').pathname;
    if (await open(req, res, path)) return;
    const bearer = authorize(tokens, req.headers.authorization);
    const role = bearer ?? sessions.roleOf(req);
    if (role === undefined) {
      logger.info({ method: req.method, path }, 'console: request refused (no valid token or session)');
      if (path === '/' && req.method === 'GET') return redirect(res, '/login');
      return sendError(res, new HttpError(401, 'unauthorized', 'a valid bearer token is required (Authorization: Bearer TOKEN), or a session from /login'), { 'www-authenticate': 'Bearer' });
    }
    return route(req, res, role, bearer === undefined);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.end();
      if (err instanceof HttpError) return sendError(res, err);
      // Redis down, a key of another type, a cluster slot error, or a fault of the console itself:
      // the log says which (the Redis error's first word is its code), the answer stays generic.
      const message = err instanceof Error ? err.message : String(err);
      const code = /^[A-Z]{3,}\b/.exec(message)?.[0];
      logger.warn({ err: message, code, path: req.url?.split('?')[0] }, 'console: request failed');
      sendError(res, new HttpError(503, 'unavailable', `the request could not be completed${code === undefined ? '' : ` (Redis: ${code})`}: see the console's log`));
    });
  });

  const host = opts.host ?? DEFAULT_HOST;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new VigieError('VIGIE_ERR_CONSOLE', `cannot listen on ${host}:${opts.port ?? DEFAULT_PORT}: ${err.code ?? err.message}`, { cause: err })),
    );
    server.listen(opts.port ?? DEFAULT_PORT, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info({ url, redis: describeRedisTarget(target.connection), streams: target.streams }, 'console listening');

  return {
    url,
    async close() {
      for (const res of live) res.end();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      try {
        await lab.close();
      } finally {
        redis.disconnect();
        logger.info({ url }, 'console stopped');
      }
    },
  };
}
