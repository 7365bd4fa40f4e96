/** The worked examples of the README's "Heterogeneous sources" section are configs `vigie validate` accepts. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem, validateConfigText } from '../../src/config/load.js';
import { ROOT } from '../helpers/cli.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const start = readme.indexOf('## Heterogeneous sources');
const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);

describe('README: heterogeneous sources', () => {
  it('has one worked example for the mapping, the table join, the interval join and re-keying', () => {
    expect(blocks.length).toBe(4);
    expect(blocks[1]).toMatch(/enrich:/);
    expect(blocks[2]).toMatch(/join:/);
    expect(blocks[3]).toMatch(/partitionedBy:/);
  });

  it.each(blocks.map((b, i) => [i, b] as const))('example %i is a valid config', (_i, text) => {
    const report = validateConfigText(text, 'README.md', { KAFKA_BROKERS: '127.0.0.1:9092' });
    expect(report.problems.filter((p) => p.severity !== 'warning').map(formatProblem)).toEqual([]);
  });
});
