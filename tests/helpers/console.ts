/**
 * A console over alerts of a test's own: the alerts are written by the real redis sink under the test's
 * namespace in the Redis of the global setup, the triage keys beside them; `close` stops everything and
 * removes the namespace's keys. And the Debian Chromium the browser tests drive.
 */
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { chromium, type Browser } from 'playwright-core';
import { create, schema } from '../../sinks/redis.js';
import type { SinkContext } from '../../sinks/types.js';
import { tokensFromEnv } from '../../src/console/auth.js';
import { startConsole, type ConsoleServer } from '../../src/console/server.js';
import type { TriageKeys } from '../../src/console/triage.js';
import { silentLogger } from '../../src/log.js';
import type { Alert } from '../../src/types.js';
import { services } from '../infra/index.js';
import { alertBatch } from './alerts.js';
import { deleteKeys } from './redis-keys.js';

export const CHROMIUM = '/usr/bin/chromium';

export interface ConsoleFixture {
  redis: Redis;
  server: ConsoleServer;
  keys: TriageKeys;
  close(): Promise<void>;
}

/** Writes `alerts` to `NS:alerts` (as `vigie run` would) and starts a console on them with the tokens given (env names to tokens). */
export async function consoleFixture(ns: string, env: Record<string, string>, alerts: readonly Alert[]): Promise<ConsoleFixture> {
  const url = services().redisUrl;
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  const ctx: SinkContext = { baseDir: process.cwd(), stdout: process.stdout, logger: silentLogger };
  const sink = create(schema.parse({ name: 'alerts', type: 'redis', url, stream: `${ns}:alerts`, prefix: `${ns}:sink`, channel: '' }), ctx);
  // One alert per batch, in order: entry ids follow the list.
  for (const a of alerts) await sink.write(alertBatch([a]));
  await sink.close();
  const keys: TriageKeys = { prefix: `${ns}:triage`, auditStream: `${ns}:audit`, labelsStream: `${ns}:labels` };
  const server = await startConsole({ target: { connection: { url }, streams: [`${ns}:alerts`] }, tokens: tokensFromEnv(env), logger: silentLogger, port: 0, triage: keys });
  return {
    redis,
    server,
    keys,
    async close() {
      await server.close();
      await deleteKeys(redis, ns);
      redis.disconnect();
    },
  };
}

/** Headless Debian Chromium (never downloaded: without it the test fails, saying how to install it). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: the console's browser tests need Debian's chromium (apt-get install -y --no-install-recommends chromium; .ci/run installs it)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}
