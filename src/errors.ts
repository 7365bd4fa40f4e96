/**
 * Every error Vigie raises on purpose has a code, listed here and in docs/errors.md with what it means
 * and what to do (a test keeps the two in step, and another refuses a plain `new Error` in shipped code).
 * Bad input data is never an error: it is dead-lettered with a reason.
 */
export const ERROR_CODES = {
  VIGIE_ERR_CONFIG: {
    meaning: 'The configuration is invalid: every problem is listed with file, line, column and path.',
    remedy: 'Fix each listed problem at its line; `vigie validate -c FILE` checks a config without running it.',
  },
  VIGIE_ERR_USAGE: {
    meaning: 'The command line is invalid (unknown option, missing argument, an option that does not fit the config).',
    remedy: 'Run the command with `--help` for its options.',
  },
  VIGIE_ERR_ENV: {
    meaning: 'An environment variable the config or command names is not set or not valid.',
    remedy: 'Set the variable named in the message (e.g. in the service unit or `export NAME=...`), or change the config not to name it.',
  },
  VIGIE_ERR_SOURCE: {
    meaning: 'A source could not be opened or read (missing file, unreadable input, unreachable broker).',
    remedy: 'Check the path or the broker address and credentials named in the message; the source config is under `sources:`.',
  },
  VIGIE_ERR_TABLE: {
    meaning: 'A reference table (`tables:`) could not be loaded at start: file missing or unreadable, no valid row, topic or Redis unreachable.',
    remedy: 'Check the table named in the message (its path, topic or Redis address); the bad rows and their lines are logged. A table that fails to reload later keeps its previous rows.',
  },
  VIGIE_ERR_SINK: {
    meaning: 'A sink could not write; the batch is not acknowledged and its input positions are not committed.',
    remedy: 'Check the sink named in the message (path writable, server reachable, topic exists); the input is read again after a restart, nothing is lost.',
  },
  VIGIE_ERR_STATE: {
    meaning: 'The checkpoint store could not be reached, so partition state can be neither restored nor saved.',
    remedy: 'Check `state.url` and the Redis credentials, or set `state.store: none` to run without checkpoints.',
  },
  VIGIE_ERR_SNAPSHOT: {
    meaning: 'A state snapshot could not be restored (unknown version or malformed content).',
    remedy: 'The snapshot was written by another version or config: delete the checkpoint keys of this pipeline to start from empty state.',
  },
  VIGIE_ERR_INPUT: {
    meaning: 'A data file given to an evaluation or tool is malformed (a NAB series or label file, a labels file).',
    remedy: 'Fix the file at the line named in the message; the expected format is in the README.',
  },
  VIGIE_ERR_METRICS: {
    meaning: 'The metrics endpoint could not be served (its port is taken or not allowed).',
    remedy: 'Choose another port with `--metrics-port` (or `metrics.port`), or `metrics.enabled: false`.',
  },
  VIGIE_ERR_BROKER: {
    meaning: 'The local Kafka broker (`npm run kafka:local`) could not be started or stopped cleanly (Java or Maven missing, port taken, broker exited).',
    remedy: 'Read the broker log quoted in the message (FOLDER/broker.log); install Java 17 and Maven, choose another `--port`, or stop the broker already using that `--dir`.',
  },
  VIGIE_ERR_PRODUCE: {
    meaning: '`vigie produce` could not write to Kafka (brokers unreachable, topic missing, write refused).',
    remedy: 'Check `--brokers` (or KAFKA_BROKERS) and that the topic exists (`npm run kafka:local` creates the demo topics); events sent before the failure stay in the topic.',
  },
  VIGIE_ERR_PEER: {
    meaning: 'The Kafka Streams peer of the benchmarks (load-tests/peers/kafka-streams) could not be built or run (Java or Maven missing, build failed, peer exited or too slow).',
    remedy: 'Install Java 17 and Maven (`mvn -v`), or build the jar by hand (`mvn -q -DskipTests package` in load-tests/peers/kafka-streams); read the peer output quoted in the message.',
  },
  VIGIE_ERR_CONSOLE: {
    meaning: '`vigie console` cannot start: no access token in the environment, or no Redis alert stream to read (no redis sink in the config, or an ambiguous one).',
    remedy: 'Export `VIGIE_CONSOLE_TOKEN` (read-only) and/or `VIGIE_CONSOLE_ANALYST_TOKEN` (analyst), each at least 16 characters (e.g. `openssl rand -hex 32`); give `--config FILE` with a redis sink (`--sink NAME` when it has several) or `--redis-url URL --stream NAME`.',
  },
  VIGIE_ERR_LAB: {
    meaning: 'A lab run of `vigie console` could not finish: it took longer than its time limit, or the replay stopped without saying why.',
    remedy: 'Try a smaller dataset (or raise the time limit with `--lab-timeout`); the console log has the replay\'s own output.',
  },
  VIGIE_ERR_INTERNAL: {
    meaning: 'An unexpected failure: a bug in Vigie, not in the config or the input.',
    remedy: 'Run the same command with `VIGIE_LOG_LEVEL=debug` to print the stack, and report it with that output.',
  },
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

/** A failure that only a bug can cause (a broken invariant), coded so that users never see a bare stack. */
export function internalError(message: string, options?: { cause?: unknown }): VigieError {
  return new VigieError('VIGIE_ERR_INTERNAL', message, options);
}

/** The line the CLI prints for an error: `CODE: message`, and the remedy; any other error is internal. */
export function describeError(err: unknown): { code: ErrorCode; message: string; remedy: string } {
  if (err instanceof VigieError) return { code: err.code, message: err.message, remedy: ERROR_CODES[err.code].remedy };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'VIGIE_ERR_INTERNAL', message, remedy: ERROR_CODES.VIGIE_ERR_INTERNAL.remedy };
}
