import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Pseudonymiser, loadKey, pseudonymiseSchema } from '../../src/privacy/pseudonymise.js';
import { PipelineCore } from '../../src/engine/pipeline.js';
import { pipelineSchema } from '../../src/config/pipeline.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { emptyBatch, type DeadLetter, type VEvent } from '../../src/types.js';
import { tempDir } from '../helpers/cli.js';
import { Engine } from '../../src/engine/engine.js';
import { memorySource } from '../../src/sources/memory.js';
import { collectSink } from '../helpers/collect.js';

const KEY = 'k'.repeat(40);
const cfg = (over: Record<string, unknown> = {}) => pseudonymiseSchema.parse({ fields: ['customer', 'card'], keyEnv: 'PSEUDO_KEY', keyId: 'k1', ...over });
const make = (over: Record<string, unknown> = {}, key = KEY) => new Pseudonymiser(cfg(over), Buffer.from(key));

describe('pseudonymisation', () => {
  it('replaces listed fields by a stable keyed pseudonym carrying the key id, and nothing else', () => {
    const p = make();
    const a = { customer: 'C00042', card: 4242424242424242, amount: 12.5, city: 'Lyon' };
    const b = { customer: 'C00042', card: '4242424242424242' };
    p.apply(a);
    p.apply(b);
    expect(a.customer).toMatch(/^k1:[0-9a-f]{32}$/);
    expect(a.customer).toBe(b.customer);
    expect(a.card).toBe(b.card); // numbers and strings of the same digits are the same identifier
    expect(a.card).not.toBe(a.customer);
    expect(a.amount).toBe(12.5);
    expect(a.city).toBe('Lyon');
    // Another key (after rotation) gives other pseudonyms; another field the same value too.
    const q = make({ keyId: 'k2' }, 'z'.repeat(40));
    const c = { customer: 'C00042' };
    q.apply(c);
    expect(c.customer).toMatch(/^k2:/);
    expect(c.customer.slice(3)).not.toBe(a.customer.slice(3));
    expect(p.pseudonym('card', 'C00042')).not.toBe(a.customer);
  });

  it('removes listed fields that are not scalars, and leaves absent ones absent', () => {
    const p = make();
    const x: Record<string, unknown> = { customer: { nested: 'C1' }, other: 1 };
    p.apply(x);
    expect(x).toEqual({ other: 1 });
  });

  it('protects the raw input of dead letters', () => {
    const p = make();
    const dl = (raw: unknown): DeadLetter => ({ reason: 'schema', detail: 'd', source: 's', partition: 0, offset: 1, raw });
    const obj = dl({ customer: 'C1', amount: 'x' });
    p.deadLetter(obj);
    expect((obj.raw as { customer: string }).customer).toMatch(/^k1:/);
    const text = dl('{"customer":"C1","amount":"x"}');
    p.deadLetter(text);
    expect(JSON.parse(text.raw as string).customer).toMatch(/^k1:/);
    const broken = dl('{"customer":"C1","amou');
    p.deadLetter(broken);
    expect(broken.raw).toEqual({ dropped: 'privacy', bytes: 22 });
    const dropAll = make({ deadLetters: 'drop' });
    const d = dl({ customer: 'C1' });
    dropAll.deadLetter(d);
    expect(d.raw).toEqual({ dropped: 'privacy', bytes: 17 });
  });

  it('reads the key from the environment or a file, and refuses short or missing keys without showing them', () => {
    expect(loadKey(cfg(), '.', { PSEUDO_KEY: KEY }).toString()).toBe(KEY);
    expect(() => loadKey(cfg(), '.', {})).toThrow(/PSEUDO_KEY is not set/);
    expect(() => loadKey(cfg(), '.', { PSEUDO_KEY: 'short-secret' })).toThrow(/at least 32 characters/);
    expect(() => loadKey(cfg(), '.', { PSEUDO_KEY: 'short-secret' })).not.toThrow(/short-secret/);
    const dir = tempDir();
    writeFileSync(join(dir, 'key'), `${KEY}\n`);
    expect(loadKey(cfg({ keyEnv: undefined, keyFile: 'key' }), dir).toString()).toBe(KEY);
    expect(() => pseudonymiseSchema.parse({ fields: ['a'], keyId: 'k', keyEnv: 'A', keyFile: 'f' })).toThrow(/exactly one of keyEnv and keyFile/);
  });
});

describe('purpose limitation', () => {
  const base = `
sources: [{ name: in, type: stdin }]
pipelines:
  - name: cards
    purpose: detect card testing
    fields: [card, amount, merchant]
    key: card
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }, { name: total, fn: sum, field: amount }]
    detectors:
      - { name: burst, type: velocity, lookback: 1m, value: 3, match: { merchnt: m1 } }
      - { name: far, type: geo-velocity }
`;
  it('refuses a config whose pipeline names fields it did not declare, each with its place and a suggestion', () => {
    let err: ConfigError | undefined;
    try {
      parseConfig(base, 'p.yaml');
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const lines = err!.problems.map((p) => `${p.path}: ${p.message}`);
    expect(lines).toContain('pipelines[0].detectors[0].match.merchnt: field "merchnt" is not among the fields this pipeline declares for its purpose (did you mean "merchant"? declared: card, amount, merchant)');
    // geo-velocity reads lat and lon by default.
    expect(lines.some((l) => l.startsWith('pipelines[0].detectors[1].latField') || l.includes('"lat"'))).toBe(true);
  });

  it('removes every other field from the pipeline\'s events before they enter state, results or dead letters', () => {
    const p = new PipelineCore(
      pipelineSchema.parse({ name: 'cards', fields: ['card', 'amount'], key: 'card', window: { type: 'tumbling', size: 60_000 }, aggregates: [{ name: 'n', fn: 'count' }, { name: 'd', fn: 'distinct', field: 'customer' }] }),
      { configVersion: 'v', detectionTime: () => 0 },
    );
    const b = emptyBatch(0);
    const ev = (t: number, payload: Record<string, unknown>): VEvent => ({ time: t, id: `e${t}`, partition: 0, offset: t, source: 's', payload });
    b.events = [ev(1, { card: 'c1', amount: 5, customer: 'Alice' }), ev(2, { amount: 7, customer: 'Bob' })];
    b.wm = Float64Array.from([1, 2]);
    b.watermark = Infinity;
    p.process(b);
    // `customer` was never seen: its distinct count is 0; the dead letter (no card) holds no customer.
    expect(b.results.map((r) => [r.key, r.values.n, r.values.d])).toEqual([['c1', 1, 0]]);
    expect(b.deadLetters).toHaveLength(1);
    expect(b.deadLetters[0].raw).toEqual({ amount: 7 });
    expect(JSON.stringify(p.snapshot())).not.toMatch(/Alice|Bob/);
  });
});

describe('minimal alerts (alertFields)', () => {
  const yaml = (alertFields: string) => `
time: { maxOutOfOrderness: 0 }
sources: [{ name: in, type: stdin }]
pipelines:
  - name: logins
    fields: [user, device, lat, lon]
    ${alertFields}
    key: user
    detectors:
      - { name: new-device, type: first-seen, field: device, lookback: 30d, minHistory: 1, severity: low }
      - { name: far, type: geo-velocity, severity: high }
sinks: [{ name: c, type: console }]
metrics: { enabled: false }
`;
  const T = Date.UTC(2026, 0, 1, 8);
  const recs = [
    { id: 'l1', ts: T, user: 'u1', device: 'DEV-7f3a-PHONE', lat: 48.8566, lon: 2.3522 },
    { id: 'l2', ts: T + 600_000, user: 'u1', device: 'DEV-99c1-LAPTOP', lat: 40.7128, lon: -74.006 },
    { id: 'end', ts: T + 86_400_000, user: 'zz', device: 'x', lat: 0, lon: 0 },
  ];
  async function alertsOf(alertFields: string): Promise<string> {
    const sink = collectSink();
    await new Engine({ loaded: parseConfig(yaml(alertFields), 'a.yaml'), mode: 'replay', sources: [memorySource(recs, { name: 'in' })], sinks: [sink] }).run();
    expect(sink.alerts.map((a) => a.detector).sort()).toEqual(['far', 'new-device']);
    return JSON.stringify(sink.alerts);
  }

  it('shows field values only where alertFields allows them; alerts are raised the same', async () => {
    const all = await alertsOf('');
    expect(all).toContain('DEV-99c1-LAPTOP');
    expect(all).toContain('40.7128');
    const none = await alertsOf('alertFields: []');
    expect(none).not.toMatch(/DEV-|40\.71|48\.85|74\.006|2\.352/);
    expect(none).toContain('used a new device');
    const some = await alertsOf('alertFields: [device]');
    expect(some).toContain('DEV-99c1-LAPTOP');
    expect(some).not.toMatch(/40\.71|48\.85/);
  });

  it('refuses alertFields outside the fields declared for the purpose', () => {
    expect(() => parseConfig(yaml('alertFields: [devise]'), 'a.yaml')).toThrow(/alertFields\[0\]: field "devise" is not among the fields this pipeline declares for its purpose \(did you mean "device"/);
  });
});
