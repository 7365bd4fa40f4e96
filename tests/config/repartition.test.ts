import { describe, expect, it } from 'vitest';
import { formatProblem, validateConfigText } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { rekeyedPipelines } from '../../src/config/repartition.js';

function problems(text: string): string[] {
  return validateConfigText(text, 'c.yaml', { KAFKA_BROKERS: '127.0.0.1:9092' }).problems.map(formatProblem);
}

const base = (opts: { partitionedBy?: string; repartition?: string; name?: string; extraSource?: string; terminalSources?: string } = {}) =>
  [
    `name: ${opts.name ?? 'e2e'}`,
    'sources:',
    '  - name: payments',
    '    type: kafka',
    '    topics: [payments]',
    '    groupId: vigie-e2e',
    ...(opts.partitionedBy ? [`    partitionedBy: ${opts.partitionedBy}`] : []),
    ...(opts.extraSource ? opts.extraSource.split('\n') : []),
    'pipelines:',
    '  - name: by-customer',
    '    key: customer',
    '    window: { type: tumbling, size: 1h }',
    '    aggregates: [{ name: events, fn: count }]',
    '  - name: by-terminal',
    '    key: terminal',
    ...(opts.terminalSources ? [`    sources: ${opts.terminalSources}`] : []),
    '    window: { type: tumbling, size: 1h }',
    '    aggregates: [{ name: events, fn: count }]',
    ...(opts.repartition ? opts.repartition.split('\n') : []),
    '',
  ].join('\n');

describe('config: partitionedBy and repartition', () => {
  it('accepts partitionedBy (a field or a list) and the repartition section, with its defaults', () => {
    expect(problems(base({ partitionedBy: 'customer' }))).toEqual([]);
    expect(problems(base({ partitionedBy: '[customer, country]' }))).toEqual([]);
    const text = base({ partitionedBy: 'customer', repartition: 'repartition: { partitions: 6, replicationFactor: 3, retention: 2d, topicPrefix: "fraud." }' });
    expect(problems(text)).toEqual([]);
    const parsed = configSchema.parse({
      sources: [{ name: 'payments', type: 'kafka', topics: ['payments'], groupId: 'g', partitionedBy: 'customer' }],
      pipelines: [{ name: 'by-terminal', key: 'terminal', detectors: [{ name: 'x', type: 'first-seen', field: 'device' }] }],
    });
    expect(parsed.repartition).toEqual({ partitions: 0, replicationFactor: 1, retention: 7 * 86_400_000, topicPrefix: '' });
    expect(rekeyedPipelines(parsed)).toEqual([{ pipeline: 'by-terminal', topic: 'vigie-by-terminal-repartition', sources: ['payments'] }]);
  });

  it('re-keys only the pipelines keyed otherwise than partitionedBy, through <prefix><pipeline>-repartition', () => {
    const cfg = (partitionedBy: string | undefined, prefix = '') =>
      configSchema.parse({
        name: 'e2e',
        sources: [{ name: 'payments', type: 'kafka', topics: ['payments'], groupId: 'g', partitionedBy }],
        pipelines: [
          { name: 'by-customer', key: 'customer', window: { type: 'tumbling', size: '1h' }, aggregates: [{ name: 'n', fn: 'count' }] },
          { name: 'by-terminal', key: ['terminal'], window: { type: 'tumbling', size: '1h' }, aggregates: [{ name: 'n', fn: 'count' }] },
        ],
        repartition: { topicPrefix: prefix },
      });
    expect(rekeyedPipelines(cfg('customer')).map((r) => r.topic)).toEqual(['e2e-by-terminal-repartition']);
    expect(rekeyedPipelines(cfg('customer', 'x.')).map((r) => r.topic)).toEqual(['x.by-terminal-repartition']);
    // Without partitionedBy: today's behaviour, nothing re-keyed.
    expect(rekeyedPipelines(cfg(undefined))).toEqual([]);
  });

  it('re-keys a pipeline keyed like its sources when it reads several Kafka topics (both sides of a join in one task)', () => {
    const cfg = (sources: unknown[], pipelineSources?: string[]) =>
      configSchema.parse({
        name: 'e2e',
        sources,
        pipelines: [{ name: 'p', key: 'customer', ...(pipelineSources ? { sources: pipelineSources } : {}), window: { type: 'tumbling', size: '1h' }, aggregates: [{ name: 'n', fn: 'count' }] }],
      });
    const payments = { name: 'payments', type: 'kafka', topics: ['payments'], groupId: 'g1', partitionedBy: 'customer' };
    const logins = { name: 'logins', type: 'kafka', topics: ['logins'], groupId: 'g2', partitionedBy: 'customer' };
    expect(rekeyedPipelines(cfg([payments, logins]))).toEqual([{ pipeline: 'p', topic: 'e2e-p-repartition', sources: ['payments', 'logins'] }]);
    expect(rekeyedPipelines(cfg([payments, logins], ['payments']))).toEqual([]);
    expect(rekeyedPipelines(cfg([{ ...payments, topics: ['payments', 'logins'] }])).map((r) => r.pipeline)).toEqual(['p']);
  });

  it('refuses bad repartition values with their paths', () => {
    const text = base({ partitionedBy: 'customer', repartition: 'repartition: { partitions: -1, replicationFactor: 0, retention: 0, topicPrefix: "a b", extra: 1 }' });
    const out = problems(text);
    expect(out.some((l) => /repartition\.partitions: .*>=\s*0/.test(l)), out.join('\n')).toBe(true);
    expect(out.some((l) => /repartition\.replicationFactor: /.test(l)), out.join('\n')).toBe(true);
    expect(out.some((l) => /repartition\.retention: must be greater than 0/.test(l)), out.join('\n')).toBe(true);
    expect(out.some((l) => /repartition\.topicPrefix: letters, digits/.test(l)), out.join('\n')).toBe(true);
    expect(out.some((l) => /repartition\.extra: unknown key/.test(l)), out.join('\n')).toBe(true);
  });

  it('refuses an empty partitionedBy', () => {
    const out = problems(base({ partitionedBy: '""' }));
    expect(out.some((l) => l.includes('sources[0].partitionedBy')), out.join('\n')).toBe(true);
  });

  it('refuses a re-keyed pipeline that also reads a source without partitionedBy, naming the sources to list', () => {
    const extra = ['  - name: logins', '    type: generator', '    scenario: payments'].join('\n');
    const out = problems(base({ partitionedBy: 'customer', extraSource: extra }));
    expect(out.some((l) => l.includes('pipelines[1].key') && l.includes('re-keyed') && l.includes('"logins"') && l.includes('sources: [payments]')), out.join('\n')).toBe(true);
    // Listing only the partitioned source is fine (by-customer, not re-keyed, reads both).
    expect(problems(base({ partitionedBy: 'customer', extraSource: extra, terminalSources: '[payments]' }))).toEqual([]);
    // Naming the other source explicitly points at `sources`.
    const named = problems(base({ partitionedBy: 'customer', extraSource: extra, terminalSources: '[payments, logins]' }));
    expect(named.some((l) => l.includes('pipelines[1].sources')), named.join('\n')).toBe(true);
  });

  it('refuses a job name that makes a topic name Kafka refuses, only when something is re-keyed', () => {
    const out = problems(base({ partitionedBy: 'customer', name: '"fraud job"' }));
    expect(out.some((l) => l.includes('name:') && l.includes('fraud job-by-terminal-repartition')), out.join('\n')).toBe(true);
    expect(problems(base({ name: '"fraud job"' }))).toEqual([]);
    expect(problems(base({ partitionedBy: 'customer', name: '"fraud job"', repartition: 'repartition: { topicPrefix: fraud- }' }))).toEqual([]);
  });
});

describe('docs/repartition.md', () => {
  it('its config example is a valid config that re-keys by-terminal only', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../docs/repartition.md', import.meta.url), 'utf8');
    const examples = [...doc.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
    expect(examples.length).toBe(1);
    expect(problems(examples[0])).toEqual([]);
    const { parseConfig } = await import('../../src/config/load.js');
    const cfg = parseConfig(examples[0], 'docs/repartition.md');
    expect(rekeyedPipelines(cfg.config).map((r) => r.topic)).toEqual(['e2e-by-terminal-repartition']);
  });
});
