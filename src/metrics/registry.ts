/**
 * The engine's Prometheus metrics, on a registry of their own (never prom-client's global one, so
 * two engines in one process, or two tests, do not share counters).
 *
 * Conventions: `vigie_` prefix, base units (seconds), `_total` for counters, and labels drawn only
 * from bounded sets named in the configuration (source, pipeline, detector, sink names, severities,
 * dead-letter reasons). Never a key, an event id or an alert id: each value is a new time series.
 * Callers update once per batch with the batch's totals; nothing here is meant for per-event calls.
 *
 * Example:
 * ```ts
 * const metrics = new EngineMetrics();
 * metrics.eventsIn.inc({ source: 'orders' }, batch.inputs.get('orders') ?? 0);
 * const body = await metrics.text();
 * ```
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DEAD_LETTER_REASONS, SEVERITIES } from '../types.js';

/** Event time -> alert: sub-second for eager detectors, up to a long window plus grace. */
export const DETECTION_LATENCY_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
/** Batch processing: a batch should take milliseconds; seconds means trouble. */
export const BATCH_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Events per batch: from single events (low traffic) to large catch-up batches. */
export const BATCH_EVENTS_BUCKETS = [1, 5, 10, 50, 100, 500, 1000, 5000, 10000, 50000, 100000];
/** Sink write: local file writes to remote acknowledgements with retries. */
export const SINK_WRITE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface EngineMetricsOptions {
  /** Also collect Node.js process metrics (CPU, memory, event loop, GC) as `vigie_*`. Default true. */
  defaultMetrics?: boolean;
}

/** Label sets to pre-create at zero, so `rate()` and absence alerts work before the first event. */
export interface DeclaredLabels {
  sources?: readonly string[];
  pipelines?: readonly string[];
  detectors?: readonly string[];
  sinks?: readonly { name: string; outputs: readonly string[] }[];
}

/** Every Vigie metric as a typed field, on a private registry. */
export class EngineMetrics {
  readonly registry: Registry;

  readonly eventsIn: Counter<'source'>;
  readonly eventsProcessed: Counter<'pipeline'>;
  readonly eventsDeadLettered: Counter<'source' | 'reason'>;
  /** Events dropped as redeliveries of an already-seen id (sources with `dedup`); never dead-lettered. */
  readonly eventsDuplicate: Counter<'source'>;
  readonly eventsLate: Counter<'pipeline'>;
  /** Records and watermark markers produced to repartition topics, per topic and kind (record, marker). */
  readonly repartitionProduced: Counter<'topic' | 'kind'>;
  /** Records of repartition topics dropped as redeliveries of an upstream offset already seen, per topic. */
  readonly repartitionRedeliveries: Counter<'topic'>;
  /** Time from an event's upstream processing (its repartition record's timestamp) to its downstream ingestion, seconds. */
  readonly repartitionHop: Histogram<'topic'>;
  readonly eventsFiltered: Counter<'pipeline'>;
  readonly eventsSkipped: Counter<'pipeline'>;

  /** Pipeline watermark, unix seconds. */
  readonly watermark: Gauge;
  /** Processing time minus watermark, seconds. */
  readonly watermarkLag: Gauge;
  /** Processing time minus the highest event time seen, seconds. */
  readonly eventTimeLag: Gauge;

  readonly openWindows: Gauge<'pipeline'>;
  readonly stateKeys: Gauge<'pipeline'>;
  readonly windowResults: Counter<'pipeline' | 'kind'>;
  readonly windowEvictions: Counter<'pipeline'>;
  readonly eventsReleasedEarly: Counter<'pipeline'>;

  readonly alerts: Counter<'detector' | 'severity'>;
  readonly alertsSuppressed: Counter<'pipeline' | 'detector'>;
  readonly shadowAlerts: Counter<'detector' | 'severity'>;
  readonly shadowOverlap: Counter<'detector'>;
  readonly detectorSignals: Counter<'pipeline' | 'detector'>;
  readonly detectorUnmet: Counter<'pipeline' | 'detector'>;
  readonly detectorKeys: Gauge<'pipeline' | 'detector'>;
  readonly detectorEvictions: Counter<'pipeline' | 'detector'>;
  readonly detectionLatency: Histogram<'detector'>;
  readonly deliveryLatency: Histogram<'detector'>;

  readonly batchDuration: Histogram;
  readonly batchEvents: Histogram;

  readonly sinkWrites: Counter<'sink'>;
  readonly sinkWriteErrors: Counter<'sink'>;
  readonly sinkRecords: Counter<'sink' | 'output'>;
  readonly sinkWriteDuration: Histogram<'sink'>;
  readonly sinkRetries: Counter<'sink'>;
  readonly sinkBufferFill: Gauge<'sink'>;
  readonly sinkUp: Gauge<'sink'>;

  readonly inflightBatches: Gauge;
  readonly checkpointBytes: Histogram;
  readonly checkpointDuration: Histogram;
  readonly checkpointFailures: Counter;
  readonly restoreDuration: Histogram;
  readonly consumerLag: Gauge<'source' | 'topic' | 'partition'>;
  /** Records checkpointed (so committable) but not yet committed to the consumer group, per partition. */
  readonly uncommittedRecords: Gauge<'source' | 'topic' | 'partition'>;
  readonly rebalances: Counter<'source'>;
  readonly rebalanceDuration: Histogram<'source'>;
  readonly sourceBufferFill: Gauge<'source'>;
  /** 1 while a source can read, 0 while it cannot (its broker is unreachable); sources that report their health only. */
  readonly sourceUp: Gauge<'source'>;
  /** Always 1, labelled with the running configuration's hash. Set through {@link setConfigVersion}. */
  readonly configInfo: Gauge<'version'>;
  /** Hot reloads asked for, per mechanism (signal, file, redis, api) and outcome (applied, rejected, unchanged). */
  readonly configReloads: Counter<'mechanism' | 'outcome'>;
  /** Reference tables: keys held, last successful load, failed reloads, bad rows skipped, versions or keys dropped by the bounds. */
  readonly tableRows: Gauge<'table'>;
  readonly tableLoadedAt: Gauge<'table'>;
  readonly tableReloadFailures: Counter<'table'>;
  readonly tableBadRows: Counter<'table'>;
  readonly tableDropped: Counter<'table'>;
  /** Enrichment lookups per pipeline and table: outcome hit (a row was found) or miss. */
  readonly enrichLookups: Counter<'pipeline' | 'table' | 'outcome'>;

  constructor(opts: EngineMetricsOptions | boolean = {}) {
    const defaults = typeof opts === 'boolean' ? opts : (opts.defaultMetrics ?? true);
    this.registry = new Registry();
    const registers = [this.registry];

    this.eventsIn = new Counter({
      name: 'vigie_events_in_total',
      help: 'Raw inputs read, per source (events + dead-lettered + duplicates).',
      labelNames: ['source'],
      registers,
    });
    this.eventsProcessed = new Counter({
      name: 'vigie_events_processed_total',
      help: 'Valid events processed, per pipeline.',
      labelNames: ['pipeline'],
      registers,
    });
    this.eventsDeadLettered = new Counter({
      name: 'vigie_events_dead_lettered_total',
      help: `Inputs dead-lettered, per source and reason (${DEAD_LETTER_REASONS.join(', ')}).`,
      labelNames: ['source', 'reason'],
      registers,
    });
    this.eventsDuplicate = new Counter({
      name: 'vigie_events_duplicate_total',
      help: 'Events dropped as duplicates (an id already seen within the dedup horizon), per source.',
      labelNames: ['source'],
      registers,
    });
    this.repartitionProduced = new Counter({
      name: 'vigie_repartition_produced_total',
      help: 'Records (kind=record) and watermark markers (kind=marker) produced to repartition topics and acknowledged, per topic. Records read back count in vigie_events_in_total of the repartition source.',
      labelNames: ['topic', 'kind'],
      registers,
    });
    this.repartitionRedeliveries = new Counter({
      name: 'vigie_repartition_redeliveries_total',
      help: 'Records of repartition topics dropped because their upstream offset was already seen (produced again after an upstream restart), per topic.',
      labelNames: ['topic'],
      registers,
    });
    this.repartitionHop = new Histogram({
      name: 'vigie_repartition_hop_seconds',
      help: 'Time from the upstream processing of an event (the timestamp of its repartition record) to its ingestion downstream, per repartition topic.',
      labelNames: ['topic'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30],
      registers,
    });
    this.eventsLate = new Counter({
      name: 'vigie_events_late_total',
      help: 'Events arriving after their window closed (past allowed lateness), per pipeline.',
      labelNames: ['pipeline'],
      registers,
    });
    this.eventsFiltered = new Counter({
      name: 'vigie_events_filtered_total',
      help: 'Events dropped by a pipeline filter, per pipeline.',
      labelNames: ['pipeline'],
      registers,
    });
    this.eventsSkipped = new Counter({
      name: 'vigie_events_skipped_total',
      help: 'Events a pipeline left out because they lack a field its `missing` policy says to skip, per pipeline (not dead-lettered).',
      labelNames: ['pipeline'],
      registers,
    });

    this.watermark = new Gauge({
      name: 'vigie_watermark_seconds',
      help: 'Pipeline watermark (event time up to which input is considered complete), unix seconds.',
      registers,
    });
    this.watermarkLag = new Gauge({
      name: 'vigie_watermark_lag_seconds',
      help: 'Processing time minus watermark, seconds.',
      registers,
    });
    this.eventTimeLag = new Gauge({
      name: 'vigie_event_time_lag_seconds',
      help: 'Processing time minus the highest event time seen, seconds.',
      registers,
    });

    this.openWindows = new Gauge({
      name: 'vigie_open_windows',
      help: 'Windows currently open (awaiting watermark), per pipeline.',
      labelNames: ['pipeline'],
      registers,
    });
    this.stateKeys = new Gauge({
      name: 'vigie_state_keys',
      help: 'Keys with state held in memory, per pipeline.',
      labelNames: ['pipeline'],
      registers,
    });
    this.windowResults = new Counter({
      name: 'vigie_window_results_total',
      help: 'Window results emitted, per pipeline and kind (final, update).',
      labelNames: ['pipeline', 'kind'],
      registers,
    });

    this.alerts = new Counter({
      name: 'vigie_alerts_total',
      help: 'Alerts emitted, per detector and severity.',
      labelNames: ['detector', 'severity'],
      registers,
    });
    this.shadowAlerts = new Counter({
      name: 'vigie_shadow_alerts_total',
      help: 'Alerts of detectors in shadow mode (delivered on the shadow output only), per detector and severity.',
      labelNames: ['detector', 'severity'],
      registers,
    });
    this.shadowOverlap = new Counter({
      name: 'vigie_shadow_alerts_overlapping_total',
      help: 'Shadow alerts whose pipeline and key also had a live alert within an hour (event time) before them, per shadow detector.',
      labelNames: ['detector'],
      registers,
    });
    this.alertsSuppressed = new Counter({
      name: 'vigie_alerts_suppressed_total',
      help: 'Repeats of an alert suppressed by its detector cooldown, per pipeline and detector.',
      labelNames: ['pipeline', 'detector'],
      registers,
    });
    this.detectorSignals = new Counter({
      name: 'vigie_detector_signals_total',
      help: 'Situations a detector found (before conditions and cooldown), per pipeline and detector.',
      labelNames: ['pipeline', 'detector'],
      registers,
    });
    this.detectorUnmet = new Counter({
      name: 'vigie_detector_conditions_unmet_total',
      help: 'Signals dropped because the detectors they require had not signalled, per pipeline and detector.',
      labelNames: ['pipeline', 'detector'],
      registers,
    });
    this.detectorKeys = new Gauge({
      name: 'vigie_detector_state_keys',
      help: 'Keys whose state a detector holds, per pipeline and detector.',
      labelNames: ['pipeline', 'detector'],
      registers,
    });
    this.windowEvictions = new Counter({
      name: 'vigie_window_evictions_total',
      help: 'Keys a window operator evicted (open windows dropped) because it reached its maxKeys, per pipeline.',
      labelNames: ['pipeline'],
      registers,
    });
    this.eventsReleasedEarly = new Counter({
      name: 'vigie_events_released_early_total',
      help: 'Events handed to event detectors before the watermark passed them, because more than maxPendingEvents were waiting, per pipeline.',
      labelNames: ['pipeline'],
      registers,
    });
    this.detectorEvictions = new Counter({
      name: 'vigie_detector_evictions_total',
      help: 'Keys a detector evicted because it reached its maxKeys, per pipeline and detector.',
      labelNames: ['pipeline', 'detector'],
      registers,
    });
    this.detectionLatency = new Histogram({
      name: 'vigie_detection_latency_seconds',
      help: 'Time from the event time of the situation to the alert being emitted, per detector, seconds.',
      labelNames: ['detector'],
      buckets: DETECTION_LATENCY_BUCKETS,
      registers,
    });
    this.deliveryLatency = new Histogram({
      name: 'vigie_alert_delivery_latency_seconds',
      help: 'Time from the ingestion of the batch that raised an alert to every acknowledging sink holding it durably, per detector, seconds.',
      labelNames: ['detector'],
      buckets: SINK_WRITE_BUCKETS,
      registers,
    });
    this.sinkRetries = new Counter({
      name: 'vigie_sink_retries_total',
      help: 'Write attempts a sink repeated after a failure (outage, timeout), per sink.',
      labelNames: ['sink'],
      registers,
    });
    this.sinkBufferFill = new Gauge({
      name: 'vigie_sink_buffer_fill_ratio',
      help: 'Share of a sink\'s bounded buffer of pending writes in use (1: full, the engine is held back), per sink.',
      labelNames: ['sink'],
      registers,
    });
    this.sinkUp = new Gauge({
      name: 'vigie_sink_up',
      help: '1 while a sink can write, 0 while it is failing (retrying), per sink.',
      labelNames: ['sink'],
      registers,
    });

    this.batchDuration = new Histogram({
      name: 'vigie_batch_duration_seconds',
      help: 'Processing time of one batch through the engine, seconds.',
      buckets: BATCH_DURATION_BUCKETS,
      registers,
    });
    this.batchEvents = new Histogram({
      name: 'vigie_batch_events',
      help: 'Events per batch.',
      buckets: BATCH_EVENTS_BUCKETS,
      registers,
    });

    this.sinkWrites = new Counter({
      name: 'vigie_sink_writes_total',
      help: 'Batch writes attempted, per sink.',
      labelNames: ['sink'],
      registers,
    });
    this.sinkWriteErrors = new Counter({
      name: 'vigie_sink_write_errors_total',
      help: 'Batch writes that failed, per sink.',
      labelNames: ['sink'],
      registers,
    });
    this.sinkRecords = new Counter({
      name: 'vigie_sink_records_total',
      help: 'Records written, per sink and output (alerts, results, deadLetters).',
      labelNames: ['sink', 'output'],
      registers,
    });
    this.sinkWriteDuration = new Histogram({
      name: 'vigie_sink_write_duration_seconds',
      help: 'Duration of one batch write, per sink, seconds.',
      labelNames: ['sink'],
      buckets: SINK_WRITE_BUCKETS,
      registers,
    });

    this.inflightBatches = new Gauge({
      name: 'vigie_inflight_batches',
      help: 'Batches read but not yet acknowledged by every sink.',
      registers,
    });
    this.checkpointBytes = new Histogram({
      name: 'vigie_checkpoint_bytes',
      help: 'Size of each partition checkpoint written.',
      buckets: [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216],
      registers,
    });
    this.checkpointDuration = new Histogram({
      name: 'vigie_checkpoint_duration_seconds',
      help: 'Time to write a partition checkpoint.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.checkpointFailures = new Counter({
      name: 'vigie_checkpoint_failures_total',
      help: 'Partition checkpoints that could not be written (the store was unreachable); their input is not committed and the next checkpoint is a full one.',
      registers,
    });
    this.restoreDuration = new Histogram({
      name: 'vigie_restore_duration_seconds',
      help: 'Time to load and restore a partition checkpoint on assignment.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    this.uncommittedRecords = new Gauge({
      name: 'vigie_uncommitted_records',
      help:
        "Records covered by a written checkpoint whose offsets the consumer group has not accepted yet, per assigned partition: Kafka's own lag counts them, vigie_consumer_lag_records does not. " +
        'Non-zero for long: commits are being refused (rebalances) or the cluster is unreachable.',
      labelNames: ['source', 'topic', 'partition'],
      registers,
    });
    this.consumerLag = new Gauge({
      name: 'vigie_consumer_lag_records',
      help: 'Records between the last processed offset and the end of each assigned partition (partitions are a bounded set).',
      labelNames: ['source', 'topic', 'partition'],
      registers,
    });
    this.rebalances = new Counter({
      name: 'vigie_rebalances_total',
      help: 'Consumer group rebalances this instance took part in.',
      labelNames: ['source'],
      registers,
    });
    this.rebalanceDuration = new Histogram({
      name: 'vigie_rebalance_duration_seconds',
      help: 'From the moment this member learnt of a rebalance to its new assignment.',
      labelNames: ['source'],
      buckets: [0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    });
    this.sourceBufferFill = new Gauge({
      name: 'vigie_source_buffer_batches',
      help: 'Batches fetched by a source and waiting for the engine (bounded; the source pauses beyond it).',
      labelNames: ['source'],
      registers,
    });
    this.sourceUp = new Gauge({
      name: 'vigie_source_up',
      help: '1 while a source can read, 0 while it cannot (its broker is unreachable, its client restarting; it retries by itself), per source.',
      labelNames: ['source'],
      registers,
    });
    this.configInfo = new Gauge({
      name: 'vigie_config_info',
      help: 'Always 1; the version label is the hash of the running configuration.',
      labelNames: ['version'],
      registers,
    });

    this.configReloads = new Counter({
      name: 'vigie_config_reloads_total',
      help: 'Config reloads asked for, per mechanism (signal, file, redis, api) and outcome (applied; rejected: invalid, or changing more than pipelines; unchanged: already running).',
      labelNames: ['mechanism', 'outcome'],
      registers,
    });

    this.tableRows = new Gauge({ name: 'vigie_table_rows', help: 'Keys held by a reference table.', labelNames: ['table'], registers });
    this.tableLoadedAt = new Gauge({
      name: 'vigie_table_loaded_timestamp_seconds',
      help: 'When a reference table last loaded (or reloaded, or refreshed) successfully, seconds since the epoch.',
      labelNames: ['table'],
      registers,
    });
    this.tableReloadFailures = new Counter({
      name: 'vigie_table_reload_failures_total',
      help: 'Reloads or refreshes of a reference table that failed; the table kept its previous rows.',
      labelNames: ['table'],
      registers,
    });
    this.tableBadRows = new Counter({ name: 'vigie_table_bad_rows_total', help: 'Rows of a reference table skipped because they were malformed (no key, bad time, wrong type).', labelNames: ['table'], registers });
    this.tableDropped = new Counter({ name: 'vigie_table_dropped_total', help: 'Versions and keys a reference table dropped because of maxVersions or maxRows.', labelNames: ['table'], registers });
    this.enrichLookups = new Counter({
      name: 'vigie_enrich_lookups_total',
      help: 'Enrichment lookups per pipeline and table; outcome hit (a row was valid at the event time) or miss.',
      labelNames: ['pipeline', 'table', 'outcome'],
      registers,
    });

    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'vigie_' });
  }

  /** Record the running configuration; the previous version's series disappears (one at a time). */
  setConfigVersion(version: string): void {
    this.configInfo.reset();
    this.configInfo.set({ version }, 1);
  }

  /** Pre-create the label combinations known from the configuration, at zero. */
  declare(labels: DeclaredLabels): void {
    for (const source of labels.sources ?? []) {
      this.eventsIn.inc({ source }, 0);
      for (const reason of DEAD_LETTER_REASONS) this.eventsDeadLettered.inc({ source, reason }, 0);
      this.eventsDuplicate.inc({ source }, 0);
    }
    for (const pipeline of labels.pipelines ?? []) {
      this.eventsProcessed.inc({ pipeline }, 0);
      this.eventsLate.inc({ pipeline }, 0);
      this.eventsFiltered.inc({ pipeline }, 0);
      this.eventsSkipped.inc({ pipeline }, 0);
    }
    for (const detector of labels.detectors ?? []) {
      for (const severity of SEVERITIES) this.alerts.inc({ detector, severity }, 0);
    }
    for (const { name: sink, outputs } of labels.sinks ?? []) {
      this.sinkWrites.inc({ sink }, 0);
      this.sinkWriteErrors.inc({ sink }, 0);
      for (const output of outputs) this.sinkRecords.inc({ sink, output }, 0);
    }
  }

  /** The exposition text; serve it with `registry.contentType`. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
