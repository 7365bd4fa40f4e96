import { expect } from 'vitest';
import { Packr } from 'msgpackr';
import { evidenceRef, type VEvent, type WindowResult } from '../../src/types.js';
import type { DetectorContext, DetectorCore, Emit, Score, Signal } from '../../detectors/types.js';

/** What a schema refuses in a config, as [path, message] pairs (none when it accepts it). */
export function refusals(schema: { safeParse(v: unknown): { error?: { issues: Array<{ path: PropertyKey[]; message: string }> } } }, config: unknown): Array<[string, string]> {
  return schema.safeParse(config).error?.issues.map((i) => [i.path.map(String).join('.'), i.message]) ?? [];
}

/** Context of a test pipeline keyed by `key`. */
export function ctxOf(over: Partial<DetectorContext> = {}): DetectorContext {
  return { pipeline: 'p', keyLabel: 'key', aggregates: [], windowType: 'none', evidenceLimit: 20, ...over };
}

/** An event at time `t` (ms) with a payload; id defaults to `e<t>`. */
export function ev(t: number, payload: Record<string, unknown>, id?: string): VEvent {
  return { time: t, id: id ?? `e${t}`, partition: 0, offset: t, source: 's', payload };
}

/**
 * A collecting Emit: `judgements` gets what `judged` reports (every judged input), with the `ref` of the
 * event being judged (`judging`, set by {@link runEvents}) when the detector gives none, as the runtime does.
 */
export function collector(): Emit & { signals: Signal[]; judgements: Score[]; judging: VEvent | undefined } {
  const signals: Signal[] = [];
  const judgements: Score[] = [];
  const c = {
    signals,
    judgements,
    judging: undefined as VEvent | undefined,
    signal: (s: Signal) => signals.push(s),
    judged: (key: string, time: number, observed: number, score: number, strength: number, anomalous: boolean, ref?: string) =>
      judgements.push({ pipeline: 'p', detector: 'd', key, time, ref: ref ?? (c.judging === undefined ? '' : evidenceRef(c.judging)), observed, score, strength, anomalous }),
  };
  return c;
}

/**
 * Feed keyed events to an event core in order, advancing the watermark to each event's time first
 * (as the runtime does: state expiry, then the event). Returns the signals.
 */
export function runEvents(core: DetectorCore, events: Array<[string, VEvent]>, emit = collector()): Signal[] {
  const before = emit.signals.length;
  for (const [key, e] of events) {
    core.advance(e.time, emit);
    emit.judging = e;
    core.add?.(key, e, emit);
  }
  emit.judging = undefined;
  return emit.signals.slice(before);
}

/** Feed window results to a result core (advancing the watermark to each result's end). */
export function runResults(core: DetectorCore, results: WindowResult[], emit = collector()): Signal[] {
  const before = emit.signals.length;
  for (const r of results) {
    core.addResults?.([r], emit);
    core.advance(r.end, emit);
  }
  return emit.signals.slice(before);
}

/** A window result for result detectors. */
export function result(key: string, start: number, end: number, values: Record<string, number | null>, count = 1): WindowResult {
  return { pipeline: 'p', key, start, end, revision: 0, kind: 'final', values, count, evidence: [`e${end}`], watermark: end };
}

// The checkpoint store's encoding: plain MessagePack maps (keeps ±Infinity, unlike JSON).
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** The snapshot after a MessagePack round trip (what a checkpoint stores). */
export function viaMsgpack(state: unknown): unknown {
  return packr.unpack(packr.pack(state));
}

/** The snapshot after a JSON round trip. */
export function viaJson(state: unknown): unknown {
  return JSON.parse(JSON.stringify(state));
}

/** Run `events` whole, and split at `cut` with a checkpoint (encoded by `encode`) in between. */
export function splitRun(make: () => DetectorCore, events: Array<[string, VEvent]>, cut: number, encode = viaMsgpack) {
  const whole = make();
  const expected = runEvents(whole, events);
  const first = make();
  const head = runEvents(first, events.slice(0, cut));
  const second = make();
  second.restore(encode(first.snapshot()));
  const tail = runEvents(second, events.slice(cut));
  return { expected, got: [...head, ...tail], whole, second };
}

/**
 * Two properties of an event detector on `events`, whose signals (with the watermark advanced to
 * each event) had the identities `identities`: the watermark's cadence changes nothing (the same
 * signals with no advance at all), and a checkpoint at any cut (`cutSeed`) changes nothing.
 */
export function expectCadenceFreeAndSplittable(make: () => DetectorCore, events: Array<[string, VEvent]>, identities: unknown[], cutSeed: number): void {
  const lazy = make();
  const emit = collector();
  for (const [k, e] of events) lazy.add?.(k, e, emit);
  expect(emit.signals.map((s) => s.identity)).toEqual(identities);
  const { expected, got, whole, second } = splitRun(make, events, events.length === 0 ? 0 : cutSeed % (events.length + 1));
  expect(got).toEqual(expected);
  expect(second.snapshot()).toEqual(whole.snapshot());
}
