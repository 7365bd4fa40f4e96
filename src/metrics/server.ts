/**
 * HTTP endpoint for Prometheus scrapes and orchestrator probes: GET /metrics, /healthz, /readyz.
 * Binds to 127.0.0.1 unless told otherwise: metrics reveal source, pipeline and detector names,
 * so exposing them beyond the host is an explicit choice.
 *
 * Example:
 * ```ts
 * const server = await startMetricsServer({ port: 9464, metrics, health: () => ({ live: true }),
 *   ready: () => ({ ready: engine.started, reasons: engine.started ? [] : ['sources not connected'] }), logger });
 * await server.close();
 * ```
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { silentLogger } from '../log.js';
import type { EngineMetrics } from './registry.js';
import { VigieError } from '../errors.js';

export interface MetricsServerOptions {
  /** Interface to bind. Default 127.0.0.1 (local only). */
  host?: string;
  /** Port to listen on; 0 picks a free one (see the returned `port`). */
  port: number;
  metrics: EngineMetrics;
  /** Liveness: false means "restart me" (the engine is wedged or failed). */
  health: () => { live: boolean };
  /** Readiness: false while starting, catching up or with a sink down; reasons are returned to the prober. */
  ready: () => { ready: boolean; reasons: string[] };
  logger?: Logger;
}

export interface MetricsServer {
  readonly port: number;
  readonly host: string;
  /** Stop listening and drop open connections; idempotent. */
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** Start the metrics and health server; resolves once it is listening. */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const host = opts.host ?? '127.0.0.1';
  const logger = opts.logger ?? silentLogger;
  const { metrics, health, ready } = opts;

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err, path: req.url }, 'metrics server: request failed');
      if (!res.headersSent) send(res, 500, JSON_TYPE, JSON.stringify({ status: 'error' }));
      else res.destroy();
    });
  });
  // Probes and scrapes are tiny: a client that dribbles its request is not a scraper.
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path !== '/metrics' && path !== '/healthz' && path !== '/readyz') {
      send(res, 404, JSON_TYPE, JSON.stringify({ status: 'not_found' }));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, JSON_TYPE, JSON.stringify({ status: 'method_not_allowed' }));
      return;
    }
    const head = req.method === 'HEAD';
    if (path === '/metrics') {
      const body = await metrics.text();
      send(res, 200, metrics.registry.contentType, body, head);
    } else if (path === '/healthz') {
      const { live } = health();
      send(res, live ? 200 : 503, JSON_TYPE, JSON.stringify({ status: live ? 'ok' : 'unhealthy' }), head);
    } else {
      const { ready: ok, reasons } = ready();
      send(res, ok ? 200 : 503, JSON_TYPE, JSON.stringify({ status: ok ? 'ready' : 'not_ready', reasons }), head);
    }
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void =>
      reject(
        err.code === 'EADDRINUSE' || err.code === 'EACCES'
          ? new VigieError('VIGIE_ERR_METRICS', `cannot serve metrics on ${host}:${opts.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : 'not allowed'} (${err.code}; choose another with --metrics-port or metrics.port)`, { cause: err })
          : err,
      );
    server.once('error', onError);
    server.listen(opts.port, host, () => {
      server.removeListener('error', onError);
      resolve();
    });
  });
  // After startup, a server error must not crash the engine: log it.
  server.on('error', (err) => logger.error({ err }, 'metrics server error'));

  const port = (server.address() as AddressInfo).port;
  logger.info({ host, port }, 'metrics server listening');

  let closing: Promise<void> | undefined;
  return {
    port,
    host,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // A scraper's keep-alive connection would otherwise hold close() open until it times out.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function send(res: ServerResponse, status: number, type: string, body: string, head = false): void {
  res.statusCode = status;
  res.setHeader('content-type', type);
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(head ? undefined : body);
}
