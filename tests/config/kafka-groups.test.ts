import { describe, expect, it } from 'vitest';
import { formatProblem, validateConfigText } from '../../src/config/load.js';

const CFG = (groupB: string) => `
sources:
  - { name: payments, type: kafka, topics: [payments], groupId: g1 }
  - { name: logins, type: kafka, topics: [logins], groupId: ${groupB} }
pipelines:
  - name: p
    key: customer
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }]
metrics: { enabled: false }
`;

describe('Kafka sources and consumer groups', () => {
  it('two Kafka sources in one consumer group are refused, at the second groupId, with the remedy', () => {
    const report = validateConfigText(CFG('g1'), 'c.yaml');
    const errors = report.problems.filter((p) => p.severity !== 'warning').map(formatProblem);
    expect(errors).toEqual([
      expect.stringMatching(/^c\.yaml:4:\d+: sources\[1\]\.groupId: consumer group "g1" is already used by source "payments": give each Kafka source its own groupId/),
    ]);
  });

  it('one group per source is valid', () => {
    const report = validateConfigText(CFG('g2'), 'c.yaml');
    expect(report.problems.filter((p) => p.severity !== 'warning')).toEqual([]);
  });
});
