/** What a replay reads: each configured source, or the `--input` file that replaces it (format by extension), made finite. */
import { extname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { VigieError } from '../errors.js';
import { didYouMean } from '../util/suggest.js';
import type { SourceConfig } from './index.js';
import { mappingOf } from './mapping.js';

/** File extensions read as MessagePack; every other file is NDJSON. */
export const MSGPACK_EXTENSIONS: readonly string[] = ['.msgpack', '.mpk', '.msgpackr'];

/** The source type that reads `path`: MessagePack for {@link MSGPACK_EXTENSIONS}, NDJSON otherwise. */
export function fileSourceType(path: string): 'msgpack-file' | 'ndjson-file' {
  return MSGPACK_EXTENSIONS.includes(extname(path).toLowerCase()) ? 'msgpack-file' : 'ndjson-file';
}

/** One `--input [NAME=]FILE` of `vigie replay`: the file, and the source it replaces when named. */
export interface ReplayInput {
  source?: string;
  path: string;
}

/**
 * `NAME=FILE` names the source; anything else is a bare file. A prefix holding a path separator is
 * part of a path, so a file whose name contains `=` can still be given (`./a=b.ndjson`).
 */
export function parseReplayInput(arg: string): ReplayInput {
  const eq = arg.indexOf('=');
  if (eq > 0) {
    const name = arg.slice(0, eq);
    if (!/[\\/]/.test(name)) return { source: name, path: arg.slice(eq + 1) };
  }
  return { path: arg };
}

function usage(message: string): never {
  throw new VigieError('VIGIE_ERR_USAGE', message);
}

/**
 * Which configured source each input replaces (source name to file). A bare file is only accepted
 * when the config has one source: with several, silently picking one would leave the others' pipelines
 * without their events (every event dead-lettered as missing_key), which looks like a detection result.
 */
export function assignReplayInputs(sources: readonly SourceConfig[], inputs: readonly ReplayInput[]): Map<string, string> {
  const names = sources.map((s) => s.name);
  const list = names.map((n) => `"${n}"`).join(', ');
  const files = new Map<string, string>();
  for (const input of inputs) {
    let name = input.source;
    if (name === undefined) {
      if (names.length !== 1) {
        usage(
          `--input ${input.path}: the config has ${names.length} sources (${list}), so say which one the file replaces: --input NAME=FILE ` +
            '(one --input per source to replace; the sources without one are read as configured)',
        );
      }
      name = names[0];
    } else if (!names.includes(name)) {
      // Without a likely typo, the user may have meant a file whose name holds "=": say how to give one.
      const hint = didYouMean(name, names) ?? `a file whose name contains "=" is given with its directory: ./${name}=${input.path}`;
      usage(`--input ${name}=${input.path}: the config has no source "${name}" (${hint}); its sources: ${list}`);
    }
    if (input.path === '') usage(`--input ${name}=: no file after "="`);
    const before = files.get(name);
    if (before !== undefined) usage(`--input: source "${name}" is given two files (${before} and ${input.path}): one --input per source`);
    files.set(name, input.path);
  }
  return files;
}

/**
 * The source config of an input file: `template` (the configured source it replaces) with only how
 * records are read changed: a backtest must decode, time, type-check and de-duplicate as the live
 * source does.
 */
export function inputFileSource(path: string, template: SourceConfig): SourceConfig {
  return { ...mappingOf(template), name: template.name, type: fileSourceType(path), path } as SourceConfig;
}

/** Replay needs finite input: generators run unpaced and must have `events`; live Kafka sources never end. */
export function finiteForReplay(s: SourceConfig): SourceConfig {
  if (s.type === 'kafka') {
    throw new VigieError('VIGIE_ERR_USAGE', `source "${s.name}" is a live kafka source, which never ends: give --input ${s.name}=FILE or --from-kafka TOPIC --since TIME`);
  }
  if (s.type !== 'generator') return s;
  if (s.events === undefined) throw new VigieError('VIGIE_ERR_USAGE', `replay needs finite input: generator source "${s.name}" has no \`events\` (set it, or give --input ${s.name}=FILE)`);
  return { ...s, realtime: false };
}

/**
 * The sources a replay reads, in config order: each source named by an input is replaced by its
 * file, the others are made finite. Says in the log which file replaces which source.
 */
export function replaySources(sources: readonly SourceConfig[], inputs: readonly ReplayInput[], logger?: Logger): SourceConfig[] {
  const files = assignReplayInputs(sources, inputs);
  const configs = sources.map((s) => {
    const file = files.get(s.name);
    return file === undefined ? finiteForReplay(s) : inputFileSource(resolve(file), s);
  });
  if (logger !== undefined && files.size > 0) {
    for (const s of sources) {
      const file = files.get(s.name);
      if (file === undefined) continue;
      logger.info({ source: s.name, file: resolve(file) }, `--input: ${file} replaces source "${s.name}"`);
      // What a Kafka transport adds to a record is not in a file: say so rather than let event times or keys change unnoticed.
      if (s.type === 'kafka' && s.timestampFrom === 'record') {
        logger.warn({ source: s.name, file, timeField: s.time.field }, `--input: source "${s.name}" takes event time from the Kafka record timestamp, which a file does not have: the file's events take it from field "${s.time.field}"`);
      }
      if (s.type === 'kafka' && s.recordKeyField !== undefined) {
        logger.warn({ source: s.name, file, field: s.recordKeyField }, `--input: source "${s.name}" copies the Kafka record key into "${s.recordKeyField}", which a file does not have: that field is read from the file's records as they are`);
      }
    }
    const kept = sources.filter((s) => !files.has(s.name)).map((s) => s.name);
    if (kept.length > 0) logger.info({ sources: kept }, `--input: ${kept.map((n) => `"${n}"`).join(', ')} read as configured (no --input for them)`);
  }
  return configs;
}
