import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir, vigie } from '../helpers/cli.js';

describe('vigie validate', () => {
  it('accepts the shipped configs', () => {
    for (const f of ['config/demo.yaml', 'config/payments.yaml', 'config/kafka.yaml', 'config/nab.yaml', 'config/telemetry.yaml', 'load-tests/standard-job.yaml']) {
      const r = vigie(['validate', '-c', f]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/valid \(version [0-9a-f]{12}\)/);
    }
  });

  it('reports every problem with file, line, column and path, and exits with 2', () => {
    const file = join(tempDir(), 'bad.yaml');
    writeFileSync(
      file,
      [
        'sources:',
        '  - name: in',
        '    type: stdin',
        '    colour: red',
        'pipelines:',
        '  - name: p',
        '    key: card',
        '    window: { type: tumbling, size: 5 minutes }',
        '    aggregates: [{ name: n, fn: count }]',
        '    detectors:',
        '      - { name: d, type: threshold, aggregate: missing, value: 3 }',
        '',
      ].join('\n'),
    );
    const r = vigie(['validate', '-c', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file}:4:5: sources[0].colour: unknown key "colour"`);
    expect(r.stderr).toMatch(new RegExp(`${file}:8:\\d+: pipelines\\[0\\]\\.window\\.size: invalid duration`));
    // Cross-references are checked even though other parts of the config do not parse.
    expect(r.stderr).toContain(`${file}:11:48: pipelines[0].detectors[0].aggregate: unknown aggregate "missing"`);
    expect(r.stderr).toContain('3 problems');
  });

  it('checks cross-references: a detector naming an aggregate its pipeline does not define', () => {
    const file = join(tempDir(), 'xref.yaml');
    writeFileSync(
      file,
      [
        'sources: [{ name: in, type: stdin }]',
        'pipelines:',
        '  - name: p',
        '    sources: [in, other]',
        '    key: card',
        '    window: { type: tumbling, size: 5m }',
        '    aggregates: [{ name: n, fn: count }]',
        '    detectors:',
        '      - { name: d, type: threshold, aggregate: missing, value: 3 }',
        '',
      ].join('\n'),
    );
    const r = vigie(['validate', '-c', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file}:4:19: pipelines[0].sources[1]: unknown source "other"`);
    expect(r.stderr).toMatch(new RegExp(`${file}:9:\\d+: pipelines\\[0\\]\\.detectors\\[0\\]\\.aggregate: unknown aggregate "missing"`));
    expect(r.stderr).toContain('2 problems');
  });

  it('reports YAML syntax errors with their position', () => {
    const file = join(tempDir(), 'syntax.yaml');
    writeFileSync(file, 'sources:\n  - name: in\n   type: [stdin\n');
    const r = vigie(['validate', '-c', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${file}:\\d+:\\d+: \\(root\\): YAML`));
  });

  describe('a rule across options (velocity `measure: sum` without `field`)', () => {
    const config = (dir: string) => {
      const file = join(dir, 'sum.yaml');
      writeFileSync(
        file,
        [
          'sources: [{ name: in, type: stdin }]',
          'pipelines:',
          '  - name: p',
          '    key: card',
          '    detectors:',
          '      - name: big-spend',
          '        type: velocity',
          '        measure: sum',
          '        lookback: 10m',
          '        value: 1000',
          '',
        ].join('\n'),
      );
      return file;
    };
    const problem = (file: string) => `${file}:6:9: pipelines[0].detectors[0].field: measure: sum needs \`field\`: the numeric field to add up`;

    it('is reported by validate, at the detector, with exit code 2', () => {
      const file = config(tempDir());
      const r = vigie(['validate', '-c', file]);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`${problem(file)}\nvigie: VIGIE_ERR_CONFIG: 1 problem in ${file}\n`);
    });

    it('makes replay refuse the config the same way, without a stack trace', () => {
      const dir = tempDir();
      const file = config(dir);
      const input = join(dir, 'in.ndjson');
      writeFileSync(input, '{"ts":1000,"card":"c1","amount":5}\n');
      const r = vigie(['replay', '-c', file, '-i', input]);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(problem(file));
      expect(r.stderr).toContain('VIGIE_ERR_CONFIG');
      expect(r.stderr).not.toContain('    at ');
    });
  });

  it('fails clearly on a missing file', () => {
    const r = vigie(['validate', '-c', '/nonexistent/vigie.yaml']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('cannot read config: ENOENT');
  });
});

describe('environment references in configs', () => {
  it('expands ${NAME} and ${NAME:-default}, and reports unset variables with their position', async () => {
    const { parseConfig, ConfigError } = await import('../../src/config/load.js');
    const text = 'sources: [{ name: "${SRC:-in}", type: stdin }]\npipelines:\n  - { name: p, key: "${KEY}", window: { type: tumbling, size: 1m }, aggregates: [{ name: n, fn: count }] }\n';
    const ok = parseConfig(text, 'env.yaml', { KEY: 'card' });
    expect(ok.config.sources[0].name).toBe('in');
    expect(ok.config.pipelines[0].key).toBe('card');
    try {
      parseConfig(text, 'env.yaml', {});
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as InstanceType<typeof ConfigError>).problems[0]).toMatchObject({ path: 'pipelines[0].key', line: 3, message: expect.stringContaining('KEY is not set') });
    }
  });
});
