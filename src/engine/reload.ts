/** Hot reload: which config changes are accepted, what they keep and restart, and when they are swapped in. */
import type { LoadedConfig } from '../config/load.js';
import { stableJson } from '../util/json.js';
import type { PipelineCore, PipelineDeps } from './pipeline.js';
import { Task } from './task.js';

/** How a hot reload was asked for (a label of `vigie_config_reloads_total` and of the audit log). */
export type ReloadMechanism = 'signal' | 'file' | 'redis' | 'api';

/** Names sorted by what a reload does to their state. */
export interface ReloadChanges {
  /** New: start fresh. */
  added: string[];
  /** Same name, but their config (or, for detectors, the input they read) changed: start fresh. */
  changed: string[];
  /** No longer configured: dropped. */
  removed: string[];
  /** Keep their state. */
  unchanged: string[];
}

/** What {@link Engine.reload} did. */
export interface ReloadResult {
  /** True once the new config runs (the swap happened between two batches). */
  applied: boolean;
  /** The config given is the one already running (or about to): nothing to do. */
  unchanged?: boolean;
  mechanism: ReloadMechanism;
  /** Version of the config given. */
  version: string;
  /** Version running before (still running when not applied). */
  previous: string;
  /** Detectors, by name (names are unique in a config). */
  changes: ReloadChanges;
  /** Pipelines: `changed` means the window part changed (window state restarted); their detectors are judged one by one. */
  pipelines: ReloadChanges;
  /** Why the change was rejected. */
  errors?: string[];
}

/** Top-level sections that a hot reload may not change (`pipelines` may; `reload` settings apply at the next start). */
const RESTART_SECTIONS = ['name', 'time', 'sources', 'tables', 'sinks', 'engine', 'state', 'metrics', 'privacy', 'repartition'] as const;

export const noChanges = (): ReloadChanges => ({ added: [], changed: [], removed: [], unchanged: [] });

/**
 * What replacing the pipelines `before` by `after` keeps, restarts, adds and drops: a pipeline keeps its
 * window state when its window hash is the same, a detector its state when it stays in the same
 * pipeline with the same hash (the rules by which {@link Task.reconfigure} carries state over).
 */
export function classify(before: readonly PipelineCore[], after: readonly PipelineCore[]): Pick<ReloadResult, 'changes' | 'pipelines'> {
  const changes = noChanges();
  const pipelines = noChanges();
  const running = new Map(before.map((p) => [p.name, p]));
  const detectorsBefore = new Map<string, { pipeline: string; hash: string }>();
  for (const p of before) for (const [name, hash] of p.detectors.hashes()) detectorsBefore.set(name, { pipeline: p.name, hash });
  const detectorsAfter = new Set<string>();
  for (const p of after) {
    const old = running.get(p.name);
    (old === undefined ? pipelines.added : old.windowHash === p.windowHash ? pipelines.unchanged : pipelines.changed).push(p.name);
    for (const [name, hash] of p.detectors.hashes()) {
      detectorsAfter.add(name);
      const b = detectorsBefore.get(name);
      (b === undefined ? changes.added : b.pipeline === p.name && b.hash === hash ? changes.unchanged : changes.changed).push(name);
    }
  }
  const names = new Set(after.map((p) => p.name));
  for (const p of before) if (!names.has(p.name)) pipelines.removed.push(p.name);
  for (const name of detectorsBefore.keys()) if (!detectorsAfter.has(name)) changes.removed.push(name);
  return { changes, pipelines };
}

/** What the reload queue needs of the engine. */
export interface ReloadHost {
  /** The config running now. */
  readonly running: LoadedConfig;
  /** The running pipelines (every task has the same). */
  pipelines(): readonly PipelineCore[];
  deps(): PipelineDeps;
  readonly stopped: boolean;
  /** No batch can be in progress (not started, or ended): swap at once. */
  readonly idle: boolean;
  /** Ask for a batch, so that the swap happens even without input. */
  wake(): void;
  /** Run `next` in every task from now on. */
  swap(next: LoadedConfig): void;
  /** `next` runs now, having replaced the pipelines `before` as `result` says. */
  swapped(result: ReloadResult, before: readonly PipelineCore[]): void;
}

/**
 * Reloads accepted and waiting for the next batch: only pipelines may change, and they are swapped in
 * between two batches, for every task at once, never in the middle of one.
 */
export class ReloadQueue {
  private readonly queue: Array<{ next: LoadedConfig; mechanism: ReloadMechanism; resolve: (r: ReloadResult) => void }> = [];

  constructor(private readonly host: ReloadHost) {}

  get pending(): boolean {
    return this.queue.length > 0;
  }

  /**
   * Accept `next` (valid, see loadConfig) or say why not. Window state is kept for pipelines whose
   * window part is unchanged, detector state and cooldowns for detectors whose config and input are
   * unchanged; the rest starts fresh. Resolves once the new config runs (or with the reason it does not).
   */
  request(next: LoadedConfig, mechanism: ReloadMechanism): Promise<ReloadResult> {
    const host = this.host;
    const target = this.queue.length > 0 ? this.queue[this.queue.length - 1].next : host.running;
    const result: ReloadResult = { applied: false, mechanism, version: next.version, previous: host.running.version, changes: noChanges(), pipelines: noChanges() };
    if (next.version === target.version) return Promise.resolve({ ...result, unchanged: true });
    const errors: string[] = [];
    if (host.stopped) errors.push('the engine is stopping');
    for (const section of RESTART_SECTIONS) {
      if (stableJson(next.config[section]) === stableJson(target.config[section])) continue;
      // A fleet config is read again at every start, against the file each instance starts from: a
      // restart alone would meet the same refusal, so say what does apply it.
      errors.push(
        mechanism === 'redis'
          ? `changes to ${section} need a restart (only pipelines can be reloaded), and a restart alone does not apply them: every instance starts from its config file (${host.running.file}), then reads the fleet config; put the same ${section} in that file on every instance and restart them, or store in Redis a config whose ${section} equals the file's`
          : `changes to ${section} need a restart (only pipelines can be reloaded)`,
      );
    }
    // Build the new pipelines once now: what only shows when they are built is rejected here, not mid-stream.
    try {
      const trial = new Task('reload', next.config.pipelines, host.deps(), { maxOutOfOrderness: 0, idleTimeout: 0 }, 0);
      Object.assign(result, classify(host.pipelines(), trial.pipelines));
    } catch (err) {
      errors.push(`pipelines: ${(err as Error).message}`);
    }
    if (errors.length > 0) return Promise.resolve({ ...result, errors });
    return new Promise<ReloadResult>((resolve) => {
      this.queue.push({ next, mechanism, resolve });
      if (host.idle) this.applyAll();
      else host.wake();
    });
  }

  /** Swap in the accepted reloads, in order (between batches). */
  applyAll(): void {
    for (const r of this.queue.splice(0)) {
      const previous = this.host.running.version;
      const before = this.host.pipelines();
      this.host.swap(r.next);
      const result: ReloadResult = { applied: true, mechanism: r.mechanism, version: r.next.version, previous, ...classify(before, this.host.pipelines()) };
      this.host.swapped(result, before);
      r.resolve(result);
    }
  }

  /** The run ended: reloads still waiting are not applied. */
  abandon(): void {
    for (const r of this.queue.splice(0)) {
      r.resolve({
        applied: false,
        mechanism: r.mechanism,
        version: r.next.version,
        previous: this.host.running.version,
        changes: noChanges(),
        pipelines: noChanges(),
        errors: ['the engine stopped before the change could be applied'],
      });
    }
  }
}
