import { VigieError } from '../src/errors.js';
import { SortedWindow } from '../src/util/sorted-window.js';

/**
 * Univariate streaming anomaly detector core: pure, deterministic, bounded state.
 *
 * One value per row goes in, one decision per row comes out. Nothing here does I/O, reads a clock or
 * draws random numbers; the same input sequence always gives the same outputs, and a snapshot restored into
 * a fresh core continues bit for bit.
 *
 * How a row is scored
 * -------------------
 * 1. Raw channels. Each row yields a few non-negative "how unusual" measures, each in the series' own units
 *    (no normalisation is needed, because every channel is only ever compared with its own recent past):
 *    - `spike`: |x - median of the recent values|;
 *    - `level_shift` (one channel per entry of `levelWindows`): |mean of the last w values - recent median|;
 *    - `context` / `pattern` (one channel per entry of `contextScales`): the mean Euclidean distance from the
 *      current sub-sequence to its `neighbours` nearest past sub-sequences (searched over the last
 *      `searchRows` rows, excluding overlapping ones). At scale b the sub-sequence is `contextLength` points of
 *      the b-row moving average, spaced b rows apart, so scale 1 looks at the last few rows and larger scales
 *      at the shape of the last hours or days. Scale 1 is reported as `context`, larger ones as `pattern`.
 * 2. Tail probability per channel. Each channel keeps its last `historyRows` values (a sorted window). The
 *    probability of a value at least as large as the current one is the larger of the empirical frequency and
 *    an exponential tail fitted robustly between the `tailLowQuantile` and `tailHighQuantile` quantiles, so a
 *    value beyond everything seen recently still gets a graded probability (far beyond: very small; a value
 *    that merely ties recurring past extremes: not small).
 * 3. Combination. The smallest channel probability times the number of channels (Bonferroni) is the row's
 *    p-value; its surprise is -log10(p). The output score is surprise / 10 clipped to [0, 1].
 * 4. Decision. An alert needs: past the warm-up (`warmupRows`), at least `suppressRows` rows since the last
 *    alert, p below `alertProbability`, and a surprise at least `gateRatio` times the recent surprise level
 *    (a running maximum of past surprises that decays by `gateDecay` per row). The gate keeps a noisy series,
 *    whose channels break their records often, from alerting on every record: it must beat its own recent
 *    surprises, whereas in a calm series the first strong surprise alerts at once. The surprises of an
 *    alert's row and of the `gateSkipRows` rows after it do not feed the gate: an alarm's own episode says nothing about how
 *    noisy the series usually is, and must not hide the next event.
 *
 * Timestamps are accepted for the API's sake and must be finite, but the decision rule works in rows: the
 * series may be irregular. Non-finite values are skipped (score 0, no alert) and do not touch the state.
 */

export interface AnomalySettings {
  /** No alert before this many (finite) rows have been seen: the statistics are still settling. */
  warmupRows: number;
  /** After an alert, no new alert for this many rows (NAB rewards the earliest detection of an event). */
  suppressRows: number;
  /** Alert when the row's (Bonferroni-adjusted) tail probability is below this. */
  alertProbability: number;
  /**
   * The row's surprise (-log10 p) must also be at least gateRatio times the recent surprise level; 0 turns
   * the gate off.
   */
  gateRatio: number;
  /** Per-row decay factor of the recent surprise level (0.999: it halves in about 700 rows). */
  gateDecay: number;
  /** Cap on the surprise remembered by the gate (keeps the state finite when p underflows to 0). */
  gateCap: number;
  /**
   * The surprises of an alert's row and of the this many rows after it do not raise the gate: an alarm's own
   * episode does not raise the bar for the next one (the gate still decays meanwhile).
   */
  gateSkipRows: number;
  /** Number of recent values kept for the median (`expected`) that the spike and level channels use. */
  valueRows: number;
  /** Number of past values of each channel kept to judge how unusual its current value is. */
  historyRows: number;
  /** A channel's values enter its history only from this row on (the first rows are not representative). */
  historyStartRows: number;
  /** A channel is judged only once its history holds this many values. */
  minHistory: number;
  /** Lower quantile of a channel's history where the exponential tail fit starts (e.g. 0.9). */
  tailLowQuantile: number;
  /** Upper quantile used with the lower one to fit the tail's scale (e.g. 0.99). */
  tailHighQuantile: number;
  /** Widths (rows) of the moving means compared with the median: one `level_shift` channel each. */
  levelWindows: readonly number[];
  /** Scales (rows per step) of the sub-sequence contexts: one nearest-neighbour channel each. */
  contextScales: readonly number[];
  /** Points per context sub-sequence. */
  contextLength: number;
  /** Nearest past contexts averaged into the context distance. */
  neighbours: number;
  /** How far back (rows) the nearest-neighbour search looks. */
  searchRows: number;
}

export const DEFAULT_ANOMALY_SETTINGS: Readonly<AnomalySettings> = Object.freeze({
  warmupRows: 200,
  suppressRows: 100,
  alertProbability: 1e-3,
  gateRatio: 1,
  gateDecay: 0.999,
  gateCap: 50,
  gateSkipRows: 20,
  valueRows: 1000,
  historyRows: 1250,
  historyStartRows: 50,
  minHistory: 100,
  tailLowQuantile: 0.9,
  tailHighQuantile: 0.99,
  levelWindows: Object.freeze([6, 48]),
  contextScales: Object.freeze([1, 16, 48]),
  contextLength: 8,
  neighbours: 3,
  searchRows: 1000,
});

export interface AnomalyOutput {
  /** 0..1 anomaly score for this row: the surprise -log10(p) divided by 10, clipped. */
  score: number;
  /** Whether the fixed decision rule raises an alert at this row. */
  alert: boolean;
  /** A typical value for explanations: the median of the recent values (before this row). */
  expected: number;
  /**
   * Which channel dominated: 'spike' | 'level_shift' | 'context' | 'pattern' ('none' when none was judged,
   * 'invalid' for a skipped value). On an alert: the first channel, in that order, past the alert bound on
   * its own.
   */
  reason: string;
  /**
   * On an alert only: what the dominant channel measured and what it usually measures, in the series' units.
   * `span` is the level window (rows) for `level_shift`, the scale (rows per step) for `context`/`pattern`,
   * 1 for `spike`; `value` is the channel's value at this row; `usual` its `tailHighQuantile` quantile over
   * its history (e.g. the 99th percentile).
   */
  measure?: { span: number; value: number; usual: number };
}

type ChannelKind = 'spike' | 'level_shift' | 'context' | 'pattern';

const SNAPSHOT_VERSION = 1;
/** Values are judged within ±VALUE_LIMIT: sums and squares of a few thousand of them stay finite. */
const VALUE_LIMIT = 1e150;
/** A channel value enters the channel's history at most this many times its largest value so far (once it holds this many). */
const HISTORY_CAP = 10;
/** Settings that snapshots of this version may predate (they hold no state of their own). */
const ADDED_SETTINGS: ReadonlySet<string> = new Set(['gateSkipRows']);

/** What is wrong with settings, each with the setting to change; empty when they are usable. */
export function settingsProblems(s: AnomalySettings): Array<{ setting: keyof AnomalySettings; message: string }> {
  const out: Array<{ setting: keyof AnomalySettings; message: string }> = [];
  const int = (name: keyof AnomalySettings, min: number): void => {
    const v = s[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) out.push({ setting: name, message: `must be an integer >= ${min} (got ${String(v)})` });
  };
  const real = (name: keyof AnomalySettings, min: number, max: number): void => {
    const v = s[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) out.push({ setting: name, message: `must be a number in [${min}, ${max}] (got ${String(v)})` });
  };
  int('warmupRows', 0);
  int('suppressRows', 0);
  real('alertProbability', 0, 1);
  real('gateRatio', 0, 1e6);
  real('gateDecay', 0, 1);
  real('gateCap', 0, 1e6);
  int('gateSkipRows', 0);
  int('valueRows', 1);
  int('historyRows', 2);
  int('historyStartRows', 0);
  int('minHistory', 1);
  const before = out.length;
  real('tailLowQuantile', 0, 1);
  real('tailHighQuantile', 0, 1);
  if (out.length === before && !(s.tailLowQuantile < s.tailHighQuantile && s.tailHighQuantile < 1)) {
    const message = `needs tailLowQuantile < tailHighQuantile < 1 (got ${s.tailLowQuantile} and ${s.tailHighQuantile})`;
    out.push({ setting: s.tailHighQuantile < 1 ? 'tailLowQuantile' : 'tailHighQuantile', message });
  }
  int('contextLength', 1);
  int('neighbours', 1);
  int('searchRows', 1);
  const list = (name: 'levelWindows' | 'contextScales'): void => {
    const v = s[name];
    if (!Array.isArray(v) || v.some((w) => typeof w !== 'number' || !Number.isInteger(w) || w < 1 || w > 100_000)) {
      out.push({ setting: name, message: 'must be a list of integers in [1, 100000]' });
    }
  };
  list('levelWindows');
  list('contextScales');
  return out;
}

function checkSettings(s: AnomalySettings): void {
  const [p] = settingsProblems(s);
  if (p !== undefined) throw new VigieError('VIGIE_ERR_CONFIG', `AnomalyCore: setting ${p.setting} ${p.message}`);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

function finiteArray(x: unknown, what: string, maxLength: number): number[] {
  if (!Array.isArray(x) || x.length > maxLength || x.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
    throw new VigieError('VIGIE_ERR_SNAPSHOT', `AnomalyCore.restore: ${what} must be an array of at most ${maxLength} finite numbers`);
  }
  return x as number[];
}

export class AnomalyCore {
  private readonly s: AnomalySettings;
  private readonly levelWindows: number[];
  private readonly scales: number[];
  private readonly kinds: ChannelKind[];
  /** Per channel: 1 (spike), the level window, or the context scale. */
  private readonly spans: number[];
  private readonly nChannels: number;
  /** Ring capacity (power of two) of the value and moving-average rings. */
  private readonly cap: number;
  private readonly mask: number;
  private readonly values: Float64Array; // x by row, ring
  private readonly averages: Float64Array[]; // per context scale: b-row moving average by row, ring
  private readonly recent: SortedWindow; // last valueRows values
  private readonly histories: SortedWindow[]; // per channel
  private readonly best: Float64Array; // scratch for the k nearest distances
  private readonly channel: Float64Array; // scratch: this row's channel values
  private readonly ready: Uint8Array; // scratch: channel judged this row
  private n = 0; // finite rows seen
  private lastAlert = -1; // row of the last alert, -1 if none
  private gate = 0; // recent surprise level (decaying running max)

  constructor(settings?: Partial<AnomalySettings>) {
    const s: AnomalySettings = { ...DEFAULT_ANOMALY_SETTINGS, ...(settings ?? {}) };
    checkSettings(s);
    this.levelWindows = [...s.levelWindows];
    this.scales = [...s.contextScales];
    this.s = { ...s, levelWindows: Object.freeze([...this.levelWindows]), contextScales: Object.freeze([...this.scales]) };
    this.kinds = [
      'spike',
      ...this.levelWindows.map((): ChannelKind => 'level_shift'),
      ...this.scales.map((b): ChannelKind => (b === 1 ? 'context' : 'pattern')),
    ];
    this.spans = [1, ...this.levelWindows, ...this.scales];
    this.nChannels = this.kinds.length;
    const maxScale = Math.max(1, ...this.scales);
    const maxLevel = Math.max(1, ...this.levelWindows);
    // Rows that must stay addressable: the search span plus one context at the largest scale, the widest
    // level window, and the widest moving average.
    const need = Math.max(s.searchRows + s.contextLength * maxScale + 1, maxLevel, maxScale) + 1;
    let cap = 1;
    while (cap < need) cap *= 2;
    this.cap = cap;
    this.mask = cap - 1;
    this.values = new Float64Array(cap);
    this.averages = this.scales.map(() => new Float64Array(cap));
    this.recent = new SortedWindow(s.valueRows);
    this.histories = this.kinds.map(() => new SortedWindow(s.historyRows));
    this.best = new Float64Array(s.neighbours);
    this.channel = new Float64Array(this.nChannels);
    this.ready = new Uint8Array(this.nChannels);
  }

  /** Finite rows processed so far (non-finite inputs are skipped and not counted). */
  get rows(): number {
    return this.n;
  }

  /** The settings in force (a copy). */
  get settings(): AnomalySettings {
    return { ...this.s, levelWindows: [...this.levelWindows], contextScales: [...this.scales] };
  }

  update(time: number, value: number): AnomalyOutput {
    if (!Number.isFinite(value) || !Number.isFinite(time)) {
      return { score: 0, alert: false, expected: this.recent.length > 0 ? this.recent.quantile(0.5) : 0, reason: 'invalid' };
    }
    const s = this.s;
    // Clamped so that sums and squares of values stay finite (`+ 0`: -0 -> 0, so that state survives JSON).
    const x = Math.max(-VALUE_LIMIT, Math.min(VALUE_LIMIT, value)) + 0;
    const i = this.n;
    const mask = this.mask;
    const vals = this.values;
    vals[i & mask] = x;
    this.n = i + 1;

    const med = this.recent.length > 0 ? this.recent.quantile(0.5) : x;
    const ch = this.channel;
    const ready = this.ready;
    let c = 0;
    // spike
    ch[c] = Math.abs(x - med);
    ready[c++] = 1;
    // level shifts
    for (const w of this.levelWindows) {
      const k = Math.min(w, i + 1);
      let sum = 0;
      for (let q = 0; q < k; q++) sum += vals[(i - q) & mask];
      ch[c] = Math.abs(sum / k - med);
      ready[c++] = i + 1 >= w ? 1 : 0;
    }
    this.recent.push(x);
    // contexts
    const m = s.contextLength;
    const kNear = s.neighbours;
    const best = this.best;
    for (let si = 0; si < this.scales.length; si++) {
      const b = this.scales[si];
      const y = this.averages[si];
      const k = Math.min(b, i + 1);
      let sum = 0;
      for (let q = 0; q < k; q++) sum += vals[(i - q) & mask];
      y[i & mask] = sum / k;
      const span = m * b;
      let d = 0;
      const ok = i >= 2 * span;
      if (ok) {
        best.fill(Infinity);
        let found = 0;
        const jLow = Math.max(span - 1, i - s.searchRows);
        for (let j = i - span; j >= jLow; j--) {
          const limit = best[kNear - 1];
          let dist = 0;
          let q = 0;
          for (; q < m; q++) {
            const diff = y[(i - q * b) & mask] - y[(j - q * b) & mask];
            dist += diff * diff;
            if (dist >= limit) break;
          }
          if (q < m) continue;
          let p = kNear - 1;
          while (p > 0 && best[p - 1] > dist) {
            best[p] = best[p - 1];
            p--;
          }
          best[p] = dist;
          if (found < kNear) found++;
        }
        let acc = 0;
        for (let q = 0; q < found; q++) acc += Math.sqrt(best[q] / m);
        d = found > 0 ? acc / found : 0;
      }
      ch[c] = d;
      ready[c++] = ok ? 1 : 0;
    }

    // Tail probabilities.
    let pMin = 1;
    let kMin = -1;
    let kFirst = -1; // first channel, in order, past the alert bound on its own: what an alert is explained by
    for (let k = 0; k < this.nChannels; k++) {
      if (!ready[k]) continue;
      const h = this.histories[k];
      if (h.length >= s.minHistory) {
        const p = h.tail(ch[k], s.tailLowQuantile, s.tailHighQuantile);
        if (p < pMin) {
          pMin = p;
          kMin = k;
        }
        if (kFirst < 0 && p * this.nChannels < s.alertProbability) kFirst = k;
      }
      if (i >= s.historyStartRows) {
        // One absurd record must not make everything after it look ordinary: a value more than HISTORY_CAP
        // times past everything the channel has seen enters its history at that bound.
        const top = h.length >= HISTORY_CAP ? h.quantile(1) * HISTORY_CAP : Infinity;
        h.push(top > 0 && ch[k] > top ? top : ch[k]);
      }
    }
    const p = Math.min(1, pMin * this.nChannels);
    const surprise = p > 0 ? -Math.log10(p) : Infinity;

    let alert = false;
    const gated = surprise >= s.gateRatio * this.gate;
    if (i >= s.warmupRows && (this.lastAlert < 0 || i - this.lastAlert > s.suppressRows) && p < s.alertProbability && gated) {
      alert = true;
      this.lastAlert = i;
    }
    if (i >= s.warmupRows) {
      const skip = this.lastAlert >= 0 && i - this.lastAlert <= s.gateSkipRows;
      this.gate = skip ? this.gate * s.gateDecay : Math.max(Math.min(surprise, s.gateCap), this.gate * s.gateDecay);
    }

    // `+ 0` turns the -0 of -log10(1) into 0.
    // On an alert, the first channel past the bound explains it (a spike reads as a spike even when the shape
    // around it is rarer still); otherwise the dominant one.
    const kWhy = alert && kFirst >= 0 ? kFirst : kMin;
    const out: AnomalyOutput = { score: Math.min(1, surprise / 10) + 0, alert, expected: med, reason: pMin < 1 && kWhy >= 0 ? this.kinds[kWhy] : 'none' };
    if (alert && kWhy >= 0) out.measure = { span: this.spans[kWhy], value: ch[kWhy], usual: this.histories[kWhy].quantile(s.tailHighQuantile) };
    return out;
  }

  /** Plain-data state (numbers, arrays of numbers, strings, plain objects): survives JSON and msgpack. */
  snapshot(): unknown {
    const keep = Math.min(this.n, this.cap);
    const ringOut = (ring: Float64Array): number[] => {
      const out = new Array<number>(keep);
      for (let t = 0; t < keep; t++) out[t] = ring[(this.n - keep + t) & this.mask];
      return out;
    };
    return {
      kind: 'vigie.anomaly-core',
      version: SNAPSHOT_VERSION,
      settings: this.settings,
      rows: this.n,
      lastAlert: this.lastAlert,
      gate: this.gate,
      values: ringOut(this.values),
      averages: this.averages.map(ringOut),
      recent: this.recent.toArray(),
      histories: this.histories.map((h) => h.toArray()),
    };
  }

  restore(state: unknown): void {
    const fail = (msg: string): never => {
      throw new VigieError('VIGIE_ERR_SNAPSHOT', `AnomalyCore.restore: ${msg}`);
    };
    if (!isRecord(state)) fail('expected a snapshot object');
    const st = state as Record<string, unknown>;
    if (st.kind !== 'vigie.anomaly-core') fail(`not an anomaly-core snapshot (kind ${JSON.stringify(st.kind)})`);
    if (st.version !== SNAPSHOT_VERSION) fail(`unsupported snapshot version ${JSON.stringify(st.version)}`);
    if (!isRecord(st.settings)) fail('settings missing');
    const theirs = st.settings as Record<string, unknown>;
    const mine = this.settings as unknown as Record<string, unknown>;
    for (const key of Object.keys(mine)) {
      // A setting added after the snapshot was taken changes no state: it applies from now on.
      if (!(key in theirs) && ADDED_SETTINGS.has(key)) continue;
      const a = mine[key];
      const b = theirs[key];
      const same = Array.isArray(a) ? Array.isArray(b) && a.length === b.length && a.every((v, j) => v === b[j]) : a === b;
      if (!same) fail(`snapshot was taken with ${key}=${JSON.stringify(b)}, this core has ${JSON.stringify(a)}`);
    }
    const rows = st.rows;
    if (typeof rows !== 'number' || !Number.isSafeInteger(rows) || rows < 0) fail('rows must be a non-negative integer');
    const n = rows as number;
    const lastAlert = st.lastAlert;
    if (typeof lastAlert !== 'number' || !Number.isInteger(lastAlert) || lastAlert < -1 || lastAlert >= n) {
      fail('lastAlert must be -1 (none) or a row index below rows');
    }
    const gate = st.gate;
    if (typeof gate !== 'number' || !Number.isFinite(gate) || gate < 0) fail('gate must be a finite number >= 0');
    const keep = Math.min(n, this.cap);
    const values = finiteArray(st.values, 'values', this.cap);
    if (values.length !== keep) fail(`values must hold ${keep} numbers`);
    if (!Array.isArray(st.averages) || st.averages.length !== this.scales.length) fail(`averages must hold ${this.scales.length} arrays`);
    const averages = (st.averages as unknown[]).map((a, j) => {
      const arr = finiteArray(a, `averages[${j}]`, this.cap);
      if (arr.length !== keep) fail(`averages[${j}] must hold ${keep} numbers`);
      return arr;
    });
    const recent = finiteArray(st.recent, 'recent', this.s.valueRows);
    if (recent.length !== Math.min(n, this.s.valueRows)) fail('recent has the wrong length');
    if (!Array.isArray(st.histories) || st.histories.length !== this.nChannels) fail(`histories must hold ${this.nChannels} arrays`);
    const histories = (st.histories as unknown[]).map((h, j) => finiteArray(h, `histories[${j}]`, this.s.historyRows));

    // Validated: apply.
    this.n = n;
    this.lastAlert = lastAlert as number;
    this.gate = gate as number;
    this.values.fill(0);
    for (let t = 0; t < keep; t++) this.values[(n - keep + t) & this.mask] = values[t];
    this.averages.forEach((ring, j) => {
      ring.fill(0);
      for (let t = 0; t < keep; t++) ring[(n - keep + t) & this.mask] = averages[j][t];
    });
    this.recent.load(recent);
    this.histories.forEach((h, j) => h.load(histories[j]));
  }
}
