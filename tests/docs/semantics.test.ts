/**
 * docs/semantics.md against the code: every rule names tests that exist, and every rule the code
 * cites exists.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ROOT } from '../helpers/cli.js';

const DOC = 'docs/semantics.md';
const RULES = Array.from({ length: 19 }, (_, i) => i + 1);
const CODE_DIRS = ['src', 'operators', 'detectors', 'sinks'];
const ALL_DIRS = [...CODE_DIRS, 'tests', 'load-tests'];

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const doc = read(DOC);

/** Each rule's section: from its `### N.` heading to the next heading. */
function sections(): Map<number, string> {
  const out = new Map<number, string>();
  const heads = [...doc.matchAll(/^#{2,3} .*$/gm)];
  heads.forEach((h, i) => {
    const m = /^### (\d+)\. /.exec(h[0]);
    if (m) out.set(Number(m[1]), doc.slice(h.index, heads[i + 1]?.index ?? doc.length));
  });
  return out;
}

interface TestRef {
  file: string;
  describe: string;
  it: string;
}

/** Lines "- `tests/....test.ts`: describe > it" (the describe is up to the first " > "). */
function testRefs(section: string): TestRef[] {
  return [...section.matchAll(/^- `(tests\/[^`]+\.test\.ts)`: (.+?) > (.+)$/gm)].map((m) => ({ file: m[1], describe: m[2], it: m[3] }));
}

/** Where a test name appears in a file as a string literal (single, double or back quotes), or -1. */
function literalAt(text: string, name: string, from = 0): number {
  const forms = [`'${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`, `"${name.replace(/"/g, '\\"')}"`, `\`${name}\``];
  const found = forms.map((f) => text.indexOf(f, from)).filter((i) => i >= 0);
  return found.length > 0 ? Math.min(...found) : -1;
}

function tsFiles(dir: string): string[] {
  const abs = join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && d.name.endsWith('.ts'))
    .map((d) => relative(ROOT, join(d.parentPath, d.name)));
}

/** "3-6" -> [3, 4, 5, 6]; "1, 14" -> [1, 14]; "4 and 6" -> [4, 6]. */
function ruleNumbers(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(/\s*(?:,|and)\s*/)) {
    const range = /^(\d+)\s*[-–]\s*(\d+)$/.exec(part);
    if (range) for (let n = Number(range[1]); n <= Number(range[2]); n++) out.push(n);
    else if (/^\d+$/.test(part)) out.push(Number(part));
  }
  return out;
}

/** Comment text of a TypeScript file: line comments and block comments (strings are not parsed; good enough for citations). */
function comments(text: string): string[] {
  return [...text.matchAll(/\/\*[\s\S]*?\*\/|\/\/.*$/gm)].map((m) => m[0]);
}

const CITATION = /\brules? (\d+(?:\s*(?:[-–,]|and)\s*\d+)*)/g;

describe('docs/semantics.md', () => {
  it('has rules 1 to 15, in order, each with at least one test that exists under the name quoted', () => {
    const found = sections();
    expect([...found.keys()]).toEqual(RULES);
    const problems: string[] = [];
    for (const [n, section] of found) {
      const refs = testRefs(section);
      if (refs.length === 0) problems.push(`rule ${n}: no test listed`);
      for (const ref of refs) {
        if (!existsSync(join(ROOT, ref.file))) {
          problems.push(`rule ${n}: ${ref.file} does not exist`);
          continue;
        }
        const text = read(ref.file);
        const d = literalAt(text, ref.describe);
        if (d < 0) problems.push(`rule ${n}: ${ref.file} has no describe "${ref.describe}"`);
        else if (literalAt(text, ref.it, d) < 0) problems.push(`rule ${n}: ${ref.file} has no test "${ref.it}" after describe "${ref.describe}"`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('its config example is a valid config', () => {
    const examples = [...doc.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
    expect(examples.length).toBeGreaterThan(0);
    for (const yaml of examples) expect(() => parseConfig(yaml, DOC)).not.toThrow();
  });

  it('every rule cited in the comments of the code exists, and citations name docs/semantics.md', () => {
    const rules = new Set(sections().keys());
    const cited = new Map<number, string[]>();
    const problems: string[] = [];
    for (const file of CODE_DIRS.flatMap(tsFiles)) {
      for (const c of comments(read(file))) {
        for (const m of c.matchAll(CITATION)) {
          for (const n of ruleNumbers(m[1])) cited.set(n, [...(cited.get(n) ?? []), file]);
        }
      }
    }
    for (const [n, files] of cited) if (!rules.has(n)) problems.push(`rule ${n} cited in ${[...new Set(files)].join(', ')} does not exist`);
    expect(problems).toEqual([]);
    // The code does cite rules (a broken pattern would find none and pass).
    expect(cited.size).toBeGreaterThan(3);
  });

  it('tests and load tests cite only rules that exist, and no file points to another semantics document', () => {
    const rules = new Set(sections().keys());
    const problems: string[] = [];
    for (const file of ALL_DIRS.flatMap(tsFiles)) {
      if (file === 'tests/docs/semantics.test.ts') continue;
      const text = read(file);
      for (const m of text.matchAll(CITATION)) {
        for (const n of ruleNumbers(m[1])) if (!rules.has(n)) problems.push(`${file}: rule ${n} does not exist`);
      }
      for (const m of text.matchAll(/[\w./-]*semantics\.md/gi)) {
        if (m[0] !== 'docs/semantics.md') problems.push(`${file}: cites ${m[0]} (expected docs/semantics.md)`);
      }
    }
    expect(problems).toEqual([]);
  });
});
