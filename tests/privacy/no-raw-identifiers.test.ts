import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSink, sinkSchema } from '../../sinks/index.js';
import { tokensFromEnv } from '../../src/console/auth.js';
import { startConsole } from '../../src/console/server.js';
import { Engine } from '../../src/engine/engine.js';
import { createLogger } from '../../src/log.js';
import { memorySource } from '../../src/sources/memory.js';
import { collectSink, config } from '../helpers/collect.js';
import { tempDir, vigie } from '../helpers/cli.js';
import { services } from '../infra/index.js';

const PERSONAL = ['customer', 'card', 'device', 'ip', 'account', 'beneficiary'];
const KEY = 'a-test-key-that-is-long-enough-to-be-accepted';

/** The payments rules, with pseudonymisation of every identifier, dead letters kept, every output selected. */
function yaml(sinks: string): string {
  const rules = readFileSync('config/payments.yaml', 'utf8').replace(/^sinks:[\s\S]*?(?=^metrics:)/m, `sinks: ${sinks}\n`);
  return `${rules}
privacy:
  pseudonymise:
    fields: [${PERSONAL.join(', ')}]
    keyEnv: VIGIE_TEST_PSEUDO_KEY
    keyId: k1
`;
}

let lines: string[];
let identifiers: Set<string>;

beforeAll(() => {
  process.env.VIGIE_TEST_PSEUDO_KEY = KEY;
  const dir = tempDir();
  const file = join(dir, 'payments.ndjson');
  const g = vigie(['generate', '--scenario', 'payments', '--events', '20000', '--seed', '5', '--out', file]);
  expect(g.status, g.stderr).toBe(0);
  lines = readFileSync(file, 'utf8').trim().split('\n');
  // Bad records that still carry identifiers: they must reach the dead letters pseudonymised or dropped.
  const first = JSON.parse(lines[0]) as Record<string, unknown>;
  lines.splice(100, 0, JSON.stringify({ ...first, id: 'bad-ts', ts: 'yesterday' }), `{"customer":"${String(first.customer)}","ts":`);
  identifiers = new Set();
  for (const l of lines.slice(0, 20_002)) {
    try {
      const e = JSON.parse(l) as Record<string, unknown>;
      for (const f of PERSONAL) if (typeof e[f] === 'string' && (e[f] as string).length >= 4) identifiers.add(e[f] as string);
    } catch {
      // the truncated line
    }
  }
  expect(identifiers.size).toBeGreaterThan(1000);
});

afterAll(() => {
  delete process.env.VIGIE_TEST_PSEUDO_KEY;
});

/** Raw identifiers found in a text (none expected): every token between separators is looked up. */
function leaks(text: string): string[] {
  const found = new Set<string>();
  for (const token of text.split(/["\s,:;{}[\]()\\=|]+/)) if (identifiers.has(token)) found.add(token);
  // Identifiers containing a separator (none in the generator's data today) are searched as substrings.
  for (const id of identifiers) if (/["\s,:;{}[\]()\\=|]/.test(id) && text.includes(id)) found.add(id);
  return [...found].slice(0, 5);
}

describe('privacy: no raw identifier anywhere', () => {
  it('in the alerts, results, scores, dead letters, summary and logs of a replay', async () => {
    let logs = '';
    const logger = createLogger({ level: 'trace', destination: new Writable({ write: (c, _e, cb) => ((logs += c.toString()), cb()) }) as never });
    const sink = collectSink();
    const summary = await new Engine({ loaded: config(yaml('[{ name: c, type: console }]')), mode: 'replay', logger, sources: [memorySource(lines, { name: 'payments', batchSize: 500 })], sinks: [sink] }).run();
    expect(sink.alerts.length).toBeGreaterThan(20);
    expect(sink.deadLetters.some((d) => d.reason === 'bad_timestamp')).toBe(true);
    expect(sink.alerts.every((a) => a.key.startsWith('k1:') || a.pipeline === 'beneficiary-fan-in' || a.pipeline === 'card-bursts')).toBe(true);
    for (const [what, text] of [
      ['alerts', JSON.stringify(sink.alerts)],
      ['results', JSON.stringify(sink.results)],
      ['scores', JSON.stringify(sink.scores)],
      ['dead letters', JSON.stringify(sink.deadLetters)],
      ['summary', JSON.stringify(summary)],
      ['logs', logs],
    ] as const) {
      expect(leaks(text), what).toEqual([]);
    }
    // Detection still works on pseudonyms: the typologies with a dedicated rule are all found.
    const detectors = new Set(sink.alerts.map((a) => a.detector));
    for (const d of ['card-testing', 'mule-fan-in', 'impossible-travel', 'account-takeover']) expect(detectors.has(d), d).toBe(true);
  });

  describe('in Redis', () => {
    const redis = new Redis(services().redisUrl);
    const prefix = `privtest-${randomUUID().slice(0, 8)}`;
    afterAll(async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    });

    it('neither in the stream entries nor in the key names', async () => {
      const loaded = config(yaml('[{ name: c, type: console }]'));
      const sink = createSink(
        sinkSchema.parse({ name: 'r', type: 'redis', url: services().redisUrl, stream: `${prefix}:alerts`, prefix, channel: '' }),
        { baseDir: process.cwd(), stdout: process.stdout, logger: createLogger({ level: 'silent' }) },
      );
      try {
        await new Engine({ loaded, mode: 'replay', sources: [memorySource(lines, { name: 'payments', batchSize: 500 })], sinks: [sink] }).run();
      } finally {
        await sink.close();
      }
      const entries = await redis.xrange(`${prefix}:alerts`, '-', '+');
      expect(entries.length).toBeGreaterThan(20);
      const keys = await redis.keys(`${prefix}*`);
      expect(leaks(JSON.stringify(entries))).toEqual([]);
      expect(leaks(keys.join('\n'))).toEqual([]);
    });

    it('nor in what the console serves from them', async () => {
      const token = `read-${randomUUID()}`;
      const server = await startConsole({
        target: { connection: { url: services().redisUrl }, streams: [`${prefix}:alerts`], prefix },
        tokens: tokensFromEnv({ VIGIE_CONSOLE_TOKEN: token }),
        logger: createLogger({ level: 'silent' }),
        port: 0,
      });
      try {
        const get = async (path: string) => {
          const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
          expect(res.status, path).toBe(200);
          return res.text();
        };
        const list = await get('/api/alerts?limit=1000');
        const alerts = (JSON.parse(list) as { alerts: Array<{ id: string; key: string; pipeline: string }> }).alerts;
        expect(alerts.length).toBeGreaterThan(20);
        const ofCustomers = alerts.filter((a) => a.pipeline === 'customers');
        expect(ofCustomers.length).toBeGreaterThan(0);
        expect(ofCustomers.every((a) => a.key.startsWith('k1:'))).toBe(true);
        const details = await Promise.all(alerts.slice(0, 10).map((a) => get(`/api/alerts/${encodeURIComponent(a.id)}`)));
        for (const [what, text] of [['list', list], ['details', details.join('\n')], ['counts', await get('/api/counts')]] as const) {
          expect(leaks(text), what).toEqual([]);
        }
      } finally {
        await server.close();
      }
    });
  });
});
