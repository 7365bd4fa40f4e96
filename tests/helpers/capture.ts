import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';

/** A trace-level logger (with the engine's redaction) writing into a string, to search for leaked secrets. */
export function capturedLogger(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { logger: createLogger({ level: 'trace', destination: stream }), text: () => text };
}

/** The error `p` rejects with; fails when it resolves. */
export async function failure(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error,
  );
}

/** Everything an error says: its message and stack, and those of its causes (`cause`, or kafkajs' `originalError`). */
export function errorText(err: Error): string {
  const parts: string[] = [];
  for (let e: unknown = err, i = 0; e instanceof Error && i < 5; e = e.cause ?? (e as { originalError?: unknown }).originalError, i++) {
    parts.push(e.message, e.stack ?? '');
  }
  return parts.join('\n');
}
