/**
 * A Kafka source started before its broker: it keeps trying (not ready meanwhile) instead of failing
 * after the client's few retries, until `startTimeout` (then VIGIE_ERR_SOURCE) or a stop. No broker
 * listens on the port used here: nothing is contacted but a closed loopback port.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { VigieError } from '../../src/errors.js';
import { create, schema } from '../../src/sources/kafka.js';
import { systemClock } from '../../src/types.js';
import { capturedLogger } from '../helpers/capture.js';

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function source(port: number, startTimeout: number, signal: AbortSignal) {
  const config = schema.parse({
    name: 'payments',
    type: 'kafka',
    topics: ['t'],
    groupId: 'g',
    startTimeout,
    client: { brokers: `127.0.0.1:${port}`, connectionTimeout: 300, requestTimeout: 1000 },
  });
  const { logger, text } = capturedLogger();
  return { src: create(config, { baseDir: '.', clock: systemClock, logger, batchSize: 10, stdin: process.stdin, signal }), text };
}

describe('kafka source without a broker at start', () => {
  it('keeps trying, not ready, past the client retries; gives VIGIE_ERR_SOURCE at startTimeout', async () => {
    const { src } = source(await closedPort(), 4000, new AbortController().signal);
    const t0 = Date.now();
    const first = src.batches()[Symbol.asyncIterator]().next();
    await new Promise((r) => setTimeout(r, 1500));
    expect(src.healthy?.()).toBe(false);
    expect(src.downReason?.()).toMatch(/broker unreachable/);
    const err = await first.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(VigieError);
    expect((err as VigieError).code).toBe('VIGIE_ERR_SOURCE');
    expect((err as Error).message).toMatch(/no broker answered within startTimeout \(4000 ms\)/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3500);
    await src.close();
  }, 30_000);

  it('with startTimeout 0 keeps trying until stopped, then ends without error', async () => {
    const abort = new AbortController();
    const { src, text } = source(await closedPort(), 0, abort.signal);
    const first = src.batches()[Symbol.asyncIterator]().next();
    await new Promise((r) => setTimeout(r, 5000));
    expect(src.healthy?.()).toBe(false);
    expect(text()).toMatch(/source cannot read; the Kafka client retries/);
    abort.abort();
    await expect(first).resolves.toMatchObject({ done: true });
    await src.close();
  }, 30_000);
});
