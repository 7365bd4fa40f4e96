import { describe, expect, it } from 'vitest';
import { ConfigError, formatProblem, parseConfig } from '../../src/config/load.js';

const config = (op: string) => `sources: [{ name: s, type: stdin }]
pipelines:
  - name: p
    key: k
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }]
    detectors:
      - name: d
        type: threshold
        aggregate: n
        op: ${op}
        value: 3
`;

function problems(text: string): string[] {
  try {
    parseConfig(text, 'c.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem);
    throw err;
  }
  return [];
}

describe('YAML errors with their remedy', () => {
  it('an unquoted `op: >=` says to quote it, at its line', () => {
    expect(problems(config('>='))).toEqual([`c.yaml:11:14: (root): YAML: Block scalar header includes extra characters: >= (a value starting with ">" must be quoted in YAML: write op: '>=')`]);
  });

  it('a quoted one is valid', () => {
    expect(problems(config("'>='"))).toEqual([]);
  });
});
