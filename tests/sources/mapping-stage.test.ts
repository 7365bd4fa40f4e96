import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Ingestor } from '../../src/ingest/ingestor.js';
import { mappingSchema, type Mapping } from '../../src/sources/mapping.js';
import { mappingStage, readPath } from '../../src/sources/mapping-stage.js';
import { parseConfig } from '../../src/config/load.js';
import type { DeadLetter } from '../../src/types.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

/** The stage of a mapping given as in a config. */
function stage(m: Record<string, unknown>) {
  const s = mappingStage(mappingSchema.parse(m));
  if (s === undefined) throw new Error('no stage');
  return (payload: Record<string, unknown>) => {
    const missing: string[] = [];
    const out = s(payload, missing);
    return { out, missing };
  };
}

/** The problems loadConfig reports for a source with these mapping options (YAML flow text). */
function problems(src: string, extra = ''): string {
  try {
    parseConfig(
      `
sources:
  - { name: a, type: stdin, ${src} }
pipelines:
  - { name: p, key: customer, detectors: [{ name: d, type: first-seen, field: device }] }
${extra}`,
      'm.yaml',
    );
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('mapping stage: rename', () => {
  it('renames a top-level field and removes the old name; absent old field: nothing happens', () => {
    const f = stage({ rename: { cust_id: 'customer' } });
    expect(f({ cust_id: 'c1', amount: 3 }).out).toEqual({ customer: 'c1', amount: 3 });
    expect(f({ customer: 'c2' }).out).toEqual({ customer: 'c2' });
    // Both present: the renamed value wins. A null old field is dropped without overwriting.
    expect(f({ cust_id: 'c1', customer: 'old' }).out).toEqual({ customer: 'c1' });
    expect(f({ cust_id: null, customer: 'kept' }).out).toEqual({ customer: 'kept' });
  });

  it('reads a dotted name as a nested path, unless a top-level field has that exact name; never changes the record', () => {
    const f = stage({ rename: { 'client.id': 'customer' } });
    const rec = { client: { id: 'c9', country: 'FR' }, n: 1 };
    const { out } = f(rec);
    expect(out).toEqual({ client: { country: 'FR' }, n: 1, customer: 'c9' });
    expect(rec).toEqual({ client: { id: 'c9', country: 'FR' }, n: 1 });
    expect(f({ 'client.id': 'flat', client: { id: 'nested' } }).out).toEqual({ client: { id: 'nested' }, customer: 'flat' });
    // Arrays and scalars along the path are not entered.
    expect(f({ client: [{ id: 'x' }] }).out).toEqual({ client: [{ id: 'x' }] });
    expect(f({ client: 'c' }).out).toEqual({ client: 'c' });
    expect(readPath({ a: { b: { c: 1 } } }, 'a.b.c')).toBe(1);
    expect(readPath({ a: {} }, 'a.toString')).toBeUndefined();
  });

  it('renames read the record as it came (all at once)', () => {
    const f = stage({ rename: { client: 'who', 'client.id': 'customer' } });
    expect(f({ client: { id: 'c1', country: 'FR' } }).out).toEqual({ who: { id: 'c1', country: 'FR' }, customer: 'c1' });
  });
});

describe('mapping stage: derive', () => {
  it('concat builds a key from several fields; an absent, null or non-scalar input makes it absent', () => {
    const f = stage({ derive: { person: { concat: ['country', 'nid'], separator: ':' }, k2: { concat: ['country', 'n'] } } });
    expect(f({ country: 'FR', nid: 123, n: true }).out).toEqual({ country: 'FR', nid: 123, n: true, person: 'FR:123', k2: 'FR|true' });
    expect(f({ country: 'FR' }).out).toEqual({ country: 'FR' });
    expect(f({ country: 'FR', nid: null }).out).toEqual({ country: 'FR', nid: null });
    expect(f({ country: 'FR', nid: { x: 1 } }).out).not.toHaveProperty('person');
    // A field of the derived name in the record is removed when the derivation gives nothing.
    expect(f({ country: 'FR', person: 'stale' }).out).not.toHaveProperty('person');
  });

  it('coalesce, copy, lower, upper; later derivations see earlier ones; nested inputs', () => {
    const f = stage({
      derive: {
        customer: { coalesce: ['customer', 'cust_id', 'client.id'] },
        cust_lc: { lower: 'customer' },
        cc: { upper: 'client.country' },
        raw: { copy: 'client' },
      },
    });
    expect(f({ cust_id: 'AB' }).out).toMatchObject({ customer: 'AB', cust_lc: 'ab' });
    expect(f({ customer: null, client: { id: 'Z', country: 'fr' } }).out).toEqual({ customer: 'Z', cust_lc: 'z', cc: 'FR', client: { id: 'Z', country: 'fr' }, raw: { id: 'Z', country: 'fr' } });
    expect(f({}).out).toEqual({});
    expect(stage({ derive: { s: { lower: 'x' } } })({ x: 12 }).out).toEqual({ x: 12, s: '12' });
  });
});

describe('mapping stage: defaults, required and their order', () => {
  it('defaults fill absent or null fields after rename and derive; required are judged last', () => {
    const f = stage({
      rename: { cust_id: 'customer' },
      derive: { key: { concat: ['country', 'customer'] } },
      defaults: { country: 'FR', channel: 'web' },
      required: ['customer', 'key'],
    });
    // The default country is given after derive: the key is not built from it.
    expect(f({ cust_id: 'c1' })).toEqual({ out: { customer: 'c1', country: 'FR', channel: 'web' }, missing: ['key'] });
    expect(f({ cust_id: 'c1', country: 'DE', channel: null })).toEqual({ out: { customer: 'c1', country: 'DE', key: 'DE|c1', channel: 'web' }, missing: [] });
    expect(f({ country: 'DE' }).missing).toEqual(['customer', 'key']);
  });

  it('no stage without rename, derive, defaults or required; required alone does not copy', () => {
    expect(mappingStage(mappingSchema.parse({}))).toBeUndefined();
    const s = mappingStage(mappingSchema.parse({ required: ['a'] }))!;
    const p = { a: 1 };
    expect(s(p, [])).toBe(p);
  });
});

describe('mapping stage in the ingestor', () => {
  const ing = (m: Partial<Mapping> | Record<string, unknown>) => new Ingestor('in', 'json', mappingSchema.parse(m));

  it('runs before the time, id, field types and dedup, under the new names', () => {
    const i = ing({ rename: { when: 'ts', ref: 'id', amt: 'amount' }, time: { field: 'ts' }, id: 'id', fields: { amount: 'number' }, dedup: { horizon: '1h' } });
    const dead: DeadLetter[] = [];
    const e = i.ingest({ offset: 1, data: JSON.stringify({ when: T0, ref: 'e1', amt: 4 }) }, 0, 0, dead);
    expect(e).toMatchObject({ time: T0, id: 'e1', payload: { ts: T0, id: 'e1', amount: 4 } });
    expect(i.ingest({ offset: 2, data: JSON.stringify({ when: T0, ref: 'e1', amt: 4 }) }, 0, 0, dead)).toBeUndefined();
    expect(i.takeDuplicates()).toBe(1);
    expect(i.ingest({ offset: 3, data: JSON.stringify({ when: T0, ref: 'e2', amt: 'four' }) }, 0, 0, dead)).toBeUndefined();
    expect(dead.map((d) => d.reason)).toEqual(['schema']);
    expect(dead[0].detail).toContain('"amount"');
  });

  it('a record lacking a required field is dead-lettered as missing_field, naming the fields, with the record as it came', () => {
    const i = ing({ rename: { cust_id: 'customer' }, required: ['customer', 'country'] });
    const dead: DeadLetter[] = [];
    const line = JSON.stringify({ ts: T0, cust_id: null });
    expect(i.ingest({ offset: 7, data: line }, 3, 0, dead)).toBeUndefined();
    expect(dead).toEqual([{ reason: 'missing_field', detail: 'missing required fields "customer", "country"', source: 'in', partition: 3, offset: 7, raw: line }]);
    expect(i.ingest({ offset: 8, data: JSON.stringify({ ts: T0, cust_id: 'c', country: 'FR' }) }, 3, 0, dead)).toMatchObject({ payload: { customer: 'c', country: 'FR' } });
    expect(dead).toHaveLength(1);
  });

  it('object records (memory, generators) are not changed by the mapping', () => {
    const i = new Ingestor('in', 'object', mappingSchema.parse({ rename: { cust_id: 'customer' }, defaults: { x: 1 } }));
    const rec = { ts: T0, cust_id: 'c' };
    const e = i.ingest({ offset: 1, data: rec }, 0, 0, []);
    expect(e?.payload).toEqual({ ts: T0, customer: 'c', x: 1 });
    expect(rec).toEqual({ ts: T0, cust_id: 'c' });
  });
});

describe('mapping options: invalid configs are refused with a path and a reason', () => {
  it('accepts a good mapping', () => {
    expect(problems('rename: { cust_id: customer, client.id: client_id }, derive: { person: { concat: [country, nid], separator: ":" } }, defaults: { channel: web }, required: [customer]')).toBe('');
  });

  it.each([
    ['rename: { cust_id: customer, client.id: customer }', 'sources[0].rename.client.id: "client.id" and "cust_id" are both renamed to "customer"'],
    ['rename: { a: b, b: c }', 'sources[0].rename.a: "a" is renamed to "b", which is itself renamed to "c"'],
    ['rename: { a: a }', 'sources[0].rename.a: renames "a" to itself'],
    ['rename: { x: a.b }', 'sources[0].rename.x: a top-level field name (no ".")'],
    ['rename: { cust_id: customer }, derive: { customer: { lower: x } }', 'sources[0].derive.customer: the derived field "customer" would overwrite the field renamed from "cust_id"'],
    ['rename: { cust_id: customer }, derive: { cust_id: { lower: x } }', 'sources[0].derive.cust_id: the derived field "cust_id" has the name of a field renamed to "customer"'],
    ['rename: { cust_id: customer }, derive: { k: { concat: [cust_id, x] } }', 'sources[0].derive.k: field "cust_id" is renamed to "customer" before this is applied: name "customer"'],
    ['rename: { client: c }, derive: { k: { copy: client.id } }', 'sources[0].derive.k: field "client.id" is renamed to "c"'],
    ['derive: { a: { copy: b }, b: { copy: x } }', 'sources[0].derive.a: reads "b", which is derived after it'],
    ['derive: { k: { concat: [a, b], sep: "-" } }', 'sources[0].derive.k.sep: unknown key "sep"'],
    ['derive: { k: { concat: [a] } }', 'sources[0].derive.k.concat: must have at least 2 items'],
    ['derive: { k: { nope: a } }', 'give exactly one of concat, coalesce, copy, lower, upper'],
    ['derive: { k: { copy: a, lower: a } }', 'sources[0].derive.k.lower: give exactly one of concat, coalesce, copy, lower, upper (got copy and lower)'],
    ['derive: { k: { copy: a, separator: "-" } }', 'sources[0].derive.k.separator: separator goes with concat only'],
    ['rename: { cust_id: customer }, defaults: { cust_id: x }', 'sources[0].defaults.cust_id: field "cust_id" is renamed to "customer"'],
    ['defaults: { x: [1] }', 'sources[0].defaults.x'],
    ['required: [x], defaults: { x: 1 }', 'sources[0].required[0]: "x" has a default, so it is never missing'],
    ['required: [x, x]', 'sources[0].required[1]: "x" is listed twice'],
    ['rename: { cust_id: customer }, required: [cust_id]', 'sources[0].required[0]: field "cust_id" is renamed to "customer"'],
    ['rename: { ts: time }', 'sources[0].time.field: the time field "ts" is renamed to "time" before this is applied: name "time"'],
    ['rename: { ref: eid }, id: ref', 'sources[0].id: the id field "ref" is renamed to "eid"'],
    ['rename: { amt: amount }, fields: { amt: number }', 'sources[0].fields.amt: the declared field "amt" is renamed to "amount"'],
  ])('%s', (src, message) => {
    const got = problems(src);
    expect(got).toContain('m.yaml:3:');
    expect(got).toContain(message);
  });

  it('a processing-time source may rename its time field away', () => {
    expect(problems('rename: { ts: time }, processingTime: true')).toBe('');
  });

  it('pseudonymisation: a field renamed to, or derived from, a pseudonymised field must be pseudonymised too', () => {
    const privacy = (deadLetters = 'pseudonymise') => `privacy: { pseudonymise: { fields: [customer, nid], keyEnv: K, keyId: k1, deadLetters: ${deadLetters} } }`;
    expect(problems('rename: { cust_id: customer }', privacy())).toContain('sources[0].rename.cust_id: "cust_id" becomes the pseudonymised field "customer": list "cust_id" in privacy.pseudonymise.fields too');
    expect(problems('rename: { client.id: customer }', privacy())).toContain('set privacy.pseudonymise.deadLetters to drop');
    expect(problems('rename: { client.id: customer }', privacy('drop'))).toBe('');
    expect(problems('derive: { person: { concat: [country, nid] } }', privacy())).toContain('sources[0].derive.person: derived from the pseudonymised field "nid" before pseudonymisation: list "person"');
  });

  it('the memory source refuses the same mappings', () => {
    expect(() => mappingSchema.parse({ rename: { a: 'c', b: 'c' } })).toThrow(/are both renamed to/);
  });
});

describe('docs/mapping.md', () => {
  it('its example is a full valid config', () => {
    const text = readFileSync(new URL('../../docs/mapping.md', import.meta.url), 'utf8');
    const yaml = /```yaml\n(name: customers[\s\S]*?)```/.exec(text)?.[1];
    expect(yaml).toBeDefined();
    const loaded = parseConfig(yaml!, 'docs/mapping.md');
    expect(loaded.config.sources.map((s) => (s as { rename?: unknown }).rename)).toEqual([
      { cust_id: 'customer', 'address.country': 'country' },
      { 'client.id': 'customer', 'client.device': 'device' },
    ]);
  });
});
