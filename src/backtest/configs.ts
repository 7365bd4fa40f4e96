/** What the backtest reads from loaded configs (alerting detectors, threshold bounds, shared sources) and a config's replay form. */
import type { LoadedConfig } from '../config/load.js';
import { VigieError } from '../errors.js';

/** Threshold detectors' bounds, by detector name: what the report marks on value distributions. */
export function thresholdsOf(loaded: LoadedConfig): Map<string, { aggregate: string; op: string; value: number; minCount: number; pipeline: string }> {
  const out = new Map<string, { aggregate: string; op: string; value: number; minCount: number; pipeline: string }>();
  for (const p of loaded.config.pipelines) {
    for (const d of p.detectors) {
      if (d.type !== 'threshold' || d.emit === false) continue;
      const t = d as unknown as { aggregate: string; op: string; value: number; minCount?: number };
      out.set(d.name, { aggregate: t.aggregate, op: t.op, value: t.value, minCount: t.minCount ?? 0, pipeline: p.name });
    }
  }
  return out;
}

/** Detectors of a config that raise alerts (emit: false ones only feed others), in config order. */
export function alertingDetectors(loaded: LoadedConfig): string[] {
  return loaded.config.pipelines.flatMap((p) => p.detectors.filter((d) => d.emit !== false).map((d) => d.name));
}

/** B runs over A's sources: B's pipelines may only name sources A defines. */
export function checkSameSources(a: LoadedConfig, b: LoadedConfig): void {
  const names = new Set(a.config.sources.map((s) => s.name));
  const problems: string[] = [];
  for (const p of b.config.pipelines) {
    for (const s of p.sources ?? []) {
      if (!names.has(s)) problems.push(`pipeline "${p.name}" reads source "${s}"`);
    }
  }
  if (problems.length > 0) {
    throw new VigieError(
      'VIGIE_ERR_USAGE',
      `--compare: ${b.file} runs over the sources of ${a.file}, which defines ${[...names].map((n) => `"${n}"`).join(', ')}; but ${problems.join(', ')}. ` +
        'Rename the sources in B to match A (B\'s own sources section is ignored).',
    );
  }
}

/** A replay never reads or writes partition checkpoints (its sources are not partition-scoped anyway). */
export function forReplay(loaded: LoadedConfig): LoadedConfig {
  return { ...loaded, config: { ...loaded.config, state: { ...loaded.config.state, store: 'none' } } };
}
