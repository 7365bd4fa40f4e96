import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateConfigText } from '../../src/config/load.js';

describe('docs/tables.md', () => {
  it('its worked example is a full valid config', () => {
    const path = fileURLToPath(new URL('../../docs/tables.md', import.meta.url));
    const doc = readFileSync(path, 'utf8');
    const example = doc.slice(doc.indexOf('## Example'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(example)?.[1];
    expect(yaml).toBeDefined();
    const report = validateConfigText(yaml!, path);
    expect(report.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([]);
    expect(report.loaded?.config.tables?.map((t) => t.name)).toEqual(['merchants', 'watchlist']);
  });
});
