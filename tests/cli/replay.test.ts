import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pack } from 'msgpackr';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir, vigie } from '../helpers/cli.js';

const CONFIG = join('config', 'payments.yaml');
let dir: string;
let events: string;

beforeAll(() => {
  dir = tempDir();
  events = join(dir, 'payments.ndjson');
  const g = vigie(['generate', '--scenario', 'payments', '--events', '30000', '--seed', '3', '--disorder', '2000', '--out', events]);
  expect(g.status, g.stderr).toBe(0);
});

function replay(out: string, extra: string[] = []) {
  const r = vigie(['replay', '-c', CONFIG, '--input', events, '--out', out, '--outputs', 'alerts,results,dead-letters', ...extra]);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

const read = (d: string, f: string) => readFileSync(join(d, f), 'utf8');
const sortedLines = (d: string, f: string) => read(d, f).split('\n').filter(Boolean).sort();

describe('vigie replay', () => {
  it('is byte-identical across runs (rule 11)', () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    const sa = replay(a);
    const sb = replay(b);
    for (const f of ['alerts.jsonl', 'results.jsonl', 'dead-letters.jsonl']) expect(read(a, f)).toBe(read(b, f));
    expect(read(a, 'alerts.jsonl').length).toBeGreaterThan(0);
    expect(sa.alerts).toEqual(sb.alerts);
    expect(sa.pipelines).toEqual(sb.pipelines);
  });

  it('gives the same results and alerts whatever the batch size', () => {
    const ref = join(dir, 'bs-4096');
    replay(ref, ['--batch-size', '4096']);
    for (const bs of ['1', '7', '1000']) {
      const out = join(dir, `bs-${bs}`);
      replay(out, ['--batch-size', bs]);
      expect(sortedLines(out, 'results.jsonl')).toEqual(sortedLines(ref, 'results.jsonl'));
      expect(sortedLines(out, 'alerts.jsonl')).toEqual(sortedLines(ref, 'alerts.jsonl'));
    }
  });

  it('gives the same output from MessagePack as from NDJSON', () => {
    const mp = join(dir, 'payments.msgpack');
    const g = vigie(['generate', '--scenario', 'payments', '--events', '30000', '--seed', '3', '--disorder', '2000', '--format', 'msgpack', '--out', mp]);
    expect(g.status, g.stderr).toBe(0);
    const a = join(dir, 'from-json');
    const b = join(dir, 'from-msgpack');
    replay(a);
    const r = vigie(['replay', '-c', CONFIG, '--input', mp, '--out', b, '--outputs', 'alerts,results']);
    expect(r.status, r.stderr).toBe(0);
    expect(read(b, 'alerts.jsonl')).toBe(read(a, 'alerts.jsonl'));
    expect(read(b, 'results.jsonl')).toBe(read(a, 'results.jsonl'));
  });

  it('decodes a .msgpackr input as MessagePack, with the counts of the same events in NDJSON', () => {
    const lines = readFileSync(events, 'utf8').split('\n').filter(Boolean).slice(0, 200);
    const ndjson = join(dir, 'few.ndjson');
    const mp = join(dir, 'few.msgpackr');
    writeFileSync(ndjson, `${lines.join('\n')}\n`);
    writeFileSync(mp, Buffer.concat(lines.map((l) => pack(JSON.parse(l)))));
    const fromJson = vigie(['replay', '-c', CONFIG, '--input', ndjson, '--out', join(dir, 'few-ndjson')]);
    expect(fromJson.status, fromJson.stderr).toBe(0);
    const out = join(dir, 'few-msgpackr');
    const r = vigie(['replay', '-c', CONFIG, '--input', mp, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    const j = JSON.parse(fromJson.stdout);
    expect(s.sources.payments.events).toBe(lines.length);
    expect(s.sources.payments.in).toBe(lines.length);
    expect(s.sources.payments.deadLettered.parse_error ?? 0).toBe(0);
    expect(s.deadLetters.byReason.parse_error ?? 0).toBe(0);
    expect(sortedLines(out, 'dead-letters.jsonl').filter((l) => JSON.parse(l).reason === 'parse_error')).toEqual([]);
    expect(s.sources).toEqual(j.sources);
    expect(s.pipelines).toEqual(j.pipelines);
    expect(s.alerts).toEqual(j.alerts);
    expect(s.deadLetters).toEqual(j.deadLetters);
  });

  it('finds the labelled typologies a threshold detector can find, and reports them in the summary', () => {
    const s = replay(join(dir, 'labels'), ['--labels']);
    const t = s.labels.typologies;
    expect(t.card_testing.cases).toBeGreaterThan(0);
    expect(t.card_testing.recall).toBe(1);
    expect(t.card_testing.detectors['card-testing']).toBe(t.card_testing.cases);
    expect(t.mule_fan_in.cases).toBeGreaterThan(0);
    expect(t.mule_fan_in.recall).toBeGreaterThanOrEqual(0.9);
    expect(s.labels.detectors['mule-fan-in'].precision).toBeGreaterThan(0.5);
    expect(s.labels.detectors['card-testing'].truePositives).toBeGreaterThan(0);
  });

  it('counts bad lines in the summary and writes them as dead letters', () => {
    const bad = join(dir, 'bad.ndjson');
    const lines = readFileSync(events, 'utf8').split('\n').slice(0, 100);
    lines.splice(10, 0, '{not json', '"a string"', '{"id":"x","type":"payment","card":"c"}');
    writeFileSync(bad, `${lines.join('\n')}\n`);
    const out = join(dir, 'bad');
    const r = vigie(['replay', '-c', CONFIG, '--input', bad, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.sources.payments.deadLettered).toEqual({ parse_error: 1, not_an_object: 1, bad_timestamp: 1 });
    expect(s.sources.payments.in).toBe(s.sources.payments.events + 3);
    const dls = sortedLines(out, 'dead-letters.jsonl').map((l) => JSON.parse(l));
    expect(dls.map((d) => d.reason).sort()).toEqual(['bad_timestamp', 'not_an_object', 'parse_error']);
    expect(dls.find((d) => d.reason === 'parse_error').offset).toBe(11);
  });
});
