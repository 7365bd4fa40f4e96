/** The files a replay writes with `--out DIR`, for `vigie replay` alone and for the backtest alike. */
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { createSink, sinkSchema } from '../../sinks/index.js';
import type { Sink } from '../../sinks/types.js';

/** Sinks of `replay --out DIR`: alerts.jsonl, results.jsonl, dead-letters.jsonl and scores.jsonl, started afresh. */
export async function replayOutSinks(out: string, logger: Logger, stdout: NodeJS.WritableStream = process.stderr): Promise<Sink[]> {
  const dir = resolve(out);
  await mkdir(dir, { recursive: true });
  const ctx = { baseDir: dir, stdout, logger };
  const files = [
    ['alerts', 'alerts.jsonl', 'alerts'],
    ['results', 'results.jsonl', 'results'],
    ['dead-letters', 'dead-letters.jsonl', 'deadLetters'],
    ['scores', 'scores.jsonl', 'scores'],
  ] as const;
  // Replays append nothing to an earlier run's files: each --out run starts them afresh.
  await Promise.all(files.map(([, file]) => rm(join(dir, file), { force: true })));
  return files.map(([name, file, output]) => createSink(sinkSchema.parse({ name, type: 'jsonl', path: join(dir, file), outputs: [output] }), ctx));
}
