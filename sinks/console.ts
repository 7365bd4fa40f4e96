/**
 * Console sink: one human-readable line per record, for demos, debugging and `vigie run` in a terminal
 * (where an alert is a two-line entry: see formatAlertEntry).
 *
 * Example:
 * ```yaml
 * sinks:
 *   - name: terminal
 *     type: console
 *     outputs: [alerts, deadLetters]
 *     color: true
 * ```
 */
import { z } from 'zod';
import type { Alert, DeadLetter, Severity, WindowResult } from '../src/types.js';
import { OUTPUT_KINDS, type OutputKind, type Sink, type SinkBatch, type SinkContext } from './types.js';
import { VigieError, internalError } from '../src/errors.js';

export const type = 'console';

export const summary = 'Prints one readable line per alert (and optionally per result or dead letter) to stdout.';

export const example = `sinks:
  - name: terminal
    type: console
    outputs: [alerts, deadLetters]
    color: true
`;

export const schema = z
  .strictObject({
    name: z.string().min(1).describe('Name of this sink, unique among sinks; used in logs and as the `sink` metric label.'),
    type: z.literal(type).describe('Selects the console sink.'),
    outputs: z
      .array(z.enum(OUTPUT_KINDS))
      .min(1)
      .default(['alerts'])
      .describe('Which outputs to print: `alerts`, `results` (window results), `deadLetters`, `scores`, `shadowAlerts`, `queue` (ranked queues). Defaults to alerts only.'),
    color: z
      .boolean()
      .default(false)
      .describe('Colour the severity with ANSI escape codes. Off by default so piped output stays plain text; `vigie run` on a terminal colours it anyway (unless NO_COLOR is set).'),
  })
  .describe(
    'Writes one readable line per record to standard output; when a person reads it (`vigie run` on a terminal, or with `--log-format pretty`), an alert takes two: time, severity, detector and key, then the explanation. Not durable: never acknowledges.',
  );

export type ConsoleSinkConfig = z.output<typeof schema>;

/**
 * Above this many buffered characters the line block is handed to the stream, so a huge batch
 * does not become one giant string and backpressure gets a chance to act between chunks.
 */
const CHUNK_CHARS = 64 * 1024;

const SEVERITY_COLOR: Record<Severity, string> = {
  info: '\u001b[2m',
  low: '\u001b[36m',
  medium: '\u001b[33m',
  high: '\u001b[31m',
  critical: '\u001b[1;35m',
};
const RESET = '\u001b[0m';

/** Create a console sink writing to `ctx.stdout`. */
export function create(config: ConsoleSinkConfig, ctx: SinkContext): Sink {
  const tty = (ctx.stdout as { isTTY?: boolean }).isTTY === true && !process.env.NO_COLOR;
  return new ConsoleSink(config, ctx.stdout, ctx.readable === true, config.color || (ctx.readable === true && tty));
}

class ConsoleSink implements Sink {
  readonly name: string;
  readonly type = type;
  /** A terminal is not storage: a printed alert cannot be replayed, so input positions never wait for it. */
  readonly acknowledges = false;
  readonly outputs: ReadonlySet<OutputKind>;
  private readonly color: boolean;
  private readonly readable: boolean;
  private readonly stream: NodeJS.WritableStream;
  /** Serialises writes: concurrent `write` calls must not interleave their chunks. */
  private tail: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(config: ConsoleSinkConfig, stream: NodeJS.WritableStream, readable: boolean, color: boolean) {
    this.name = config.name;
    this.outputs = new Set(config.outputs);
    this.readable = readable;
    this.color = color;
    this.stream = stream;
  }

  private alert(a: Alert): string {
    return this.readable ? formatAlertEntry(a, this.color) : formatAlert(a, this.color);
  }

  write(batch: SinkBatch): Promise<void> {
    if (this.closed) return Promise.reject(internalError(`console sink \"${this.name}\" is closed`));
    const run = this.tail.then(() => this.print(batch));
    // A failed write must not poison the next ones; the caller still sees this rejection.
    this.tail = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    // The stream belongs to the process (stdout), not to us: only wait for our pending output.
    this.closed = true;
    await this.tail;
  }

  private async print(batch: SinkBatch): Promise<void> {
    let buf = '';
    if (this.outputs.has('alerts')) {
      const alerts = batch.alerts;
      for (let i = 0; i < alerts.length; i++) {
        buf += this.alert(alerts[i]) + '\n';
        if (buf.length >= CHUNK_CHARS) {
          await this.emit(buf);
          buf = '';
        }
      }
    }
    if (this.outputs.has('shadowAlerts')) {
      const alerts = batch.shadowAlerts;
      for (let i = 0; i < alerts.length; i++) {
        buf += `[shadow] ${this.alert(alerts[i])}\n`;
        if (buf.length >= CHUNK_CHARS) {
          await this.emit(buf);
          buf = '';
        }
      }
    }
    if (this.outputs.has('results')) {
      const results = batch.results;
      for (let i = 0; i < results.length; i++) {
        buf += formatResult(results[i]) + '\n';
        if (buf.length >= CHUNK_CHARS) {
          await this.emit(buf);
          buf = '';
        }
      }
    }
    if (this.outputs.has('deadLetters')) {
      const dead = batch.deadLetters;
      for (let i = 0; i < dead.length; i++) {
        buf += formatDeadLetter(dead[i]) + '\n';
        if (buf.length >= CHUNK_CHARS) {
          await this.emit(buf);
          buf = '';
        }
      }
    }
    if (this.outputs.has('scores')) {
      const scores = batch.scores;
      for (let i = 0; i < scores.length; i++) {
        const s = scores[i];
        buf += `score ${s.detector} ${s.key} t=${new Date(s.time).toISOString()} observed=${s.observed} score=${s.score}${s.anomalous ? ' anomalous' : ''}\n`;
        if (buf.length >= CHUNK_CHARS) {
          await this.emit(buf);
          buf = '';
        }
      }
    }
    if (this.outputs.has('queue')) {
      for (const q of batch.queue) {
        buf += `queue ${q.detector} ${new Date(q.start).toISOString().slice(0, 16)}Z #${q.rank} ${q.key} risk=${q.score.toFixed(4)} event ${q.ref}\n`;
      }
    }
    if (buf.length > 0) await this.emit(buf);
  }

  private emit(text: string): Promise<void> | undefined {
    if (this.stream.write(text)) return undefined;
    return waitForDrain(this.stream);
  }
}

/**
 * Resolves on 'drain'; rejects on 'error' or 'close' so a dead pipe (e.g. `vigie run | head`)
 * fails the write instead of hanging the engine forever.
 */
function waitForDrain(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      stream.removeListener('drain', onDrain);
      stream.removeListener('error', onError);
      stream.removeListener('close', onClose);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onError = (err: unknown): void => {
      cleanup();
      reject(err instanceof Error ? err : new VigieError('VIGIE_ERR_SINK', String(err)));
    };
    const onClose = (): void => {
      cleanup();
      reject(new VigieError('VIGIE_ERR_SINK', 'console sink: output stream closed before draining'));
    };
    stream.once('drain', onDrain);
    stream.once('error', onError);
    stream.once('close', onClose);
  });
}

// ---------------------------------------------------------------------------------------------
// Formatting. Exported for tests; pure functions of the record (no clock: times come from it).
// ---------------------------------------------------------------------------------------------

/** `2026-01-01T10:05:00.000Z HIGH card-testing key=C0042 window=[10:00:00,10:05:00) observed=14 threshold=10 — … (id 3f2a1b9c…)` */
export function formatAlert(alert: Alert, color = false): string {
  const sev = alert.severity.toUpperCase();
  let line = isoTime(alert.eventTime) + ' ' + (color ? SEVERITY_COLOR[alert.severity] + sev + RESET : sev);
  line += ' ' + token(alert.detector) + ' key=' + token(alert.key);
  if (alert.window !== null) line += ' window=' + formatWindow(alert.window.start, alert.window.end, alert.eventTime);
  line += ' observed=' + num(alert.observed) + ' threshold=' + num(alert.threshold);
  if (alert.trigger !== undefined) line += ' event=' + token(alert.trigger);
  if (alert.explanation.length > 0) line += ' \u2014 ' + text(alert.explanation);
  line += ' (id ' + shortId(alert.id) + ')';
  return line;
}

/**
 * The entry a person reads on a terminal: the time, severity, detector and key on one line, the
 * explanation indented on the next.
 * ```
 * 10:05:00 HIGH     card-testing  key 4456******2846  observed 8, threshold 8
 *          payments for card 4456******2846 was 8 in window [...], at or above the threshold 8 (...). Many payments ...
 * ```
 * The time is the alert's event time, in UTC as everywhere in Vigie's outputs, with the date when it is
 * not the day the alert was raised (a backlog, a replay).
 */
export function formatAlertEntry(alert: Alert, color = false): string {
  const sev = alert.severity.toUpperCase().padEnd(8);
  const iso = isoTime(alert.eventTime);
  const sameDay = iso.length === 24 && iso.slice(0, 10) === isoTime(alert.detectedAt).slice(0, 10);
  const time = sameDay ? iso.slice(11, 19) : iso.length === 24 ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : iso;
  let head = time + ' ' + (color ? SEVERITY_COLOR[alert.severity] + sev + RESET : sev) + ' ' + token(alert.detector) + '  key ' + token(alert.key);
  head += '  observed ' + num(alert.observed) + ', threshold ' + num(alert.threshold);
  if (alert.trigger !== undefined) head += '  event ' + token(alert.trigger);
  if (alert.suppressed !== undefined) head += ` (${alert.suppressed} repeats suppressed)`;
  // The detector is already on the first line; explanations start with it.
  const prefix = alert.detector + ': ';
  const why = alert.explanation.startsWith(prefix) ? alert.explanation.slice(prefix.length) : alert.explanation;
  return why.length > 0 ? head + '\n' + ' '.repeat(time.length + 1) + text(why) : head;
}

/** `2026-01-01T10:05:00.000Z RESULT pipeline=cards key=C0042 window=[10:00:00,10:05:00) final rev=0 count=14 sum=310.5` */
export function formatResult(result: WindowResult): string {
  let line =
    isoTime(result.end) +
    ' RESULT pipeline=' +
    token(result.pipeline) +
    ' key=' +
    token(result.key) +
    ' window=' +
    formatWindow(result.start, result.end, result.end) +
    ' ' +
    result.kind +
    ' rev=' +
    result.revision +
    ' count=' +
    result.count;
  const values = result.values;
  for (const name in values) {
    const v = values[name];
    line += ' ' + token(name) + '=' + (typeof v === 'number' ? num(v) : v === null ? 'null' : token(v));
  }
  return line;
}

/** `2026-01-01T10:05:00.000Z DEAD reason=bad_timestamp source=orders at=2:1200 — field "ts": not a date` */
export function formatDeadLetter(dl: DeadLetter): string {
  // Never the raw input: it may be large, binary, or hold data that does not belong in a terminal.
  let line = (dl.time !== undefined ? isoTime(dl.time) : '-') + ' DEAD reason=' + dl.reason + ' source=' + token(dl.source);
  if (dl.pipeline !== undefined) line += ' pipeline=' + token(dl.pipeline);
  line += ' at=' + dl.partition + ':' + dl.offset;
  if (dl.detail.length > 0) line += ' \u2014 ' + text(dl.detail);
  return line;
}

function isoTime(ms: number): string {
  // toISOString throws on out-of-range values; a formatting problem must never fail a write.
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/**
 * `[10:00:00,10:05:00)`: times on the reference (event-time) day print as HH:MM:SS(.mmm), others in full.
 * Always half-open as in the alert format; sliding and session windows, whose end is inclusive, are
 * documented as such and the exact bounds remain in the JSON outputs.
 */
function formatWindow(start: number, end: number, ref: number): string {
  const refDay = isoTime(ref).slice(0, 10);
  return '[' + clock(start, refDay) + ',' + clock(end, refDay) + ')';
}

function clock(ms: number, refDay: string): string {
  const iso = isoTime(ms);
  if (iso.length !== 24 || iso.slice(0, 10) !== refDay) return iso;
  return iso.endsWith('.000Z') ? iso.slice(11, 19) : iso.slice(11, 23);
}

function num(v: number): string {
  return Number.isInteger(v) || !Number.isFinite(v) ? String(v) : String(Number(v.toPrecision(6)));
}

function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) + '\u2026' : text(id);
}

// C0 and C1 control characters: a key or a detail comes from input data, and an ESC sequence
// in it could rewrite the operator's terminal; a newline would break "one line per record".
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NEEDS_QUOTES = /[\s"\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** A key-like value: bare when it is one visible word, JSON-quoted (escaped) otherwise. */
function token(s: string): string {
  if (s.length > 0 && !NEEDS_QUOTES.test(s)) return s;
  // JSON.stringify escapes C0 controls only; DEL, C1 (e.g. the 8-bit CSI) and line separators too.
  return JSON.stringify(s).replace(UNESCAPED_BY_JSON, escapeChar);
}

const UNESCAPED_BY_JSON = /[\u007f-\u009f\u2028\u2029]/g;

function escapeChar(c: string): string {
  return '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');
}

/** Free text: control characters become spaces so the record stays on one line. */
function text(s: string): string {
  return s.replace(CONTROL, ' ');
}
