/**
 * JSON Lines file sink: appends one JSON object per record, durable once `write` resolves.
 *
 * Example:
 * ```yaml
 * sinks:
 *   - name: archive
 *     type: jsonl
 *     path: out/vigie.jsonl
 *     outputs: [alerts, results, deadLetters]
 *     perOutput: true
 *     fsync: true
 *     rotate: { maxBytes: 104857600, interval: 1d, keep: 30, maxAge: 30d }
 * ```
 */
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { durationSchema, positiveDurationSchema } from '../src/time/duration.js';
import { OUTPUT_KINDS, type OutputKind, type Sink, type SinkBatch, type SinkContext } from './types.js';
import { VigieError, internalError } from '../src/errors.js';

export const type = 'jsonl';

export const summary = 'Appends alerts, results and dead letters as JSON Lines to one file or one file per output.';

export const example = `sinks:
  - name: archive
    type: jsonl
    path: out/vigie.jsonl
    outputs: [alerts, results, deadLetters]
    perOutput: true
    fsync: true
    rotate: { maxBytes: 104857600, interval: 1d, keep: 30, maxAge: 30d }
`;

export const schema = z
  .strictObject({
    name: z.string().min(1).describe('Name of this sink, unique among sinks; used in logs and as the `sink` metric label.'),
    type: z.literal(type).describe('Selects the JSON Lines file sink.'),
    path: z
      .string()
      .min(1)
      .describe(
        'File to append to. A relative path is resolved against the configuration file\'s directory (or --out). ' +
          'Parent directories are created.',
      ),
    outputs: z
      .array(z.enum(OUTPUT_KINDS))
      .min(1)
      .default(['alerts'])
      .describe('Which outputs to write: `alerts`, `results` (window results), `deadLetters`, `scores` (per-input scores of detectors with `scores: true`), `shadowAlerts` (alerts of detectors in shadow mode), `queue` (ranked queues of `model` detectors). Defaults to alerts only.'),
    perOutput: z
      .boolean()
      .default(false)
      .describe(
        'Write each output to its own file: `<path without .jsonl>.alerts.jsonl`, `.results.jsonl`, ' +
          '`.dead-letters.jsonl`. Otherwise every record goes to `path`, told apart by its `kind` field.',
      ),
    fsync: z
      .boolean()
      .default(false)
      .describe(
        'Flush each batch to stable storage (fsync) before acknowledging it. Survives a machine crash, ' +
          'not just a process crash, at the cost of one disk sync per batch.',
      ),
    fileMode: z
      .string()
      .regex(/^0?[0-7]{3}$/, 'expected an octal mode such as "0600"')
      .default('0600')
      .describe('Permissions of the files this sink creates (octal). Default "0600": owner only, since alerts and dead letters may hold personal data. Existing files keep theirs.'),
    rotate: z
      .strictObject({
        maxBytes: z.number().int().positive().optional().describe('Rotate a file once it holds at least this many bytes.'),
        interval: positiveDurationSchema.optional().describe('Rotate a file once it was started this long ago (processing time), e.g. "1d".'),
        keep: z.number().int().min(0).default(10).describe('Rotated files kept per file; the oldest beyond are deleted. 0 keeps none (rotation deletes).'),
        maxAge: durationSchema.optional().describe('Delete rotated files older than this (by the time in their name), e.g. "30d": the retention bound of what the sink stored.'),
      })
      .refine((r) => r.maxBytes !== undefined || r.interval !== undefined, { message: 'give maxBytes, interval or both' })
      .optional()
      .describe(
        'Rotation and retention. A file is renamed to `<name>.<UTC time>.jsonl` (e.g. `vigie.dead-letters.20261130T120000Z.jsonl`) when it reaches ' +
          '`maxBytes` or `interval`, after the batch that reached it, and a new one is started. Rotated files beyond `keep`, or older than ' +
          '`maxAge`, are deleted: at start, after each rotation, and at most once a minute. Off by default (files grow without bound).',
      ),
  })
  .describe(
    'Appends one JSON object per line. Each line starts with `kind` (`alert`, `result` or `dead_letter`) ' +
      'followed by the record\'s fields in their own order; a result\'s own `kind` (final/update) is written as ' +
      '`resultKind`. Binary dead-letter inputs are written in base64 with `"encoding":"base64"`. A `too_large` dead letter holds only the first 256 bytes ' +
      'of its record, and the record\'s size in bytes in `size`. ' +
      'Acknowledges: a batch counts as delivered once its lines are written (and synced when `fsync` is on).',
  );

export type JsonlSinkConfig = z.output<typeof schema>;

/** Record kind written in the `kind` field, per output. */
const RECORD_KIND: Record<OutputKind, string> = { alerts: 'alert', results: 'result', deadLetters: 'dead_letter', scores: 'score', shadowAlerts: 'shadow_alert', queue: 'queue' };
const FILE_SUFFIX: Record<OutputKind, string> = {
  alerts: '.alerts.jsonl',
  results: '.results.jsonl',
  deadLetters: '.dead-letters.jsonl',
  scores: '.scores.jsonl',
  shadowAlerts: '.shadow-alerts.jsonl',
  queue: '.queue.jsonl',
};

/** Absolute file path per selected output (several outputs may share one file). */
export function outputPaths(config: JsonlSinkConfig, baseDir: string): Map<OutputKind, string> {
  const base = resolve(baseDir, config.path);
  const stem = base.endsWith('.jsonl') ? base.slice(0, -'.jsonl'.length) : base;
  const paths = new Map<OutputKind, string>();
  for (const kind of OUTPUT_KINDS) {
    if (config.outputs.includes(kind)) paths.set(kind, config.perOutput ? stem + FILE_SUFFIX[kind] : base);
  }
  return paths;
}

/** Create a JSON Lines sink; files are opened on the first write. */
export function create(config: JsonlSinkConfig, ctx: SinkContext): Sink {
  return new JsonlFileSink(config, ctx);
}

interface OpenFile {
  path: string;
  handle: FileHandle;
  /** Bytes in the file. */
  size: number;
  /** When the file was started (its birth time, or when this sink created it). */
  startedAt: number;
}

type RotateConfig = NonNullable<JsonlSinkConfig['rotate']>;

/** `20261130T120000Z`: the UTC time in a rotated file's name (sorts as it reads). */
function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

function stampTime(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  return m === null ? NaN : Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

/** `dir/name.jsonl` -> [`dir`, `name`, `.jsonl`] (extension `.jsonl` or none). */
function splitName(path: string): [string, string, string] {
  const file = basename(path);
  return file.endsWith('.jsonl') ? [dirname(path), file.slice(0, -'.jsonl'.length), '.jsonl'] : [dirname(path), file, ''];
}

/** Rotated files of `path`, oldest first: [file path, time in its name]. */
export async function rotatedFiles(path: string): Promise<Array<[string, number]>> {
  const [dir, stem, ext] = splitName(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const re = new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d{8}T\\d{6}Z)(?:-(\\d+))?${ext.replace('.', '\\.')}$`);
  const found: Array<[string, number, number]> = [];
  for (const n of names) {
    const m = re.exec(n);
    if (m !== null) found.push([join(dir, n), stampTime(m[1]), Number(m[2] ?? 0)]);
  }
  found.sort((a, b) => a[1] - b[1] || a[2] - b[2]);
  return found.map(([p, t]) => [p, t]);
}

class JsonlFileSink implements Sink {
  readonly name: string;
  readonly type = type;
  readonly acknowledges = true;
  readonly outputs: ReadonlySet<OutputKind>;
  private readonly paths: Map<OutputKind, string>;
  private readonly fsync: boolean;
  private readonly mode: number;
  private readonly rotate: RotateConfig | undefined;
  private readonly now: () => number;
  private lastPrune = -Infinity;
  private files: Promise<Map<string, OpenFile>> | undefined;
  /**
   * Writes run one after the other: lines of two batches never interleave, and a batch resolves
   * only after every earlier batch is on disk, so acknowledging batch N implies N-1 is safe too.
   */
  private tail: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;

  constructor(config: JsonlSinkConfig, ctx: SinkContext) {
    this.name = config.name;
    this.outputs = new Set(config.outputs);
    this.paths = outputPaths(config, ctx.baseDir);
    this.fsync = config.fsync;
    this.mode = parseInt(config.fileMode ?? '0600', 8);
    this.rotate = config.rotate;
    this.now = ctx.now ?? Date.now;
  }

  write(batch: SinkBatch): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(internalError(`jsonl sink \"${this.name}\" is closed`));
    // Serialise now, synchronously: the caller may reuse or mutate the batch once we return.
    const chunks = new Map<string, string>();
    for (const [output, path] of this.paths) {
      const text = serialize(output, batch);
      if (text.length > 0) chunks.set(path, (chunks.get(path) ?? '') + text);
    }
    const run = this.tail.then(() => this.append(chunks));
    // Keep the chain alive after a failure; the caller still gets this batch's rejection.
    this.tail = run.catch(() => undefined);
    return run;
  }

  close(): Promise<void> {
    this.closing ??= this.tail.then(async () => {
      if (this.files === undefined) return;
      let files: Map<string, OpenFile>;
      try {
        files = await this.files;
      } catch {
        return; // never opened: nothing to release
      }
      await Promise.all([...files.values()].map((f) => f.handle.close()));
    });
    return this.closing;
  }

  private async append(chunks: Map<string, string>): Promise<void> {
    const files = await this.open();
    await Promise.all(
      [...chunks].map(async ([path, text]) => {
        const file = files.get(path)!;
        try {
          // FileHandle.appendFile loops until every byte is written (a bare write() may be partial).
          await file.handle.appendFile(text, 'utf8');
          if (this.fsync) await file.handle.sync();
        } catch (err) {
          throw new VigieError('VIGIE_ERR_SINK', `jsonl sink "${this.name}": cannot write ${path}`, { cause: err });
        }
        file.size += Buffer.byteLength(text, 'utf8');
      }),
    );
    if (this.rotate !== undefined) await this.rotateDue(files, this.rotate);
  }

  /** Rotate the files that reached their size or age, then apply retention (after a rotation, or once a minute). */
  private async rotateDue(files: Map<string, OpenFile>, r: RotateConfig): Promise<void> {
    const now = this.now();
    let rotated = false;
    for (const file of files.values()) {
      const due = (r.maxBytes !== undefined && file.size >= r.maxBytes) || (r.interval !== undefined && now - file.startedAt >= r.interval);
      if (!due || file.size === 0) continue;
      const [dir, stem, ext] = splitName(file.path);
      const taken = new Set((await rotatedFiles(file.path)).map(([p]) => p));
      let target = join(dir, `${stem}.${stamp(now)}${ext}`);
      for (let n = 1; taken.has(target); n++) target = join(dir, `${stem}.${stamp(now)}-${n}${ext}`);
      try {
        await file.handle.close();
        await rename(file.path, target);
        file.handle = await open(file.path, 'a', this.mode);
        if (this.fsync) await syncDir(dir);
      } catch (err) {
        throw new VigieError('VIGIE_ERR_SINK', `jsonl sink "${this.name}": cannot rotate ${file.path}`, { cause: err });
      }
      file.size = 0;
      file.startedAt = now;
      rotated = true;
    }
    if (rotated || now - this.lastPrune >= 60_000) await this.prune(files.keys(), r, now);
  }

  /** Delete rotated files beyond `keep` or older than `maxAge`. */
  private async prune(paths: Iterable<string>, r: RotateConfig, now: number): Promise<void> {
    this.lastPrune = now;
    for (const path of paths) {
      const rotated = await rotatedFiles(path);
      const excess = rotated.length - r.keep;
      for (let i = 0; i < rotated.length; i++) {
        const [p, t] = rotated[i];
        if (i < excess || (r.maxAge !== undefined && now - t > r.maxAge)) await unlink(p).catch(() => undefined);
      }
    }
  }

  private open(): Promise<Map<string, OpenFile>> {
    if (this.files === undefined) {
      this.files = openAll(this.name, new Set(this.paths.values()), this.fsync, this.mode, this.now).then(async (files) => {
        if (this.rotate !== undefined) await this.prune(files.keys(), this.rotate, this.now());
        return files;
      });
      // Opening failed (permissions, bad path): let the next write try again instead of failing forever.
      this.files.catch(() => {
        this.files = undefined;
      });
    }
    return this.files;
  }
}

async function openAll(name: string, paths: Set<string>, fsync: boolean, mode: number, now: () => number): Promise<Map<string, OpenFile>> {
  const files = new Map<string, OpenFile>();
  let current = '';
  try {
    for (const path of paths) {
      current = path;
      await mkdir(dirname(path), { recursive: true });
      const handle = await open(path, 'a', mode);
      const st = await handle.stat();
      const born = st.birthtimeMs > 0 ? st.birthtimeMs : st.mtimeMs;
      files.set(path, { path, handle, size: st.size, startedAt: st.size > 0 ? Math.min(born, now()) : now() });
      if (fsync) await syncDir(dirname(path));
    }
  } catch (err) {
    await Promise.all([...files.values()].map((f) => f.handle.close().catch(() => undefined)));
    throw new VigieError('VIGIE_ERR_SINK', `jsonl sink "${name}": cannot open ${current}`, { cause: err });
  }
  return files;
}

/**
 * A new file's directory entry is only durable once the directory itself is synced. Best effort:
 * some platforms (Windows) cannot open a directory for syncing, and the data itself is still synced.
 */
async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // not supported here; see above
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Serialisation: deterministic, one line per record, `kind` first then the record's own keys.
// ---------------------------------------------------------------------------------------------

/** The lines for one output of a batch ('' when there is nothing). */
export function serialize(output: OutputKind, batch: SinkBatch): string {
  const kind = RECORD_KIND[output];
  const records: readonly object[] = batch[output];
  let out = '';
  for (let i = 0; i < records.length; i++) out += toLine(kind, records[i]) + '\n';
  return out;
}

/** One record as a JSON line (without the newline). */
export function toLine(kind: string, record: object): string {
  const prefix = '{"kind":' + JSON.stringify(kind);
  // Only results carry a `kind` of their own, and dead letters may carry bytes: those take the
  // slow path that rebuilds the object; everything else is stringified once and spliced.
  const needsRewrite =
    Object.hasOwn(record, 'kind') || (kind === 'dead_letter' && isBinary((record as { raw?: unknown }).raw));
  const source = needsRewrite ? rewrite(kind, record) : record;
  let body: string;
  try {
    body = JSON.stringify(source);
  } catch {
    // BigInt or a cycle in a payload or detail: degrade the value rather than fail the batch
    // (a rejected write would stop input positions from ever being committed).
    body = JSON.stringify(source, safeReplacer());
  }
  return body.length > 2 ? prefix + ',' + body.slice(1) : prefix + '}';
}

function rewrite(kind: string, record: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const rec = record as Record<string, unknown>;
  for (const key of Object.keys(rec)) {
    const value = rec[key];
    if (key === 'kind') {
      out[kind === 'result' ? 'resultKind' : 'recordKind'] = value;
    } else if (key === 'raw' && isBinary(value)) {
      out.raw = toBase64(value);
      out.encoding = 'base64';
    } else {
      out[key] = value;
    }
  }
  return out;
}

function isBinary(value: unknown): value is ArrayBufferView | ArrayBuffer {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer;
}

function toBase64(value: ArrayBufferView | ArrayBuffer): string {
  return value instanceof ArrayBuffer
    ? Buffer.from(value).toString('base64')
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
}

/** Fallback replacer: BigInt as a decimal string, bytes as base64, repeated objects as "[Circular]". */
function safeReplacer(): (this: unknown, key: string, value: unknown) => unknown {
  const seen = new WeakSet<object>();
  return function (key, value) {
    if (typeof value === 'bigint') return value.toString();
    // A Buffer's toJSON has already run by now: look at the holder's original value.
    const original = (this as Record<string, unknown>)[key];
    if (isBinary(original)) return toBase64(original);
    if (typeof value === 'object' && value !== null) {
      if (seen.has(value)) return '[Circular]';
      seen.add(value);
    }
    return value;
  };
}
