/**
 * The parts of a pipeline (window operator, detectors) built from its config. The engine builds its
 * pipelines with this, and validation builds every pipeline once with it too: whatever a part refuses
 * when it is built is then a config problem reported by `vigie validate`, never a failure at start.
 */
import { createAggregates } from '../../operators/aggregates/index.js';
import { createWindow } from '../../operators/index.js';
import type { WindowCore } from '../../operators/types.js';
import { createCore } from '../../detectors/index.js';
import { DetectorSet, type RuntimeContext } from '../../detectors/runtime.js';
import { windowHash, type PipelineConfig } from './pipeline.js';
import type { TableLookup } from '../sources/tables/index.js';
import type { JudgementBoard } from '../../detectors/board.js';

/** What building a pipeline needs besides its config. */
export interface BuildDeps {
  configVersion: string;
  /** Time of detection for something emitted at watermark `w` (processing time live; `w` in replay). */
  detectionTime(w: number): number;
  /** The run's reference tables by name, for `enrich` (absent when validating: lookups then find nothing). */
  tables?: ReadonlyMap<string, TableLookup>;
  /** What the pipelines of a task read of each other's judgements (model features naming a `pipeline`). */
  board?: JudgementBoard;
  /** false when no sink takes the `scores` output (see RuntimeContext). */
  publishScores?: boolean;
}

export interface PipelineParts {
  /** Undefined for a pipeline without a window. */
  window: WindowCore | undefined;
  detectors: DetectorSet;
}

/** A part of a pipeline that could not be built: where in the pipeline's config, and why. */
export class PipelineBuildError extends Error {
  constructor(
    readonly path: PropertyKey[],
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'PipelineBuildError';
  }
}

function part<T>(path: () => PropertyKey[], build: () => T): T {
  try {
    return build();
  } catch (err) {
    throw new PipelineBuildError(path(), err);
  }
}

/** Build a pipeline's parts; `reuseWindow` is a window core kept by a hot reload instead of a new one. */
export function buildPipeline(config: PipelineConfig, deps: BuildDeps, reuseWindow?: WindowCore): PipelineParts {
  const keyFields = Array.isArray(config.key) ? config.key : [config.key];
  const aggregates = part(() => ['aggregates'], () => createAggregates(config.aggregates));
  const win = config.window;
  const window = reuseWindow ?? (win === undefined ? undefined : part(() => ['window'], () => createWindow(win, { pipeline: config.name, aggregates, evidenceLimit: config.evidenceLimit })));
  const shown = config.alertFields === undefined ? undefined : new Set(config.alertFields);
  const ctx: RuntimeContext = {
    pipeline: config.name,
    keyLabel: keyFields.join('|'),
    aggregates: aggregates.map((a) => a.name),
    windowType: config.window?.type ?? 'none',
    evidenceLimit: config.evidenceLimit,
    maxPending: config.maxPendingEvents,
    mayShow: shown === undefined ? () => true : (field: string) => shown.has(field),
    configVersion: deps.configVersion,
    detectionTime: deps.detectionTime,
    ...(deps.tables ? { tables: deps.tables } : {}),
    ...(deps.board ? { board: deps.board } : {}),
    publishScores: deps.publishScores,
    // Event (and signal) detectors hold state per key; result detectors also depend on the window.
    stateScope: { event: JSON.stringify(keyFields), signal: JSON.stringify(keyFields), result: windowHash(config) },
  };
  // The set fails as a whole: the detector to blame is the first that fails on its own, if any.
  const blame = (): PropertyKey[] => {
    const j = config.detectors.findIndex((d) => {
      try {
        createCore(d, ctx);
        return false;
      } catch {
        return true;
      }
    });
    return j < 0 ? ['detectors'] : ['detectors', j];
  };
  const detectors = part(blame, () => new DetectorSet(config.detectors, ctx));
  return { window, detectors };
}
