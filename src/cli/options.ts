/** Parsers of command-line option values, shared by the commands: a bad value is a usage error (exit code 2). */
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../time/duration.js';

export function int(name: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer >= ${min}${max < Number.MAX_SAFE_INTEGER ? ` and <= ${max}` : ''}`);
    return n;
  };
}

export function positive(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number > 0`);
    return n;
  };
}

/** "30s", "5m", "2h" (or milliseconds) to milliseconds, more than 0. */
export function duration(name: string) {
  return (v: string): number => {
    const ms = parseDuration(v);
    if (ms === undefined || ms <= 0) throw new InvalidArgumentError(`${name} must be a duration like 30s, 5m or 2h`);
    return ms;
  };
}
