/**
 * Logger factory. Logs go to stderr so stdout stays free for data and summaries (`vigie run ... | jq`
 * must see alerts, not log lines): JSON by default, or the human form of src/log-pretty.ts.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { VigieError } from './errors.js';
import { prettyDestination } from './log-pretty.js';

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
 * Redacted paths (on top of {@link scrubLogFields}, which hides secret names at any depth). Secret names are covered up to three levels deep (`password`, `x.password`,
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

const SECRET_NAMES = new Set(SECRET_FIELDS.map((f) => f.toLowerCase()));
/** Objects logged deeper than this are cut (a secret could hide at any depth; logs need no more). */
const MAX_LOG_DEPTH = 8;

/**
 * Hide secrets written inside a text: the password of a URL (`redis://user:***@host`) and
 * `password=`, `token=`, `secret=`, `apikey=` pairs of connection strings and queries.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^:@/\s"']*:)[^@/\s"']*@/gi, '$1***@')
    .replace(/\b(password|passwd|pwd|secret|token|api[_-]?key)=([^&\s;"',]+)/gi, '$1=***');
}

/**
 * A copy of a log record's fields with every secret hidden, at any depth: fields named like a
 * secret are censored, secrets inside texts are redacted (see {@link redactSecrets}), errors are
 * copied with their class and every own field scrubbed, and anything deeper than
 * MAX_LOG_DEPTH levels is cut. Complements the path-based redaction, which pino applies afterwards.
 */
export function scrubLogFields(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return value.includes('://') || value.includes('=') ? redactSecrets(value) : value;
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  if (depth >= MAX_LOG_DEPTH) return '[too deep]';
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (value instanceof Error) {
    // A copy of the same class (the serializer names the error by its class), every own field scrubbed.
    const copy = Object.create(Object.getPrototypeOf(value) as object) as Record<string, unknown>;
    for (const k of Object.getOwnPropertyNames(value)) {
      const v = (value as unknown as Record<string, unknown>)[k];
      copy[k] = (k === 'message' || k === 'stack') && typeof v === 'string' ? redactSecrets(v) : scrubLogFields(v, depth + 1, seen);
    }
    return copy;
  }
  if (Array.isArray(value)) return value.map((v) => scrubLogFields(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) {
    out[k] = SECRET_NAMES.has(k.toLowerCase()) ? REDACT_CENSOR : scrubLogFields((value as Record<string, unknown>)[k], depth + 1, seen);
  }
  return out;
}

export interface LoggerOptions {
  /** pino level (trace, debug, info, warn, error, fatal, silent). Default: $VIGIE_LOG_LEVEL or 'info'. */
  level?: string;
  /** A stream, or a file descriptor. Default: 2 (stderr). */
  destination?: NodeJS.WritableStream | number;
  /** `json` (default): one JSON object per line; `pretty`: one readable line per record, for a person. */
  format?: LogFormat;
  /** `pretty`: colour the levels. */
  color?: boolean;
}

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const LOG_LEVELS: readonly string[] = [...Object.keys(pino.levels.values), 'silent'];
const LEVELS = new Set(LOG_LEVELS);

/** Create the engine logger, with secret redaction. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? (process.env.VIGIE_LOG_LEVEL || 'info');
  if (!LEVELS.has(level)) {
    throw new VigieError('VIGIE_ERR_USAGE', `unknown log level "${level}"; expected one of ${[...LEVELS].join(', ')}`);
  }
  const dest = opts.destination ?? 2;
  // Synchronous fd writes: logs are low volume (per batch at most), and an async buffer would lose
  // the lines that explain a crash.
  const out: DestinationStream = typeof dest === 'number' ? pino.destination({ dest, sync: true }) : (dest as DestinationStream);
  // Rendered after serialisation: the human form shows only what redaction and scrubbing left.
  const stream: DestinationStream =
    opts.format === 'pretty' ? prettyDestination(out, { color: opts.color, stacks: level === 'debug' || level === 'trace' }) : out;
  const logger = pino(
    {
      level,
      redact: { paths: [...REDACT_PATHS], censor: REDACT_CENSOR },
      formatters: {
        log: (fields) => scrubLogFields(fields) as Record<string, unknown>,
      },
      hooks: {
        // The message and its format arguments: a URL with a password in a message is redacted too.
        logMethod(args, method) {
          for (let i = 0; i < args.length; i++) if (typeof args[i] === 'string') args[i] = redactSecrets(args[i] as string);
          // An error logged alone gets its message as the line's message: give it redacted.
          const first = args[0] as unknown;
          if (first instanceof Error && typeof args[1] !== 'string') {
            return method.apply(this, [{ err: first }, redactSecrets(first.message), ...args.slice(1)] as unknown as Parameters<typeof method>);
          }
          return method.apply(this, args);
        },
      },
    },
    stream,
  );
  // Child bindings are serialised once, when the child is made: scrub them there (children of
  // children inherit this method, since a pino child is created from its parent).
  const child = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, scrubLogFields(bindings) as typeof bindings, options);
  } as typeof logger.child;
  return logger;
}

/** A logger that discards everything: default for tests and library use. */
// Its own no-op destination: pino's default would open a stream on stdout for nothing.
export const silentLogger: Logger = pino({ level: 'silent' }, { write: () => undefined });
