/**
 * Every error Vigie raises on purpose has a code, listed here and in docs/errors.md (a test keeps the
 * two in step). Bad input data is never an error: it is dead-lettered with a reason.
 */
export const ERROR_CODES = {
  VIGIE_ERR_CONFIG: 'The configuration is invalid: every problem is listed with file, line, column and path.',
  VIGIE_ERR_SOURCE: 'A source could not be opened or read (missing file, unreadable input).',
  VIGIE_ERR_SINK: 'A sink could not write; the batch is not acknowledged and its input positions are not committed.',
  VIGIE_ERR_SNAPSHOT: 'A state snapshot could not be restored (unknown version or malformed content).',
  VIGIE_ERR_USAGE: 'The command line is invalid (unknown option, missing argument).',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class VigieError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'VigieError';
  }
}
