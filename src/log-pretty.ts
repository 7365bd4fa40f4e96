/**
 * The human form of the logs: one line per record, `HH:MM:SS LEVEL message key=value ...`, for a
 * person at a terminal. It renders the JSON records pino has already serialised, so whatever the
 * logger hides (secret fields, passwords in texts, keys) is hidden here too.
 */

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLORS: Record<number, string> = { 10: '\u001b[2m', 20: '\u001b[2m', 30: '\u001b[32m', 40: '\u001b[33m', 50: '\u001b[31m', 60: '\u001b[1;35m' };
const DIM = '\u001b[2m';
const RESET = '\u001b[0m';

/** pino's own fields, shown through the line's layout rather than as key=value. */
const LAYOUT_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v']);

/** A field value longer than this is cut: a log line is read, not parsed. */
const MAX_VALUE_CHARS = 300;

export interface PrettyOptions {
  /** ANSI colours for the level (a terminal that is not told NO_COLOR). */
  color?: boolean;
  /** Print an error's stack under its line (debug and trace levels only, as docs/errors.md says). */
  stacks?: boolean;
}

/** A pino destination that writes each record in the human form to `out`. */
export function prettyDestination(out: { write(text: string): unknown }, opts: PrettyOptions = {}): { write(line: string): void } {
  return {
    write(chunk: string): void {
      let text = '';
      for (const line of chunk.split('\n')) {
        if (line.length === 0) continue;
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(line) as Record<string, unknown>;
        } catch {
          text += `${clean(line)}\n`;
          continue;
        }
        text += `${formatLogRecord(record, opts)}\n`;
      }
      if (text.length > 0) out.write(text);
    },
  };
}

/** `02:03:10 WARN  message key=value key2="two words"`, then the stack of an `err` field when asked. */
export function formatLogRecord(record: Record<string, unknown>, opts: PrettyOptions = {}): string {
  const level = typeof record.level === 'number' ? record.level : 30;
  const name = (LEVEL_NAMES[level] ?? String(level)).padEnd(5);
  const time = typeof record.time === 'number' ? clock(record.time) : '--:--:--';
  let line = `${opts.color ? DIM + time + RESET : time} ${opts.color ? (LEVEL_COLORS[level] ?? '') + name + RESET : name} ${clean(String(record.msg ?? ''))}`;
  let stack: string | undefined;
  for (const [k, v] of Object.entries(record)) {
    if (LAYOUT_FIELDS.has(k) || v === undefined) continue;
    if (isError(v)) {
      line += ` ${k}=${token(`${v.type ?? 'Error'}: ${v.message}`)}`;
      if (opts.stacks && typeof v.stack === 'string') stack = v.stack;
      continue;
    }
    line += ` ${k}=${value(v)}`;
  }
  if (stack !== undefined) line += `\n${stack.split('\n').map((l) => `    ${clean(l.trim())}`).join('\n')}`;
  return line;
}

/** HH:MM:SS in UTC, the time zone of every time alerts and explanations print beside these lines. */
function clock(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString().slice(11, 19);
}

function isError(v: unknown): v is { type?: string; message: string; stack?: string } {
  return v !== null && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string' && ('stack' in v || 'type' in v);
}

function value(v: unknown): string {
  if (typeof v === 'string') return token(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) return token(v.join(','));
  return cut(clean(JSON.stringify(v) ?? String(v)));
}

// Control characters: a field can carry text from input data, and an escape sequence in it could
// rewrite the terminal; a newline would break "one line per record".
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NEEDS_QUOTES = /[\s"=\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function clean(s: string): string {
  return s.replace(CONTROL, ' ');
}

/** Bare when one visible word, quoted (control characters blanked) otherwise. */
function token(s: string): string {
  const c = cut(s);
  return c.length > 0 && !NEEDS_QUOTES.test(c) ? c : `"${clean(c).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function cut(s: string): string {
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS)}…` : s;
}
