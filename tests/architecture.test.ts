import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const depcruise = join(root, 'node_modules', '.bin', 'depcruise');
const config = join(root, '.dependency-cruiser.cjs');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** dependency-cruiser over `folders` of `cwd` with the project's floors; the violations it finds. */
function cruise(cwd: string, folders: string[]): Violation[] {
  const out = execFileSync(depcruise, [...folders, '--config', config, '--output-type', 'json'], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  return (JSON.parse(out) as { summary: { violations: Violation[] } }).summary.violations;
}

const SOURCE_FOLDERS = ['src', 'operators', 'detectors', 'sinks', 'load-tests'];

describe('architecture (docs/architecture.md)', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'vigie-floors-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /** A tiny tree in the project's layout where `from` imports `to`. */
  const plant = (name: string, from: string, to: string): string => {
    const dir = join(scratch, name);
    for (const f of [from, to]) mkdirSync(join(dir, dirname(f)), { recursive: true });
    const rel = join(...dirname(from).split('/').map(() => '..'), to).replace(/\.ts$/, '.js');
    writeFileSync(join(dir, from), `import { x } from '${rel}';\nexport const y = x;\n`);
    writeFileSync(join(dir, to), to === from ? '' : `export const x = 1;\n`);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' } }));
    return dir;
  };

  it('no import points up a floor, crosses plugin families or forms a cycle', () => {
    const violations = cruise(root, SOURCE_FOLDERS).map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
    expect(violations).toEqual([]);
  });

  it.each([
    ['ground-imports-nothing-above', 'src/util/a.ts', 'src/engine/b.ts'],
    ['services-import-only-ground', 'src/redis/a.ts', 'sinks/b.ts'],
    ['plugins-import-no-config-engine-or-apps', 'detectors/a.ts', 'src/engine/b.ts'],
    ['detectors-are-independent', 'detectors/a.ts', 'operators/b.ts'],
    ['config-imports-no-engine-or-apps', 'src/config/a.ts', 'src/engine/b.ts'],
    ['engine-imports-no-apps', 'src/engine/a.ts', 'src/cli/b.ts'],
    ['only-benchmarks-use-test-infra', 'src/engine/a.ts', 'tests/infra/b.ts'],
  ])('the check fails on %s (%s imports %s)', (rule, from, to) => {
    const dir = plant(rule, from, to);
    expect(cruise(dir, [from.split('/')[0]]).map((v) => v.rule.name)).toContain(rule);
  });

  /** A scratch tree of the given files (path -> text), with a tsconfig resolving like the project's. */
  const tree = (name: string, files: Record<string, string>): string => {
    const dir = join(scratch, name);
    for (const [f, text] of Object.entries(files)) {
      mkdirSync(join(dir, dirname(f)), { recursive: true });
      writeFileSync(join(dir, f), text);
    }
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' } }));
    return dir;
  };

  it('the check fails on a cycle', () => {
    const dir = tree('cycle', {
      'src/engine/a.ts': "import { b } from './b.js';\nexport const a = b;\n",
      'src/engine/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
    });
    expect(cruise(dir, ['src']).map((v) => v.rule.name)).toContain('no-cycle');
  });

  it('a type-only import counts as an import', () => {
    const dir = tree('type-only', {
      'src/util/a.ts': "import type { B } from '../engine/b.js';\nexport type A = B;\n",
      'src/engine/b.ts': 'export type B = number;\n',
    });
    expect(cruise(dir, ['src']).map((v) => v.rule.name)).toContain('ground-imports-nothing-above');
  });

  it('docs/architecture.md names every source folder in its table of floors', () => {
    const doc = readFileSync(join(root, 'docs', 'architecture.md'), 'utf8');
    const folders = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', ...SOURCE_FOLDERS], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.endsWith('.ts'))
      .map((f) => (f.startsWith('src/') ? (f.split('/').length > 2 ? `${f.split('/').slice(0, 2).join('/')}/` : f) : `${f.split('/')[0]}/`));
    const missing = [...new Set(folders)].filter((f) => !doc.includes(`\`${f}\``));
    expect(missing).toEqual([]);
  });

  it('no source file is over 500 lines', () => {
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', ...SOURCE_FOLDERS], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.endsWith('.ts'));
    const long = files
      .map((f) => ({ f, lines: readFileSync(join(root, f), 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > 500)
      .map(({ f, lines }) => `${f}: ${lines} lines`);
    expect(long).toEqual([]);
  });
});
