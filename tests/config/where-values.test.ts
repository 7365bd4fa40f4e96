import { describe, expect, it } from 'vitest';
import { formatProblem, parseConfig } from '../../src/config/load.js';
import { Engine } from '../../src/engine/engine.js';
import { memorySource } from '../../src/sources/memory.js';
import { capturedLogger } from '../helpers/capture.js';
import { collectSink } from '../helpers/collect.js';

const CFG = (where: string, source = '{ name: payments, type: generator, scenario: payments, events: 10 }') => `
sources: [${source}]
pipelines:
  - name: p
    where: ${where}
    key: customer
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }]
metrics: { enabled: false }
`;

describe('a `where` that never matches', () => {
  it('is a warning at validation when a built-in generator never gives that value, with a did-you-mean', () => {
    const loaded = parseConfig(CFG('{ type: paymnet }'), 'c.yaml');
    expect(loaded.warnings?.map(formatProblem)).toEqual([
      'c.yaml:5:20: pipelines[0].where.type: warning: "paymnet" never occurs in field "type" of the events read (payment, transfer, login, password_change, device_enrolled): this pipeline would filter out every event (did you mean "payment"?)',
    ]);
    expect(parseConfig(CFG('{ type: [payment, transfer] }'), 'c.yaml').warnings).toEqual([]);
    // A source that does not say what values the field takes may carry any: no warning.
    expect(parseConfig(CFG('{ type: paymnet }', '{ name: payments, type: stdin }'), 'c.yaml').warnings).toEqual([]);
  });

  it('is logged as a warning at run time once a pipeline has filtered out 10,000 events and processed none', async () => {
    const { logger, text } = capturedLogger();
    const loaded = parseConfig(CFG('{ type: paymnet }', '{ name: payments, type: stdin }'), 'c.yaml');
    const events = Array.from({ length: 12_000 }, (_, i) => ({ id: `e${i}`, ts: 1_700_000_000_000 + i, type: 'payment', customer: `c${i % 50}` }));
    const engine = new Engine({ loaded, mode: 'replay', logger, sources: [memorySource(events, { name: 'payments' })], sinks: [collectSink()] });
    const summary = await engine.run();
    expect(summary.pipelines.p).toMatchObject({ processed: 0, filtered: 12_000 });
    const lines = text().split('\n').filter((l) => l.includes('has filtered out every event'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ level: 40, pipeline: 'p' });
  });
});
