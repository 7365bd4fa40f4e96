/**
 * The lab's recorded datasets: the files of one folder (`vigie console --lab-dir DIR`) that
 * `vigie replay --input` reads, NDJSON or MessagePack by extension. A dataset is named by its file
 * name only, and only a name found in the folder's listing is ever opened: no path, no `..`, nothing
 * outside the folder.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { unpackMultiple } from 'msgpackr';
import { MSGPACK_EXTENSIONS } from '../sources/replay-input.js';
import { HttpError } from './http.js';

/** Extensions of the files offered: what `replay --input` reads as NDJSON, and MessagePack. */
export const DATASET_EXTENSIONS: readonly string[] = ['.jsonl', '.ndjson', ...MSGPACK_EXTENSIONS];

/** The ground-truth field the generator writes (and `replay --labels` reads by default). */
export const LABEL_FIELD = 'label';

/** How much of a file is read to see whether its records carry labels. */
const SNIFF_BYTES = 64 * 1024;

export interface Dataset {
  name: string;
  size: number;
  /** ISO-8601 */
  modified: string;
  format: 'ndjson' | 'msgpack';
}

const isMsgpack = (name: string) => MSGPACK_EXTENSIONS.includes(extname(name).toLowerCase());
const offered = (name: string) => !name.startsWith('.') && DATASET_EXTENSIONS.includes(extname(name).toLowerCase());

/** The datasets of `dir`, by name: regular files with an offered extension (hidden files left out). */
export async function listDatasets(dir: string): Promise<Dataset[]> {
  const all = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    throw new HttpError(503, 'unavailable', `cannot read the lab folder: ${err.code ?? err.message}`);
  });
  const names = all.filter(offered).sort();
  const out: Dataset[] = [];
  for (const name of names) {
    const s = await stat(join(dir, name)).catch(() => undefined);
    if (s === undefined || !s.isFile()) continue;
    out.push({ name, size: s.size, modified: s.mtime.toISOString(), format: isMsgpack(name) ? 'msgpack' : 'ndjson' });
  }
  return out;
}

/** A name that could only be a file name (no separator, no `..`, no NUL): anything else is refused before the folder is read. */
export function isPlainName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && !/[/\\\0]/.test(name) && name !== '.' && name !== '..';
}

/** The path of dataset `name` of `dir`: 400 for anything but a plain file name, 404 for a name not in the listing. */
export async function datasetPath(dir: string, name: unknown): Promise<{ name: string; path: string; format: Dataset['format'] }> {
  if (typeof name !== 'string' || !isPlainName(name)) throw new HttpError(400, 'bad_request', 'dataset: expected the name of a file of the lab folder (GET /api/lab/datasets), not a path');
  const found = (await listDatasets(dir)).find((d) => d.name === name);
  if (found === undefined) throw new HttpError(404, 'not_found', `no dataset "${name}" in the lab folder (GET /api/lab/datasets lists them)`);
  return { name, path: join(dir, found.name), format: found.format };
}

/** The first record of a file, or undefined when it cannot be read as one. */
async function firstRecord(path: string, format: Dataset['format']): Promise<unknown> {
  const fh = await open(path, 'r');
  let head: Buffer;
  try {
    const buf = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await fh.read(buf, 0, SNIFF_BYTES, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  if (format === 'msgpack') {
    let first: unknown;
    try {
      unpackMultiple(head, (value: unknown) => {
        first = value;
        return false;
      });
    } catch {
      // A record cut by the end of the sample: whatever came before it is kept.
    }
    return first;
  }
  const line = head.toString('utf8').split('\n').find((l) => l.trim() !== '');
  if (line === undefined) return undefined;
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/**
 * Whether the dataset carries ground truth: its first record has the label field (the generator
 * writes it on every event, `null` when not fraud). Scoring unlabelled data would report every alert
 * as a false positive, so labels are only asked for then.
 */
export async function hasLabels(path: string, format: Dataset['format']): Promise<boolean> {
  const r = await firstRecord(path, format).catch(() => undefined);
  return typeof r === 'object' && r !== null && !Array.isArray(r) && LABEL_FIELD in r;
}
