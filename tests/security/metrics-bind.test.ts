/**
 * The metrics/health endpoint is local by default: it listens on 127.0.0.1 only, never on all
 * interfaces (0.0.0.0 / ::), so metrics (source, pipeline, detector names) stay on the host unless
 * the operator binds another interface on purpose. It serves only /metrics, /healthz and /readyz.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { startMetricsServer, type MetricsServer } from '../../src/metrics/server.js';

let servers: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function start(): Promise<MetricsServer> {
  const server = await startMetricsServer({ port: 0, metrics: new EngineMetrics(false), health: () => ({ live: true }), ready: () => ({ ready: true, reasons: [] }) });
  servers.push(server);
  return server;
}

/** Resolves true when a TCP connection to host:port is accepted, false when refused or timed out. */
function canConnect(host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Local addresses (hex, as in /proc/net/tcp{,6}) of the sockets listening on a port; undefined off Linux. */
function listeningAddresses(port: number): string[] | undefined {
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      if (file === '/proc/net/tcp') return undefined;
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== '0A') continue; // 0A: LISTEN
      const [addr, hexPort] = cols[1].split(':');
      if (parseInt(hexPort, 16) === port) out.push(addr);
    }
  }
  return out;
}

describe('metrics server binding', () => {
  it('binds 127.0.0.1 by default, and answers there', async () => {
    const server = await start();
    expect(server.host).toBe('127.0.0.1');
    expect(await canConnect('127.0.0.1', server.port)).toBe(true);
    const res = await fetch(`http://127.0.0.1:${server.port}/healthz`);
    expect(res.status).toBe(200);
  });

  it('the config defaults to the loopback address too (metrics.host)', () => {
    expect(configSchema.shape.metrics.parse(undefined)).toMatchObject({ host: '127.0.0.1' });
    expect(configSchema.shape.metrics.parse({ port: 9464 })).toMatchObject({ host: '127.0.0.1' });
  });

  it('listens on the loopback address only, not on 0.0.0.0 or ::', async () => {
    const server = await start();
    const addrs = listeningAddresses(server.port);
    if (addrs === undefined) return; // not Linux: the connection checks below and above still hold
    // 127.0.0.1 in /proc/net/tcp's little-endian hex; 0.0.0.0 and :: would be all zeros.
    expect(addrs).toEqual(['0100007F']);
  });

  it('is not reachable on the host\'s other addresses', async () => {
    const server = await start();
    const external = Object.values(networkInterfaces())
      .flat()
      .filter((i) => i !== undefined && !i.internal && i.family === 'IPv4')
      .map((i) => i!.address);
    for (const address of external) expect(await canConnect(address, server.port), address).toBe(false);
    // Nor on the IPv6 loopback (a `::` bind would answer there).
    expect(await canConnect('::1', server.port)).toBe(false);
  });

  it('serves nothing but /metrics, /healthz and /readyz', async () => {
    const server = await start();
    for (const path of ['/', '/alerts', '/debug', '/config', '/../etc/passwd']) {
      const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
      expect(res.status, path).toBe(404);
    }
    const post = await fetch(`http://127.0.0.1:${server.port}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
  });
});
