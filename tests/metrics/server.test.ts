import { afterEach, describe, expect, it } from 'vitest';
import { EngineMetrics } from '../../src/metrics/registry.js';
import { startMetricsServer, type MetricsServer } from '../../src/metrics/server.js';

let servers: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function start(state: { live: boolean; ready: boolean; reasons: string[] }, metrics = new EngineMetrics(false)) {
  const server = await startMetricsServer({
    port: 0,
    metrics,
    health: () => ({ live: state.live }),
    ready: () => ({ ready: state.ready, reasons: state.reasons }),
  });
  servers.push(server);
  return { server, metrics, base: `http://${server.host}:${server.port}` };
}

describe('metrics server', () => {
  it('binds to 127.0.0.1 on a free port by default', async () => {
    const { server } = await start({ live: true, ready: true, reasons: [] });
    expect(server.host).toBe('127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
  });

  it('serves /metrics in the Prometheus text format', async () => {
    const { metrics, base } = await start({ live: true, ready: true, reasons: [] });
    metrics.eventsIn.inc({ source: 'orders' }, 42);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = await res.text();
    expect(body).toContain('# TYPE vigie_events_in_total counter');
    expect(body).toContain('vigie_events_in_total{source="orders"} 42');
  });

  it('answers /healthz with 200 or 503', async () => {
    const state = { live: true, ready: true, reasons: [] };
    const { base } = await start(state);
    let res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    state.live = false;
    res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(503);
  });

  it('answers /readyz with 503 and reasons, then 200', async () => {
    const state = { live: true, ready: false, reasons: ['source orders not connected', 'catching up'] };
    const { base } = await start(state);
    let res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'not_ready', reasons: ['source orders not connected', 'catching up'] });
    state.ready = true;
    state.reasons = [];
    res = await fetch(`${base}/readyz?verbose=1`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', reasons: [] });
  });

  it('returns 404 for other paths and 405 for other methods', async () => {
    const { base } = await start({ live: true, ready: true, reasons: [] });
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/extra`)).status).toBe(404);
    const post = await fetch(`${base}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('returns 500 when a probe throws, and keeps serving', async () => {
    const metrics = new EngineMetrics(false);
    const server = await startMetricsServer({
      port: 0,
      metrics,
      health: () => {
        throw new Error('boom');
      },
      ready: () => ({ ready: true, reasons: [] }),
    });
    servers.push(server);
    const base = `http://${server.host}:${server.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(500);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('fails to start on a port in use, and closes idempotently even with keep-alive clients', async () => {
    const { server, base } = await start({ live: true, ready: true, reasons: [] });
    await expect(
      startMetricsServer({
        port: server.port,
        metrics: new EngineMetrics(false),
        health: () => ({ live: true }),
        ready: () => ({ ready: true, reasons: [] }),
      }),
    ).rejects.toThrow(/EADDRINUSE/);
    await (await fetch(`${base}/metrics`)).text(); // leaves a keep-alive connection open
    await server.close();
    await server.close();
    await expect(fetch(`${base}/metrics`)).rejects.toThrow();
  });
});

describe('EngineMetrics', () => {
  it('uses a private registry per instance', async () => {
    const a = new EngineMetrics(false);
    const b = new EngineMetrics(false);
    a.eventsIn.inc({ source: 's' }, 3);
    expect(await a.text()).toContain('vigie_events_in_total{source="s"} 3');
    expect(await b.text()).not.toContain('vigie_events_in_total{source="s"}');
  });

  it('collects default process metrics with the vigie_ prefix unless disabled', async () => {
    expect(await new EngineMetrics().text()).toContain('vigie_process_cpu_user_seconds_total');
    expect(await new EngineMetrics({ defaultMetrics: false }).text()).not.toContain('vigie_process_cpu');
  });

  it('exposes every engine metric under its conventional name', async () => {
    const m = new EngineMetrics(false);
    m.declare({ sources: ['s'], pipelines: ['p'], detectors: ['d'], sinks: [{ name: 'k', outputs: ['alerts'] }] });
    m.windowResults.inc({ pipeline: 'p', kind: 'final' });
    m.detectionLatency.observe({ detector: 'd' }, 0.2);
    m.sinkWriteDuration.observe({ sink: 'k' }, 0.01);
    m.batchDuration.observe(0.001);
    m.batchEvents.observe(100);
    const text = await m.text();
    for (const name of [
      'vigie_events_in_total',
      'vigie_events_processed_total',
      'vigie_events_dead_lettered_total',
      'vigie_events_late_total',
      'vigie_events_filtered_total',
      'vigie_watermark_seconds',
      'vigie_watermark_lag_seconds',
      'vigie_event_time_lag_seconds',
      'vigie_open_windows',
      'vigie_state_keys',
      'vigie_window_results_total',
      'vigie_alerts_total',
      'vigie_detection_latency_seconds',
      'vigie_batch_duration_seconds',
      'vigie_batch_events',
      'vigie_sink_writes_total',
      'vigie_sink_write_errors_total',
      'vigie_sink_records_total',
      'vigie_sink_write_duration_seconds',
      'vigie_inflight_batches',
      'vigie_config_info',
    ]) {
      expect(text, name).toContain(`# TYPE ${name} `);
    }
    expect(text).toContain('vigie_events_dead_lettered_total{source="s",reason="late"} 0');
    expect(text).toContain('vigie_alerts_total{detector="d",severity="critical"} 0');
    expect(text).toContain('vigie_detection_latency_seconds_bucket{le="3600",detector="d"} 1');
    expect(text).toContain('vigie_detection_latency_seconds_bucket{le="0.1",detector="d"} 0');
  });

  it('keeps a single config_info series across config changes', async () => {
    const m = new EngineMetrics(false);
    m.setConfigVersion('aaa');
    m.setConfigVersion('bbb');
    const text = await m.text();
    expect(text).toContain('vigie_config_info{version="bbb"} 1');
    expect(text).not.toContain('version="aaa"');
  });
});
