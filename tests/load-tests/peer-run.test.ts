import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hashString } from '../../src/generator/rng.js';
import { paymentRecords, parseProgressLine } from '../../load-tests/peer-run.js';
import { parseProcStat, processCpuSeconds } from '../../load-tests/proc-stats.js';

describe('parseProgressLine', () => {
  it('reads the four numbers of a progress line', () => {
    expect(parseProgressLine('progress 1767225600123 5004 1767225590000 1767225600100')).toEqual({
      atMs: 1767225600123, records: 5004, firstMs: 1767225590000, lastMs: 1767225600100,
    });
    expect(parseProgressLine('progress 1767225600123 0 0 0\r')).toEqual({ atMs: 1767225600123, records: 0, firstMs: 0, lastMs: 0 });
  });

  it('refuses any other line', () => {
    for (const line of ['{"records":5,"alerts":1}', 'progress 1 2 3', 'progress 1 2 3 x', 'Progress 1 2 3 4', 'progress -1 2 3 4', ' progress 1 2 3 4', '']) {
      expect(parseProgressLine(line)).toBeNull();
    }
  });
});

describe('parseProcStat', () => {
  it('reads ppid and the four CPU times, whatever the command name holds', () => {
    const rest = 'S 4242 900 900 0 -1 4194560 1200 0 3 0 1234 567 89 10 20 0 41 0 12345 7000000 1500';
    expect(parseProcStat(`31337 (java) ${rest}`)).toEqual({ pid: 31337, ppid: 4242, utime: 1234, stime: 567, cutime: 89, cstime: 10 });
    expect(parseProcStat(`31337 (a (b) c) ${rest}`)).toEqual({ pid: 31337, ppid: 4242, utime: 1234, stime: 567, cutime: 89, cstime: 10 });
  });

  it('reads this process, whose parent is known', () => {
    const s = parseProcStat(readFileSync('/proc/self/stat', 'utf8'));
    expect(s.pid).toBe(process.pid);
    expect(s.ppid).toBe(process.ppid);
  });

  it('refuses a line that is not one', () => {
    expect(() => parseProcStat('not a stat line')).toThrow(/not a \/proc/);
  });
});

describe('processCpuSeconds', () => {
  it('counts the CPU of a process and of the children it waited for; null once the process is gone', () => {
    const before = processCpuSeconds(process.pid) as number;
    // A child that spins for 300 ms of CPU: its time joins this process's children time once waited for.
    const r = spawnSync(process.execPath, ['-e', 'const t = process.cpuUsage(); while ((process.cpuUsage(t).user) < 300000);']);
    expect(r.status).toBe(0);
    const after = processCpuSeconds(process.pid) as number;
    expect(after - before).toBeGreaterThanOrEqual(0.25);
    const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)']);
    expect(processCpuSeconds(Number(gone.stdout.toString()))).toBeNull();
  });
});

describe('paymentRecords', () => {
  it('gives each payment its customer as key and the partition hash(customer) mod partitions, the same for the same seed', () => {
    const o = { events: 300, seed: 3, keys: 50, zipf: 1.1, size: 0, outOfOrder: 0.1, maxDelay: 3000, fraudRate: 0.01, start: Date.parse('2026-01-01T00:00:00Z'), eventRate: 20, partitions: 3 };
    const a = paymentRecords(o);
    expect(a).toHaveLength(300);
    for (const r of a) {
      const e = JSON.parse(r.value) as { customer: string; ts: number; type: string };
      expect(r.key).toBe(e.customer);
      expect(r.ts).toBe(e.ts);
      expect(r.partition).toBe(hashString(e.customer) % 3);
    }
    expect(new Set(a.map((r) => r.partition)).size).toBe(3);
    expect(paymentRecords(o)).toEqual(a);
  });
});
