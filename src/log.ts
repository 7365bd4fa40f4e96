/**
 * Logger factory. Logs are JSON on stderr by default so stdout stays free for data and summaries
 * (`vigie run ... | jq` must see alerts, not log lines).
 */
import { pino, type DestinationStream, type Logger } from 'pino';

/** Field names whose values must never reach a log. */
const SECRET_FIELDS = [
  'password',
  'passphrase',
  'secret',
  'token',
  'accessToken',
  'refreshToken',
  'apiKey',
  'api_key',
  'privateKey',
  'secretAccessKey',
  'credentials',
  'authorization',
  'Authorization',
  'cookie',
];

/**
 * Redacted paths. Secret names are covered up to three levels deep (`password`, `x.password`,
 * `x.y.password`): config objects are logged nested (`{ sink: { sasl: {...} } }`), and pino's
 * wildcard matches exactly one level. `*.key` hides TLS keys and also entity keys (card numbers,
 * account ids): those are personal data, and logs are not where they belong.
 */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]),
  'sasl.*',
  '*.sasl.*',
  '*.*.sasl.*',
  '*.key',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
];

export const REDACT_CENSOR = '[redacted]';

export interface LoggerOptions {
  /** pino level (trace, debug, info, warn, error, fatal, silent). Default: $VIGIE_LOG_LEVEL or 'info'. */
  level?: string;
  /** A stream, or a file descriptor. Default: 2 (stderr). */
  destination?: NodeJS.WritableStream | number;
}

const LEVELS = new Set([...Object.keys(pino.levels.values), 'silent']);

/** Create the engine logger, with secret redaction. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? (process.env.VIGIE_LOG_LEVEL || 'info');
  if (!LEVELS.has(level)) {
    throw new Error(`unknown log level "${level}"; expected one of ${[...LEVELS].join(', ')}`);
  }
  const dest = opts.destination ?? 2;
  // Synchronous fd writes: logs are low volume (per batch at most), and an async buffer would lose
  // the lines that explain a crash.
  const stream: DestinationStream =
    typeof dest === 'number' ? pino.destination({ dest, sync: true }) : (dest as DestinationStream);
  return pino(
    {
      level,
      redact: { paths: [...REDACT_PATHS], censor: REDACT_CENSOR },
    },
    stream,
  );
}

/** A logger that discards everything: default for tests and library use. */
// Its own no-op destination: pino's default would open a stream on stdout for nothing.
export const silentLogger: Logger = pino({ level: 'silent' }, { write: () => undefined });
