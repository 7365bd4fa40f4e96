import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { AnomalyCore, DEFAULT_ANOMALY_SETTINGS, type AnomalyOutput } from '../../detectors/anomaly-core.js';
import { PROFILES, loadNabLabels, parseNabCsv, scoreCorpus, type NabSeries } from '../../src/eval/nab-score.js';
import { mulberry32 as rng } from '../helpers/rng.js';

// The development data ships beside the repository (../shared); VIGIE_NAB_DATA points elsewhere.
const NAB = process.env.VIGIE_NAB_DATA ?? fileURLToPath(new URL('../../../shared/data/nab', import.meta.url));

/** Sine (period 100 rows) plus Gaussian noise, optionally with spikes added at given rows. */
function sineNoise(n: number, seed: number, spikes: Record<number, number> = {}): number[] {
  const r = rng(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const g = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    out.push(10 + 2 * Math.sin((2 * Math.PI * i) / 100) + 0.2 * g + (spikes[i] ?? 0));
  }
  return out;
}

const T0 = Date.UTC(2024, 0, 1);
const STEP = 5 * 60_000;

function runAll(core: AnomalyCore, values: number[], from = 0): AnomalyOutput[] {
  const out: AnomalyOutput[] = [];
  for (let i = from; i < values.length; i++) out.push(core.update(T0 + i * STEP, values[i]));
  return out;
}

const alertRows = (outs: AnomalyOutput[], offset = 0): number[] =>
  outs.flatMap((o, i) => (o.alert ? [i + offset] : []));

describe('AnomalyCore', () => {
  it('is deterministic: the same input twice gives identical outputs', () => {
    const values = sineNoise(3000, 1, { 2000: 4, 2500: -3 });
    const a = runAll(new AnomalyCore(), values);
    const b = runAll(new AnomalyCore(), values);
    expect(b).toStrictEqual(a);
    expect(a.every((o) => o.score >= 0 && o.score <= 1)).toBe(true);
  });

  for (const [name, roundTrip] of [
    ['JSON', (x: unknown): unknown => JSON.parse(JSON.stringify(x))],
    ['msgpackr', (x: unknown): unknown => unpack(pack(x))],
  ] as const) {
    it(`continues bit for bit after a ${name} snapshot/restore`, () => {
      const values = sineNoise(4000, 2, { 2600: 5, 3300: -4, 3700: 6 });
      values[1900] = NaN;
      const cut = 2345;
      const whole = new AnomalyCore();
      const expected = runAll(whole, values);

      const first = new AnomalyCore();
      runAll(first, values.slice(0, cut));
      const snap = roundTrip(first.snapshot());
      const second = new AnomalyCore();
      second.restore(snap);
      expect(second.rows).toBe(first.rows);
      expect(second.snapshot()).toStrictEqual(first.snapshot());
      const rest = runAll(second, values, cut);
      expect(rest).toStrictEqual(expected.slice(cut));
      expect(alertRows(rest, cut).length).toBeGreaterThan(0);
    });
  }

  it('keeps its state bounded', () => {
    const core = new AnomalyCore();
    const values = sineNoise(12_000, 3);
    runAll(core, values.slice(0, 6000));
    const size6k = JSON.stringify(core.snapshot()).length;
    runAll(core, values, 6000);
    const size12k = JSON.stringify(core.snapshot()).length;
    expect(size12k).toBeLessThan(size6k * 1.1);
  });

  it('raises no alert during the warm-up', () => {
    const spikes: Record<number, number> = {};
    for (let i = 20; i < DEFAULT_ANOMALY_SETTINGS.warmupRows; i += 13) spikes[i] = 10 + i;
    const outs = runAll(new AnomalyCore(), sineNoise(400, 4, spikes));
    expect(alertRows(outs).filter((i) => i < DEFAULT_ANOMALY_SETTINGS.warmupRows)).toEqual([]);
    // The same spike after the warm-up does alert.
    const late = runAll(new AnomalyCore(), sineNoise(400, 4, { 300: 10 }));
    expect(alertRows(late)).toContain(300);
  });

  it('suppresses new alerts for suppressRows rows after an alert', () => {
    const settings = { suppressRows: 100, gateRatio: 0 };
    const close = runAll(new AnomalyCore(settings), sineNoise(1200, 5, { 600: 6, 650: 12 }));
    expect(alertRows(close).filter((i) => i >= 600)).toEqual([600]);
    expect(close[650].score).toBeGreaterThan(0.5); // it is anomalous, only not alerted
    const apart = runAll(new AnomalyCore(settings), sineNoise(1200, 5, { 600: 6, 750: 12 }));
    expect(alertRows(apart).filter((i) => i >= 600)).toEqual([600, 750]);
  });

  it('detects a clear spike on sine + noise near its position, and stays quiet on a clean series', () => {
    const spiky = runAll(new AnomalyCore(), sineNoise(3000, 6, { 2000: 3 }));
    const hits = alertRows(spiky);
    expect(hits.some((i) => i >= 2000 && i <= 2005)).toBe(true);
    expect(hits.filter((i) => i < 2000 || i > 2005).length).toBeLessThanOrEqual(2);
    expect(['spike', 'context', 'level_shift', 'pattern']).toContain(spiky[hits.find((i) => i >= 2000)!].reason);
    expect(spiky[2000].expected).toBeGreaterThan(7);
    expect(spiky[2000].expected).toBeLessThan(13);

    for (const seed of [7, 8, 9]) {
      const clean = alertRows(runAll(new AnomalyCore(), sineNoise(3000, seed)));
      expect(clean.length).toBeLessThanOrEqual(2);
    }
  });

  it("does not let an alarm's own episode raise the bar for the next event (gateSkipRows)", () => {
    // A large spike, then a smaller one 120 rows later: the rows right after the first alarm carry high
    // surprises (the contexts still hold the spike); counted in the gate, they hide the second spike.
    const values = sineNoise(3000, 5, { 2000: 8, 2120: 5 });
    const rows = (gateSkipRows: number) => alertRows(runAll(new AnomalyCore({ gateSkipRows }), values));
    expect(rows(0)).toEqual([2000]);
    expect(rows(DEFAULT_ANOMALY_SETTINGS.gateSkipRows)).toEqual([2000, 2120]);
  });

  it('restores a snapshot taken before gateSkipRows existed, and continues as a fresh snapshot would', () => {
    const values = sineNoise(2600, 6, { 2300: 5 });
    const first = new AnomalyCore();
    runAll(first, values.slice(0, 1800));
    const snap = first.snapshot() as { settings: Record<string, unknown> };
    const old = { ...snap, settings: { ...snap.settings } };
    delete old.settings.gateSkipRows;
    const a = new AnomalyCore();
    a.restore(old);
    const b = new AnomalyCore();
    b.restore(snap);
    expect(runAll(a, values, 1800)).toStrictEqual(runAll(b, values, 1800));
    // Any other setting missing or different is still refused.
    const bad = { ...snap, settings: { ...snap.settings } };
    delete bad.settings.historyRows;
    expect(() => new AnomalyCore().restore(bad)).toThrow(/historyRows/);
  });

  it('ignores non-finite values: score 0, no alert, state untouched', () => {
    const values = sineNoise(1500, 10, { 1200: 5 });
    const withGaps: number[] = [];
    const isGap: boolean[] = [];
    values.forEach((v, i) => {
      if (i % 97 === 5) {
        withGaps.push(i % 2 ? NaN : Infinity);
        isGap.push(true);
      }
      withGaps.push(v);
      isGap.push(false);
    });
    const ref = runAll(new AnomalyCore(), values);
    const core = new AnomalyCore();
    const outs = runAll(core, withGaps);
    const gaps = outs.filter((_, i) => isGap[i]);
    expect(gaps.length).toBeGreaterThan(10);
    for (const o of gaps) {
      expect(o.score).toBe(0);
      expect(o.alert).toBe(false);
      expect(o.reason).toBe('invalid');
    }
    expect(outs.filter((_, i) => !isGap[i])).toStrictEqual(ref);
    expect(core.rows).toBe(values.length);
    expect(JSON.stringify(core.snapshot())).not.toContain('null');
  });

  it('rejects bad settings and bad restore input with clear errors', () => {
    expect(() => new AnomalyCore({ historyRows: 0 })).toThrow(/historyRows/);
    expect(() => new AnomalyCore({ alertProbability: NaN })).toThrow(/alertProbability/);
    expect(() => new AnomalyCore({ contextScales: [1, 0] })).toThrow(/contextScales/);

    const core = new AnomalyCore();
    runAll(core, sineNoise(800, 11));
    const good = JSON.parse(JSON.stringify(core.snapshot())) as Record<string, unknown>;
    const fresh = (): AnomalyCore => new AnomalyCore();
    const bad = (patch: Record<string, unknown>): unknown => ({ ...good, ...patch });

    expect(() => fresh().restore(null)).toThrow(/snapshot object/);
    expect(() => fresh().restore([1, 2])).toThrow(/snapshot object/);
    expect(() => fresh().restore({})).toThrow(/anomaly-core snapshot/);
    expect(() => fresh().restore(bad({ version: 99 }))).toThrow(/version/);
    expect(() => fresh().restore(bad({ rows: -1 }))).toThrow(/rows/);
    expect(() => fresh().restore(bad({ rows: 'many' }))).toThrow(/rows/);
    expect(() => fresh().restore(bad({ gate: null }))).toThrow(/gate/);
    expect(() => fresh().restore(bad({ values: (good.values as number[]).slice(1) }))).toThrow(/values/);
    expect(() => fresh().restore(bad({ values: [...(good.values as number[]).slice(1), null] }))).toThrow(/values/);
    expect(() => fresh().restore(bad({ histories: [] }))).toThrow(/histories/);
    expect(() => fresh().restore(bad({ lastAlert: 10_000 }))).toThrow(/lastAlert/);
    expect(() => fresh().restore(bad({ settings: { ...(good.settings as object), suppressRows: 7 } }))).toThrow(/suppressRows/);
    expect(() => new AnomalyCore({ suppressRows: 7 }).restore(good)).toThrow(/suppressRows/);

    // A failed restore leaves the core usable, and a good one still works.
    const target = fresh();
    expect(() => target.restore(bad({ histories: 'x' }))).toThrow();
    target.restore(good);
    expect(target.rows).toBe(800);
  });

  it.skipIf(!existsSync(join(NAB, 'labels', 'combined_windows.json')))(
    'scores above 70 on the NAB development corpus (standard profile)',
    () => {
      const labels = loadNabLabels(readFileSync(join(NAB, 'labels', 'combined_windows.json'), 'utf8'));
      const series: NabSeries[] = [];
      const t0 = performance.now();
      for (const key of Object.keys(labels).sort()) {
        const { timestamps, values } = parseNabCsv(readFileSync(join(NAB, 'data', key), 'utf8'));
        const core = new AnomalyCore();
        const detections = values.map((v, i) => core.update(timestamps[i], v).alert);
        series.push({ timestamps, detections, windows: labels[key] });
      }
      const seconds = (performance.now() - t0) / 1000;
      const scores = Object.fromEntries(
        Object.entries(PROFILES).map(([name, profile]) => [name, scoreCorpus(series, profile).score]),
      );
      console.log(
        `NAB dev corpus (${series.length} series, ${seconds.toFixed(1)} s): ` +
          Object.entries(scores)
            .map(([k, v]) => `${k} ${v.toFixed(2)}`)
            .join(', '),
      );
      expect(series.length).toBe(36);
      expect(scores.standard).toBeGreaterThan(70);
    },
    60_000,
  );
});
