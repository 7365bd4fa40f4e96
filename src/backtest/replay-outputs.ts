/** The files a replay writes with `--out DIR`, for `vigie replay` alone and for the backtest alike. */
import { mkdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { createSink, sinkSchema } from '../../sinks/index.js';
import type { Sink } from '../../sinks/types.js';
import { VigieError } from '../errors.js';
import { didYouMean } from '../util/suggest.js';

/** Every output `--out DIR` can write: its name on the command line, its file, the engine output it takes. */
export const REPLAY_OUTPUTS = [
  { name: 'alerts', file: 'alerts.jsonl', output: 'alerts' },
  { name: 'shadow-alerts', file: 'shadow-alerts.jsonl', output: 'shadowAlerts' },
  { name: 'results', file: 'results.jsonl', output: 'results' },
  { name: 'dead-letters', file: 'dead-letters.jsonl', output: 'deadLetters' },
  { name: 'scores', file: 'scores.jsonl', output: 'scores' },
  { name: 'queue', file: 'queue.jsonl', output: 'queue' },
] as const;

export type ReplayOutput = (typeof REPLAY_OUTPUTS)[number]['name'];

/** What `--out DIR` writes without `--outputs`. */
export const DEFAULT_REPLAY_OUTPUTS: readonly ReplayOutput[] = ['alerts', 'dead-letters'];

/**
 * `--outputs LIST`: comma-separated names among {@link REPLAY_OUTPUTS}, or `all`. An unknown name is
 * a usage error (with the closest name when it looks like a typo); an empty list too.
 */
export function parseReplayOutputs(list: string): ReplayOutput[] {
  const names = REPLAY_OUTPUTS.map((o) => o.name as string);
  const words = list.split(',').map((w) => w.trim()).filter((w) => w.length > 0);
  if (words.length === 0) throw new VigieError('VIGIE_ERR_USAGE', `--outputs needs at least one of ${names.join(', ')} (or all)`);
  if (words.includes('all')) return REPLAY_OUTPUTS.map((o) => o.name);
  for (const w of words) {
    if (!names.includes(w)) {
      const hint = didYouMean(w, [...names, 'all']);
      throw new VigieError('VIGIE_ERR_USAGE', `--outputs: unknown output "${w}"${hint ? ` (${hint})` : ''}; choose among ${names.join(', ')}, or all`);
    }
  }
  return REPLAY_OUTPUTS.filter((o) => words.includes(o.name)).map((o) => o.name);
}

/**
 * Sinks of `replay --out DIR`: one JSONL file per selected output, started afresh. The files of the
 * outputs not selected are removed (an earlier run's file would otherwise pass for this run's), and
 * the removal is logged.
 */
export async function replayOutSinks(out: string, logger: Logger, outputs: readonly ReplayOutput[] = DEFAULT_REPLAY_OUTPUTS, stdout: NodeJS.WritableStream = process.stderr): Promise<Sink[]> {
  const dir = resolve(out);
  await mkdir(dir, { recursive: true });
  const ctx = { baseDir: dir, stdout, logger };
  const selected = REPLAY_OUTPUTS.filter((o) => outputs.includes(o.name));
  const stale: string[] = [];
  // Replays append nothing to an earlier run's files: each --out run starts them afresh.
  await Promise.all(
    REPLAY_OUTPUTS.map(async ({ name, file }) => {
      const path = join(dir, file);
      if (!outputs.includes(name) && (await exists(path))) stale.push(file);
      await rm(path, { force: true });
    }),
  );
  if (stale.length > 0) logger.info({ dir, removed: stale.sort() }, "removed an earlier run's files of outputs not selected by --outputs");
  logger.info({ dir, files: selected.map((o) => o.file) }, 'replay outputs');
  return selected.map(({ name, file, output }) => createSink(sinkSchema.parse({ name, type: 'jsonl', path: join(dir, file), outputs: [output] }), ctx));
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
