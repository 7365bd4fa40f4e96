/**
 * CPU time and peak memory of the processes a benchmark runs, read from /proc (Linux).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { VigieError } from '../src/errors.js';

/** The fields of /proc/<pid>/stat a benchmark needs; times in clock ticks. */
export interface ProcStat {
  pid: number;
  ppid: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
}

/** Parses /proc/<pid>/stat (the command name, in parentheses, may hold spaces and parentheses). */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(')');
  const pid = Number(text.slice(0, text.indexOf('(')).trim());
  // Fields after the name, from the 3rd (state): ppid is the 4th, utime..cstime the 14th..17th.
  const f = text.slice(close + 2).trim().split(/\s+/);
  const at = (n: number): number => Number(f[n - 3]);
  const stat = { pid, ppid: at(4), utime: at(14), stime: at(15), cutime: at(16), cstime: at(17) };
  if (close < 0 || Object.values(stat).some((v) => !Number.isInteger(v))) throw new VigieError('VIGIE_ERR_INPUT', `not a /proc/<pid>/stat line: ${text.slice(0, 80)}`);
  return stat;
}

const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux

function readStat(pid: number): ProcStat | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) of a process, of its children it waited for, and of its live descendants; null once it is gone. */
export function processCpuSeconds(pid: number): number | null {
  const own = readStat(pid);
  if (own === null) return null;
  const all = [own];
  const pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  const stats = pids.map(readStat).filter((s): s is ProcStat => s !== null && s.pid !== pid);
  for (let i = 0; i < all.length; i++) all.push(...stats.filter((s) => s.ppid === all[i].pid));
  return all.reduce((sum, s) => sum + s.utime + s.stime + s.cutime + s.cstime, 0) / CLOCK_TICKS;
}

/** Peak resident set (MB) of a live process (VmHWM); NaN once it is gone. */
export function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
