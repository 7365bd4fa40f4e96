import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { pack } from 'msgpackr';
import { forReplay } from '../backtest/configs.js';
import { DEFAULT_REPLAY_OUTPUTS, parseReplayOutputs, REPLAY_OUTPUTS, replayOutSinks, type ReplayOutput } from '../backtest/replay-outputs.js';
import type { ReplayArgs } from '../backtest/replay-command.js';
import { ConfigError, formatProblem, loadConfig, type LoadedConfig } from '../config/load.js';
import { configJsonSchemaText, configReference } from '../config/docs.js';
import { Engine } from '../engine/engine.js';
import { readLabelsFile } from '../engine/labels-file.js';
import type { LabelOptions } from '../engine/labels.js';
import { VigieError, describeError } from '../errors.js';
import { createGenerator, customersFor, DEFAULT_RATE, SCENARIOS, type Scenario } from '../generator/index.js';
import { createLogger, LOG_LEVELS, type LogFormat } from '../log.js';
import { EngineMetrics } from '../metrics/registry.js';
import { evalNab, formatNabReport } from '../eval/nab-run.js';
import { evalFraud, formatFraudReport } from '../eval/fraud.js';
import { startMetricsServer } from '../metrics/server.js';
import { addConsoleCommand } from './console.js';
import { addEvalScoringCommand } from './eval-scoring.js';
import { addKafkaLocalCommand } from './kafka-local.js';
import { int, positive } from './options.js';
import { addProduceCommand } from './produce.js';
import { mappingShape } from '../sources/mapping.js';
import { assignReplayInputs, MSGPACK_EXTENSIONS, parseReplayInput } from '../sources/replay-input.js';
import { DEFAULT_EVENT_MATCH_MS } from '../backtest/alert-match.js';
import { formatDuration, parseDuration } from '../time/duration.js';
import { formatSummaryTable, startStatus } from './run-output.js';

/** Exit codes: 0 success, 1 runtime failure, 2 invalid config or usage. */
const EXIT_FAILURE = 1;
const EXIT_INVALID = 2;

function load(file: string): LoadedConfig {
  try {
    return loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
      process.stderr.write(`vigie: ${err.code}: ${err.problems.length} problem${err.problems.length === 1 ? '' : 's'} in ${file}\n`);
      process.exit(EXIT_INVALID);
    }
    throw err;
  }
}

/** How logs are written, from the global options (set before any command runs). */
const logging: { format: LogFormat; color: boolean } = { format: 'json', color: false };

/**
 * `auto`: the human form when stdout is a terminal (a person is watching), JSON otherwise (a
 * pipe, a file, a service manager: something parses it).
 */
function chooseLogFormat(option: string): LogFormat {
  if (option === 'json' || option === 'pretty') return option;
  return process.stdout.isTTY === true ? 'pretty' : 'json';
}

function cliLogger() {
  return createLogger({ format: logging.format, color: logging.color });
}

async function writeAll(stream: NodeJS.WritableStream, chunk: string | Uint8Array): Promise<void> {
  if (!stream.write(chunk)) await new Promise<void>((r) => stream.once('drain', () => r()));
}

async function runLive(opts: { config: string; metricsPort?: number; metricsHost?: string }): Promise<void> {
  const loaded = load(opts.config);
  const logger = cliLogger();
  const readable = logging.format === 'pretty';
  const metrics = new EngineMetrics();
  const engine = new Engine({ loaded, mode: 'live', logger, metrics, readable });
  const mcfg = loaded.config.metrics;
  const server = mcfg.enabled
    ? await startMetricsServer({
        host: opts.metricsHost ?? mcfg.host,
        port: opts.metricsPort ?? mcfg.port,
        metrics,
        logger,
        health: () => ({ live: true }),
        ready: () => engine.readiness(),
      })
    : undefined;
  if (server) logger.info({ url: `http://${server.host}:${server.port}/metrics` }, 'metrics served');
  // Hot reload of pipelines: SIGHUP, a change of the file, a Redis key and channel (see src/engine/reload-watch.ts).
  const { ConfigReloader } = await import('../engine/reload-watch.js');
  const reloader = new ConfigReloader({ engine, file: opts.config, settings: loaded.config.reload, logger, metrics });
  const onHup = () => {
    void reloader.reloadFile('signal').catch((err: unknown) => logger.error({ err: (err as Error).message }, 'config reload failed'));
  };
  process.on('SIGHUP', onHup);
  let signals = 0;
  const onSignal = (sig: string) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal: sig }, 'second signal: exiting now');
      process.exit(EXIT_FAILURE);
    }
    logger.info({ signal: sig }, 'stopping: finishing in-flight batches, flushing sinks, checkpointing, committing');
    process.off('SIGHUP', onHup);
    void reloader.close();
    engine.stop();
    // Bounded: a sink or broker that does not answer must not keep the process from stopping.
    const limit = loaded.config.engine.shutdownTimeout;
    setTimeout(() => {
      logger.error({ timeoutMs: limit }, 'shutdown did not finish in time: exiting');
      process.exit(EXIT_FAILURE);
    }, limit).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const stopStatus = readable ? startStatus(() => engine.progress(), logger) : undefined;
  try {
    const running = engine.run();
    // Not awaited: Redis may be unreachable for a while, the run goes on meanwhile.
    void reloader.start().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'config reload: triggers not started (SIGHUP still reloads the file)'));
    const summary = await running;
    stopStatus?.();
    // Scripts and tests parse the JSON line; a person gets a table on the terminal, beside the alerts.
    if (readable) await writeAll(process.stdout, formatSummaryTable(summary));
    else logger.info({ summary }, 'summary');
  } finally {
    stopStatus?.();
    process.off('SIGHUP', onHup);
    await reloader.close();
    await server?.close();
  }
}

function duration(name: string) {
  return (v: string): number => {
    const ms = parseDuration(v);
    if (ms === undefined) throw new InvalidArgumentError(`${name} must be a duration such as 30s, 10m or 1h (or milliseconds)`);
    return ms;
  };
}

async function replay(opts: ReplayArgs & { config: string; labels?: string | boolean; labelsFrom?: string; batchSize?: number; baseDir?: string }): Promise<void> {
  // --base-dir: the configs' relative paths (tables, key files, file sources) resolve from there, not from each file's folder.
  const based = (l: LoadedConfig): LoadedConfig => (opts.baseDir === undefined ? l : { ...l, baseDir: resolve(opts.baseDir) });
  const loaded = based(load(opts.config));
  const variant = opts.compare === undefined ? undefined : based(load(opts.compare));
  const logger = cliLogger();
  let labels: LabelOptions | undefined = opts.labels === undefined || opts.labels === false ? undefined : { field: opts.labels === true ? 'label' : opts.labels, caseField: 'case' };
  // What-if (--compare), HTML report (--report) and replay from Kafka (--from-kafka): src/backtest/.
  const backtest = await import('../backtest/replay-command.js');
  let history: { source: import('../sources/types.js').Source; describe: string } | undefined;
  const inputs = opts.input?.map(parseReplayInput);
  const match = opts.matchWithin === undefined ? undefined : { eventWithinMs: opts.matchWithin };
  let outputs: ReplayOutput[] | undefined;
  try {
    backtest.checkReplayArgs(opts);
    if (opts.labelsFrom !== undefined) {
      if (labels !== undefined) throw new VigieError('VIGIE_ERR_USAGE', 'give either --labels (labels in the input) or --labels-from (a labels export), not both');
      labels = { field: 'label', caseField: 'case', byRef: readLabelsFile(opts.labelsFrom) };
    }
    outputs = opts.outputs === undefined ? undefined : parseReplayOutputs(opts.outputs);
    // Before anything runs, so that a wrong source name is a usage error (exit 2), not a failed run.
    if (inputs !== undefined) assignReplayInputs(loaded.config.sources, inputs);
    if (opts.fromKafka !== undefined) {
      const { historyFromConfig, parseTimeArg } = await import('../backtest/kafka-history.js');
      const now = Date.now();
      const since = parseTimeArg(opts.since as string, now, '--since');
      const until = opts.until === undefined ? undefined : parseTimeArg(opts.until, now, '--until');
      const h = await historyFromConfig(loaded, { topic: opts.fromKafka, since, until, brokers: opts.brokers, logger });
      const range = `[${new Date(since).toISOString()}, ${until === undefined ? 'end offsets at start' : new Date(until).toISOString()})`;
      history = { source: h.source, describe: `kafka topic ${opts.fromKafka} ${range}, ${h.records} records` };
    }
    if (variant !== undefined || opts.report !== undefined) {
      const text = await backtest.backtest({ a: loaded, b: variant, inputs, history, out: opts.out, outputs, labels, batchSize: opts.batchSize, json: opts.json, report: opts.report, match, logger });
      await writeAll(process.stdout, text);
      return;
    }
  } catch (err) {
    if (err instanceof VigieError && err.code === 'VIGIE_ERR_USAGE') {
      process.stderr.write(`vigie: ${err.code}: ${err.message}\n  remedy: ${describeError(err).remedy}\n`);
      process.exit(EXIT_INVALID);
    }
    throw err;
  }
  const sinks = opts.out ? await replayOutSinks(opts.out, logger, outputs) : undefined;
  const engine = new Engine({
    loaded: history ? forReplay(loaded) : loaded,
    mode: 'replay',
    logger,
    inputs,
    sources: history ? [history.source] : undefined,
    sinks,
    stdout: process.stderr,
    labels,
    batchSize: opts.batchSize,
  });
  const summary = await engine.run();
  await writeAll(process.stdout, `${JSON.stringify(summary, null, 2)}\n`);
}

interface GenerateOptions {
  scenario: Scenario;
  events: number;
  seed: number;
  out?: string;
  rate?: number;
  customers?: number;
  start: string;
  disorder: number;
  format: 'json' | 'msgpack';
  days: number;
  terminals?: number;
  radius?: number;
  compromisedTerminals?: number;
  compromisedCustomers?: number;
  delay?: number;
}

async function generate(opts: GenerateOptions, cmd: Command): Promise<void> {
  const start = Date.parse(opts.start);
  if (Number.isNaN(start)) throw new InvalidArgumentError('--start must be an ISO-8601 date-time');
  const { cardsArgsProblem, formatCardsSummary, generateCards } = await import('./generate-cards.js');
  const problem = cardsArgsProblem(opts.scenario, (name) => cmd.getOptionValueSource(name) === 'cli', opts.out);
  if (problem !== undefined) {
    process.stderr.write(`vigie: VIGIE_ERR_USAGE: ${problem}\n`);
    process.exit(EXIT_INVALID);
  }
  if (opts.scenario === 'cards') {
    const { days, out, seed, customers, terminals, radius, compromisedTerminals, compromisedCustomers, delay } = opts;
    let summary;
    try {
      summary = await generateCards({ days, out: out as string, seed, start, customers, terminals, radius, compromisedTerminals, compromisedCustomers, delayDays: delay });
    } catch (err) {
      if (!(err instanceof VigieError && err.code === 'VIGIE_ERR_USAGE')) throw err;
      process.stderr.write(`vigie: ${err.code}: ${err.message}\n`);
      process.exit(EXIT_INVALID);
    }
    await writeAll(process.stdout, formatCardsSummary(summary));
    return;
  }
  const rate = opts.rate ?? DEFAULT_RATE[opts.scenario];
  const gen = createGenerator(opts.scenario, { seed: opts.seed, start, ratePerSecond: rate, disorderMs: opts.disorder, customers: opts.customers ?? customersFor(rate) });
  if (opts.out) await mkdir(dirname(resolve(opts.out)), { recursive: true });
  const stream = opts.out ? createWriteStream(opts.out) : process.stdout;
  let left = opts.events;
  while (left > 0) {
    const n = Math.min(left, 10_000);
    left -= n;
    const events = gen.next(n);
    if (opts.format === 'msgpack') {
      await writeAll(stream, Buffer.concat(events.map((e) => pack(e))));
    } else {
      let text = '';
      for (const e of events) text += `${JSON.stringify(e)}\n`;
      await writeAll(stream, text);
    }
  }
  if (opts.out) await new Promise<void>((r, j) => (stream as ReturnType<typeof createWriteStream>).end((err?: Error | null) => (err ? j(err) : r())));
}

export function buildCli(): Command {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const program = new Command('vigie')
    .description('Real-time detection engine: event-time windows, detectors, explained alerts.')
    .version(pkg.version, '-V, --version', 'print the version of vigie')
    .addOption(new Option('--log-level <level>', 'least level of the log lines written (default: $VIGIE_LOG_LEVEL, else info); debug also prints the stack of an error').choices(LOG_LEVELS))
    .addOption(
      new Option('--log-format <format>', 'logs on stderr: pretty (one readable line each), json (one JSON object each), or auto: pretty when stdout is a terminal, else json')
        .choices(['auto', 'pretty', 'json'])
        .default('auto'),
    )
    .showHelpAfterError()
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_INVALID))
    .hook('preAction', () => {
      const o = program.opts<{ logLevel?: string; logFormat: string }>();
      // Through the environment, so that everything reading VIGIE_LOG_LEVEL (the loggers, the
      // error handler's stack) follows the flag.
      if (o.logLevel !== undefined) process.env.VIGIE_LOG_LEVEL = o.logLevel;
      logging.format = chooseLogFormat(o.logFormat);
      logging.color = logging.format === 'pretty' && process.stderr.isTTY === true && !process.env.NO_COLOR;
    });

  program
    .command('run')
    .description('Run a config live until interrupted (SIGINT/SIGTERM stop it cleanly).')
    .requiredOption('-c, --config <file>', 'config file (YAML)')
    .option('--metrics-port <port>', 'override metrics.port', int('metrics port'))
    .option('--metrics-host <address>', 'override metrics.host (e.g. 0.0.0.0 in a container, so that Prometheus in another one can scrape it)')
    .action(runLive);

  program
    .command('replay')
    .description('Process recorded events as fast as possible, in event time, through the same pipeline; prints a JSON summary.')
    .requiredOption('-c, --config <file>', 'config file (YAML)')
    .option(
      '-i, --input <[name=]file>',
      "events file replacing the config's source NAME (repeat --input for several sources; a bare FILE only when the config has one source): " +
        `NDJSON, or MessagePack for ${MSGPACK_EXTENSIONS.join(', ')}. Only how records are read changes: the file keeps the source's ` +
        `${Object.keys(mappingShape).join(', ')} settings. The sources without a file are read as configured (a generator needs \`events\`).`,
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option('-o, --out <dir>', `write the outputs chosen by --outputs here, one <output>.jsonl each (by default ${DEFAULT_REPLAY_OUTPUTS.map((o) => `${o}.jsonl`).join(' and ')}), instead of the configured sinks`)
    .option(
      '--outputs <list>',
      `with --out: comma-separated outputs to write, among ${REPLAY_OUTPUTS.map((o) => o.name).join(', ')}, or all (default ${DEFAULT_REPLAY_OUTPUTS.join(',')}). ` +
        "The file of an output not chosen is not written, and an earlier run's file of that name is removed (the log says so).",
    )
    .option('--labels [field]', 'score alerts against ground-truth labels in this field (default "label", cases in "case")')
    .option(
      '--labels-from <file>',
      "score alerts against a labels export instead (JSON lines as the console's /api/labels.jsonl writes them): events whose latest verdict is confirmed_fraud " +
        'are labelled confirmed_fraud, their case being the alert triaged (or the key); as --labels, also with --compare and --report',
    )
    .option('--batch-size <n>', 'records per batch', int('batch size', 1))
    .option(
      '--compare <file>',
      'what-if: also run this config (B) over the same input, in the same pass (the input is read once), and print per detector the alerts of A and B, ' +
        'only in A, only in B and in both (cooldown summaries excluded), per UTC day, and with --labels or --labels-from ' +
        "precision and recall of each. B runs over A's sources: its own sources section is ignored and its pipelines may only name A's sources. " +
        'The configured sinks are not written; with --out, A writes to DIR/a and B to DIR/b. Alerts of A and B match when they come from the same detector (by name), ' +
        'for the same key, about the same time: their windows overlap, or, for alerts on single events, they are at most --match-within apart; ' +
        'each alert matches at most one of the other run.',
    )
    .option(
      '--match-within <duration>',
      `with --compare: how far apart in event time two alerts on single events (no window) may be and still match (default ${formatDuration(DEFAULT_EVENT_MATCH_MS)})`,
      duration('--match-within'),
    )
    .option('--json', 'with --compare: print one JSON object instead of tables')
    .option('--report <file>', 'write a self-contained HTML report (alerts over time, observed values against thresholds, top keys), of A alone or of A and B with --compare')
    .option(
      '--from-kafka <topic>',
      "replay a Kafka topic instead of the config's sources: per partition, from the offset of --since up to, excluding, the offset of --until " +
        '(offsets looked up by record timestamp), then stop. Reads with a group of its own (vigie-replay-<random>), commits nothing, reads and writes no checkpoint: ' +
        "the live group is untouched. Uses the client settings, field mapping and format of the config's first kafka source.",
    )
    .option('--since <time>', 'with --from-kafka: start, ISO-8601 (2026-01-01T00:00:00Z) or a duration ago (7d, 24h, 30m)')
    .option('--until <time>', 'with --from-kafka: end, exclusive, same forms (default: the end offsets when the replay starts)')
    .option('--brokers <list>', "with --from-kafka: comma-separated brokers, overriding the kafka source's (required when the config has no kafka source)")
    .option('--base-dir <dir>', "resolve the relative paths of the configs (tables, key files, file sources) from this folder instead of each config file's own folder")
    .action(replay);

  program
    .command('validate')
    .description('Check a config; prints every problem with file, line, column and path. Exit code 2 when invalid.')
    .requiredOption('-c, --config <file>', 'config file (YAML)')
    .action(async (opts: { config: string }) => {
      // Every problem at once (errors and warnings, in file order); only errors make the config invalid.
      const { sortProblems, validateConfigFile } = await import('../config/load.js');
      const { loaded, problems, warnings } = validateConfigFile(opts.config);
      for (const p of sortProblems([...problems, ...warnings])) process.stderr.write(`${formatProblem(p)}\n`);
      const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
      if (loaded === undefined) {
        process.stderr.write(`vigie: VIGIE_ERR_CONFIG: ${count(problems.length, 'problem')}${warnings.length > 0 ? `, ${count(warnings.length, 'warning')}` : ''} in ${opts.config}\n`);
        process.exit(EXIT_INVALID);
      }
      process.stdout.write(`${opts.config}: valid (version ${loaded.version})${warnings.length > 0 ? `, ${count(warnings.length, 'warning')}` : ''}\n`);
    });

  program
    .command('generate')
    .description('Write deterministic, labelled events of a built-in scenario.')
    .addOption(new Option('--scenario <name>', 'scenario').choices([...SCENARIOS]).default('payments'))
    .option('-n, --events <n>', 'number of events', int('events', 1), 10_000)
    .option('--seed <n>', 'seed', int('seed'), 1)
    .option('-o, --out <file>', 'output file (stdout when absent)')
    .option('--rate <n>', 'mean events per second of event time (default: 0.15 payments, 20 telemetry)', (v) => {
      const n = Number(v);
      if (!(n > 0)) throw new InvalidArgumentError('rate must be > 0');
      return n;
    })
    .option('--customers <n>', 'payments: number of customers (default: about 13,000 per event/s); cards: number of cards (default 5000)', int('customers', 10))
    .option('--start <iso>', 'time of the first event (cards: start of the first day)', '2026-01-01T00:00:00Z')
    .option('--disorder <ms>', 'maximum out-of-orderness in ms', int('disorder'), 0)
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'msgpack']).default('json'))
    .option('--days <n>', 'cards: days simulated (with --out DIR: writes DIR/transactions.ndjson and DIR/reports.ndjson)', int('days', 1), 30)
    .option('--terminals <n>', 'cards: number of terminals (default 10000)', int('terminals', 1))
    .option('--radius <r>', 'cards: customers use the terminals within this distance of home, on a 100 x 100 grid (default 5)', positive('radius'))
    .option('--compromised-terminals <n>', 'cards: terminals compromised each day, for 28 days (default 2)', int('compromised terminals'))
    .option('--compromised-customers <n>', 'cards: cards compromised each day, for 14 days (default 3)', int('compromised customers'))
    .option('--delay <days>', 'cards: median delay of fraud reports, in days, within 1..14 (default 3)', positive('delay'))
    .action(generate);

  addProduceCommand(program);
  addKafkaLocalCommand(program);

  program
    .command('eval-nab')
    .description(
      'Replay every series of a NAB-style corpus (DIR/data/<category>/<series>.csv, DIR/labels/combined_windows.json) through an anomaly config; ' +
        'writes OUT/<category>/<series>.csv (timestamp,value,anomaly_score,alert, one line per input row) and prints the NAB scores (standard, reward_low_FP, reward_low_FN) ' +
        'and the rows, alerts and late rows (behind the watermark: scored 0) of each series.',
    )
    .requiredOption('--data <dir>', 'corpus folder laid out as NAB')
    .requiredOption('--out <dir>', 'where to write the per-series results')
    .option('-c, --config <file>', 'anomaly config (one pipeline keyed by series, reading `timestamp` and `value`)', fileURLToPath(new URL('../../../config/nab.yaml', import.meta.url)))
    .option('--json', 'print one JSON object instead of a table')
    .action(async (opts: { data: string; out: string; config: string; json?: boolean }) => {
      const loaded = load(opts.config);
      const report = await evalNab({
        data: opts.data,
        out: opts.out,
        loaded,
        onSeries: opts.json ? undefined : (s) => process.stderr.write(`${s.id}: ${s.rows} rows, ${s.alerts} alerts, ${s.lateRows} late rows\n`),
      });
      if (opts.json) {
        const json = { ...report, standard: report.scores.standard.score, reward_low_FP: report.scores.reward_low_FP.score, reward_low_FN: report.scores.reward_low_FN.score };
        await writeAll(process.stdout, `${JSON.stringify(json)}\n`);
        return;
      }
      await writeAll(process.stdout, formatNabReport(report, loaded.version));
    });

  program
    .command('eval-fraud')
    .description("Replay a config's generator source with several seeds and score its alerts against the generator's labels: recall per typology, precision per detector.")
    .option('-c, --config <file>', 'fraud rules over a generator source', fileURLToPath(new URL('../../../config/payments.yaml', import.meta.url)))
    .option('--seeds <list>', 'comma-separated seeds', '1,2,3')
    .option('--events <n>', 'events per seed (default: the source\'s)', int('events', 1))
    .option('--json', 'print one JSON object instead of tables')
    .action(async (opts: { config: string; seeds: string; events?: number; json?: boolean }) => {
      const seeds = opts.seeds.split(',').map((s) => Number(s.trim()));
      if (seeds.some((s) => !Number.isInteger(s))) throw new InvalidArgumentError('--seeds must be integers separated by commas');
      const report = await evalFraud({ loaded: load(opts.config), seeds, events: opts.events });
      await writeAll(process.stdout, opts.json ? `${JSON.stringify(report)}\n` : formatFraudReport(report));
      if (!report.pass) process.exitCode = EXIT_FAILURE;
    });

  addEvalScoringCommand(program, load, EXIT_INVALID);
  addConsoleCommand(program, load, cliLogger);

  program
    .command('schema')
    .description('Print the JSON Schema of config files, generated from the config schemas (npm run docs writes it to config/vigie.schema.json).')
    .action(async () => {
      await writeAll(process.stdout, configJsonSchemaText());
    });

  program
    .command('docs')
    .description('Print the Markdown reference of every config option, generated from the config schemas (npm run docs writes it to docs/config-reference.md).')
    .action(async () => {
      await writeAll(process.stdout, configReference());
    });

  return program;
}

buildCli()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    // Every failure is shown as its code, message and remedy; a stack only at debug level (it helps a bug report, not a user).
    const { code, message, remedy } = describeError(err);
    process.stderr.write(`vigie: ${code}: ${message}\n  remedy: ${remedy}\n`);
    const level = process.env.VIGIE_LOG_LEVEL;
    if ((level === 'debug' || level === 'trace') && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exit(EXIT_FAILURE);
  });
