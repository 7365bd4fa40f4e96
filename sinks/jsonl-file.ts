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
 * ```
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { OUTPUT_KINDS, type OutputKind, type Sink, type SinkBatch, type SinkContext } from './types.js';

export const type = 'jsonl';

export const summary = 'Appends alerts, results and dead letters as JSON Lines to one file or one file per output.';

export const example = `sinks:
  - name: archive
    type: jsonl
    path: out/vigie.jsonl
    outputs: [alerts, results, deadLetters]
    perOutput: true
    fsync: true
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
      .describe('Which outputs to write: `alerts`, `results` (window results), `deadLetters`, `scores` (per-input scores of detectors with `scores: true`), `shadowAlerts` (alerts of detectors in shadow mode). Defaults to alerts only.'),
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
  })
  .describe(
    'Appends one JSON object per line. Each line starts with `kind` (`alert`, `result` or `dead_letter`) ' +
      'followed by the record\'s fields in their own order; a result\'s own `kind` (final/update) is written as ' +
      '`resultKind`. Binary dead-letter inputs are written in base64 with `"encoding":"base64"`. ' +
      'Acknowledges: a batch counts as delivered once its lines are written (and synced when `fsync` is on).',
  );

export type JsonlSinkConfig = z.output<typeof schema>;

/** Record kind written in the `kind` field, per output. */
const RECORD_KIND: Record<OutputKind, string> = { alerts: 'alert', results: 'result', deadLetters: 'dead_letter', scores: 'score', shadowAlerts: 'shadow_alert' };
const FILE_SUFFIX: Record<OutputKind, string> = {
  alerts: '.alerts.jsonl',
  results: '.results.jsonl',
  deadLetters: '.dead-letters.jsonl',
  scores: '.scores.jsonl',
  shadowAlerts: '.shadow-alerts.jsonl',
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
}

class JsonlFileSink implements Sink {
  readonly name: string;
  readonly type = type;
  readonly acknowledges = true;
  readonly outputs: ReadonlySet<OutputKind>;
  private readonly paths: Map<OutputKind, string>;
  private readonly fsync: boolean;
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
  }

  write(batch: SinkBatch): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new Error(`jsonl sink "${this.name}" is closed`));
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
          throw new Error(`jsonl sink "${this.name}": cannot write ${path}`, { cause: err });
        }
      }),
    );
  }

  private open(): Promise<Map<string, OpenFile>> {
    if (this.files === undefined) {
      this.files = openAll(this.name, new Set(this.paths.values()), this.fsync);
      // Opening failed (permissions, bad path): let the next write try again instead of failing forever.
      this.files.catch(() => {
        this.files = undefined;
      });
    }
    return this.files;
  }
}

async function openAll(name: string, paths: Set<string>, fsync: boolean): Promise<Map<string, OpenFile>> {
  const files = new Map<string, OpenFile>();
  let current = '';
  try {
    for (const path of paths) {
      current = path;
      await mkdir(dirname(path), { recursive: true });
      const handle = await open(path, 'a');
      files.set(path, { path, handle });
      if (fsync) await syncDir(dirname(path));
    }
  } catch (err) {
    await Promise.all([...files.values()].map((f) => f.handle.close().catch(() => undefined)));
    throw new Error(`jsonl sink "${name}": cannot open ${current}`, { cause: err });
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
