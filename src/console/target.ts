/** Which Redis and which alert streams the console reads: a config's redis sink, or a URL and a stream given directly. */
import type { LoadedConfig } from '../config/load.js';
import { VigieError } from '../errors.js';
import type { RedisConnectionOptions } from '../redis/connection.js';
import { SEVERITIES } from '../types.js';

export interface ConsoleTarget {
  connection: RedisConnectionOptions;
  /** Every stream alerts may be in (a template with placeholders gives several). */
  streams: string[];
  /** The sink's key prefix: where its ranked queues are (default `vigie`). */
  prefix?: string;
  /** The sink writes to a cluster (its queue keys carry a hash tag). */
  cluster?: boolean;
}

/** The streams a sink's stream template may write: `{severity}` over every severity, `{detector}` over the config's detectors. */
export function expandStreams(template: string, detectors: readonly string[] | undefined): string[] {
  let names = [template];
  if (template.includes('{severity}')) names = names.flatMap((n) => SEVERITIES.map((s) => n.replaceAll('{severity}', s)));
  if (template.includes('{detector}')) {
    if (detectors === undefined) throw new VigieError('VIGIE_ERR_CONSOLE', `stream "${template}" names {detector}: give --config so that the detectors are known`);
    names = names.flatMap((n) => detectors.map((d) => n.replaceAll('{detector}', d)));
  }
  return [...new Set(names)];
}

/** The target of the redis sink `sinkName` of a config (the only one when no name is given). */
export function targetFromConfig(loaded: LoadedConfig, sinkName?: string): ConsoleTarget {
  const sinks = loaded.config.sinks.flatMap((s) => (s.type === 'redis' ? [s] : []));
  const names = sinks.map((s) => s.name).join(', ');
  const sink = sinkName === undefined ? (sinks.length === 1 ? sinks[0] : undefined) : sinks.find((s) => s.name === sinkName);
  if (sink === undefined) {
    const why =
      sinkName !== undefined ? `has no redis sink named "${sinkName}"${names ? ` (redis sinks: ${names})` : ''}` : sinks.length === 0 ? 'has no redis sink' : `has several redis sinks (${names}): choose one with --sink`;
    throw new VigieError('VIGIE_ERR_CONSOLE', `${loaded.file} ${why}`);
  }
  const detectors = loaded.config.pipelines.flatMap((p) => p.detectors.map((d) => d.name));
  const { url, username, passwordEnv, tls, sentinel, cluster, connectTimeout } = sink;
  return { connection: { url, username, passwordEnv, tls, sentinel, cluster, connectTimeout }, streams: expandStreams(sink.stream, detectors), prefix: sink.prefix, cluster: cluster !== undefined };
}
