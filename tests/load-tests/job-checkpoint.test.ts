/**
 * bench:job-checkpoint on a small input: it runs, and what it reports holds together (a checkpoint
 * writes at most the keys changed, the idle one none, the whole layout's meta value holds the
 * detectors' state).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

it('bench:job-checkpoint reports each checkpoint beside the whole layout, and the idle one writes no key', () => {
  const results = mkdtempSync(join(tmpdir(), 'vigie-job-cp-'));
  try {
    const args = ['dist/load-tests/bench-job-checkpoint.js', '--keys', '300', '--rate', '200', '--every', '1000', '--events', '4000', '--json', '--results', results];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as {
      checkpoints: number;
      rows: Array<{ keysHeld: number; perKey: { keys: number; metaBytes: number }; whole: { metaBytes: number } }>;
      idle: { bytes: number; bytesWholeLayout: number };
      bytesRatio: number;
    };
    expect(out.checkpoints).toBe(4);
    for (const row of out.rows) {
      // The meta value of the whole layout carries every detector's state on top of what stays in the meta value now.
      expect(row.whole.metaBytes).toBeGreaterThan(row.perKey.metaBytes);
      expect(row.perKey.keys).toBeGreaterThan(0);
    }
    // With nothing changed, only the meta value is written, smaller than the whole layout's.
    expect(out.idle.bytes).toBe(out.rows[out.rows.length - 1].perKey.metaBytes);
    expect(out.idle.bytesWholeLayout).toBeGreaterThan(out.idle.bytes);
    expect(out.bytesRatio).toBeGreaterThan(0);
  } finally {
    rmSync(results, { recursive: true, force: true });
  }
});
