/** `vigie console`: the analysts' HTTP API over the redis sink's alert streams, until SIGINT/SIGTERM. */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.js';
import { TOKEN_ENV, tokensFromEnv } from '../console/auth.js';
import { DEFAULT_HOST, DEFAULT_PORT, startConsole } from '../console/server.js';
import { expandStreams, targetFromConfig, type ConsoleTarget } from '../console/target.js';
import { DEFAULT_AUDIT_STREAM, DEFAULT_LABELS_STREAM, DEFAULT_TRIAGE_PREFIX } from '../console/triage.js';
import { VigieError } from '../errors.js';
import { int } from './options.js';
import { onStopSignals } from './signals.js';

interface ConsoleArgs {
  config?: string;
  sink?: string;
  redisUrl?: string;
  stream: string;
  prefix: string;
  host: string;
  port: number;
  triagePrefix: string;
  auditStream: string;
  labelsStream: string;
  labDir?: string;
  labTimeout: number;
}

function target(args: ConsoleArgs, load: (file: string) => LoadedConfig): ConsoleTarget {
  if (args.config !== undefined && args.redisUrl !== undefined) throw new VigieError('VIGIE_ERR_USAGE', 'give either --config or --redis-url, not both');
  if (args.config !== undefined) return targetFromConfig(load(args.config), args.sink);
  if (args.redisUrl !== undefined) return { connection: { url: args.redisUrl }, streams: expandStreams(args.stream, undefined), prefix: args.prefix };
  throw new VigieError('VIGIE_ERR_CONSOLE', 'no alert stream to read: give --config FILE (its redis sink) or --redis-url URL [--stream NAME]');
}

/** The lab's folder, which must exist. */
function labDir(dir: string | undefined): string | undefined {
  if (dir === undefined) return undefined;
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new VigieError('VIGIE_ERR_CONSOLE', `--lab-dir ${dir}: no such folder`);
  return resolve(dir);
}

export function addConsoleCommand(program: Command, load: (file: string) => LoadedConfig, logger: () => Logger): void {
  program
    .command('console')
    .description(
      "Serve the analysts' console over the alerts a redis sink stores: the live alerts page at / (sign in at /login with a token), the morning queue at /queue, and the HTTP API " +
        "GET /api/alerts (filters, newest first), /api/alerts/ID (with the key's history), /api/counts, /api/live (server-sent events) and /api/queue; " +
        'the alert detail page /alerts/ID, triage (POST /api/triage, analysts only; GET /api/triage) and the labels it publishes (GET /api/labels, /api/labels.jsonl). ' +
        `API requests need Authorization: Bearer TOKEN (or the page's session), a token from ${TOKEN_ENV['read-only']} (read-only) ` +
        `or ${TOKEN_ENV.analyst} (analyst); without either it does not start. With --lab-dir, the lab at /lab runs backtests and what-ifs of edited configs ` +
        'over recorded datasets (vigie replay in a child process, never writing the configured sinks). Stops on SIGINT/SIGTERM. See docs/console.md.',
    )
    .option('-c, --config <file>', 'read the Redis address and stream of this config\'s redis sink')
    .option('--sink <name>', 'with --config: the redis sink to read, when the config has several')
    .option('--redis-url <url>', 'instead of --config: the Redis to read (redis://[user:password@]host:port[/db])')
    .option('--stream <name>', 'with --redis-url: the alert stream; may contain {severity}', 'vigie:alerts')
    .option('--prefix <prefix>', "with --redis-url: the sink's key prefix, under which its ranked queues are", 'vigie')
    .option('--host <address>', 'address to listen on (keep it local unless a proxy with TLS is in front)', DEFAULT_HOST)
    .option('--port <port>', 'port to listen on (0: a free one, logged)', int('port', 0, 65_535), DEFAULT_PORT)
    .option('--triage-prefix <prefix>', 'prefix of the triage state hashes (PREFIX:alert:ID, PREFIX:key:KEY)', DEFAULT_TRIAGE_PREFIX)
    .option('--audit-stream <name>', 'stream every triage change is appended to (trimmed to about 100,000 entries)', DEFAULT_AUDIT_STREAM)
    .option('--labels-stream <name>', 'stream of the labels triage publishes, one entry per event (a redis-stream table for the model detector)', DEFAULT_LABELS_STREAM)
    .option('--lab-dir <dir>', 'enable the lab (/lab): backtests and what-ifs of edited configs over the recorded datasets of this folder (NDJSON or MessagePack files), against --config')
    .option('--lab-timeout <seconds>', 'with --lab-dir: time limit of one lab run', int('lab timeout', 1, 86_400), 300)
    .action(async (args: ConsoleArgs) => {
      const tokens = tokensFromEnv();
      const triage = { prefix: args.triagePrefix, auditStream: args.auditStream, labelsStream: args.labelsStream };
      const lab = { dir: labDir(args.labDir), config: args.config === undefined ? undefined : resolve(args.config), timeoutMs: args.labTimeout * 1000 };
      const server = await startConsole({ target: target(args, load), tokens, logger: logger(), host: args.host, port: args.port, triage, lab });
      let remove = () => {};
      await new Promise<void>((resolve) => {
        remove = onStopSignals(
          () => resolve(),
          () => process.exit(1),
        );
      });
      await server.close();
      remove();
    });
}
