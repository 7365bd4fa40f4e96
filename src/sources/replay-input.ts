/** What a replay reads: the source of `--input FILE` (format by extension) and the configured sources made finite. */
import { extname } from 'node:path';
import { VigieError } from '../errors.js';
import type { SourceConfig } from './index.js';

/** File extensions read as MessagePack; every other file is NDJSON. */
export const MSGPACK_EXTENSIONS: readonly string[] = ['.msgpack', '.mpk', '.msgpackr'];

/** The source type that reads `path`: MessagePack for {@link MSGPACK_EXTENSIONS}, NDJSON otherwise. */
export function fileSourceType(path: string): 'msgpack-file' | 'ndjson-file' {
  return MSGPACK_EXTENSIONS.includes(extname(path).toLowerCase()) ? 'msgpack-file' : 'ndjson-file';
}

/**
 * The source config of `--input FILE`: the file read with `template`'s name and field mapping (the
 * configured source it replaces), so events are decoded as that source would decode them.
 */
export function inputFileSource(path: string, template: SourceConfig): SourceConfig {
  const { time, processingTime, id, fields, maxEventBytes } = template;
  return { name: template.name, type: fileSourceType(path), path, time, processingTime, id, fields, maxEventBytes } as SourceConfig;
}

/** Replay needs finite input: generators run unpaced and must have `events`; live Kafka sources never end. */
export function finiteForReplay(s: SourceConfig): SourceConfig {
  if (s.type === 'kafka') {
    throw new VigieError('VIGIE_ERR_USAGE', `source "${s.name}" is a live kafka source, which never ends: give --input FILE or --from-kafka TOPIC --since TIME`);
  }
  if (s.type !== 'generator') return s;
  if (s.events === undefined) throw new VigieError('VIGIE_ERR_USAGE', `replay needs finite input: generator source "${s.name}" has no \`events\` (set it, or give --input)`);
  return { ...s, realtime: false };
}
