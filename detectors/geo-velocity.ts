import { z } from 'zod';
import type { VEvent } from '../src/types.js';
import { formatNumber, isoTime } from './alert.js';
import { formatSpan, positiveDurationSchema } from '../src/time/duration.js';
import { evidenceRef } from '../src/types.js';
import { KeyedEventCore, boundScore, commonFields, matchSchema, numberField } from './common.js';
import type { DetectorContext, DetectorCore, Emit } from './types.js';
import { VigieError } from '../src/errors.js';

export const type = 'geo-velocity';

/** Mean Earth radius (IUGG), km. */
export const EARTH_RADIUS_KM = 6371.0088;
const MS_PER_HOUR = 3_600_000;
/** The smallest number above 1. */
const ABOVE_ONE = 1 + Number.EPSILON;
const RAD = Math.PI / 180;

/** Great-circle distance in km between two points given in degrees (haversine formula). */
export function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const sLat = Math.sin(((lat2 - lat1) * RAD) / 2);
  const sLon = Math.sin(((lon2 - lon1) * RAD) / 2);
  const a = sLat * sLat + Math.cos(lat1 * RAD) * Math.cos(lat2 * RAD) * sLon * sLon;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** Degrees for explanations: up to 4 decimals (about 11 m). */
function degrees(x: number): string {
  return String(Number(x.toFixed(4)));
}

/**
 * Geo-velocity: impossible travel. Two consecutive located events of a key are further apart than one
 * could travel at `maxSpeedKmh` in the time between them: a card used in Paris and in New York an hour
 * apart, a login from two continents. Events without valid coordinates are ignored.
 * Example: `{ name: impossible-travel, type: geo-velocity, maxSpeedKmh: 900, minDistanceKm: 100 }`
 */
export const schema = z.strictObject({
  ...commonFields,
  type: z.literal(type),
  latField: z.string().min(1).default('lat').describe('Field holding the latitude in degrees, a number in [-90, 90].'),
  lonField: z.string().min(1).default('lon').describe('Field holding the longitude in degrees, a number in [-180, 180].'),
  maxSpeedKmh: z
    .number()
    .finite()
    .positive()
    .default(900)
    .describe('Highest plausible speed, km/h (great-circle distance over the time between the two events); faster raises the alert.'),
  minDistanceKm: z
    .number()
    .finite()
    .min(0)
    .default(100)
    .describe('Ignore pairs of events closer than this, km (imprecise geolocation of nearby places).'),
  forgetAfter: positiveDurationSchema
    .default(86_400_000)
    .describe('A key whose last located event is older than this is forgotten: its next event starts afresh, without a comparison.'),
  match: matchSchema.optional().describe('Consider only events matching these conditions (others are ignored by this detector).'),
}).superRefine((c, ctx) => {
  if (c.latField !== c.lonField) return;
  // Both cannot be at their (different) defaults: blame the one that was set.
  const path = c.latField === 'lat' ? 'lonField' : 'latField';
  ctx.addIssue({ code: 'custom', path: [path], message: `latField and lonField are both "${c.latField}": name two different fields, the latitude and the longitude` });
});

export type Config = z.infer<typeof schema>;

interface KeyState {
  time: number;
  lat: number;
  lon: number;
  ref: string;
}

/**
 * Compares each located event of a key with the key's previous located one. The speed of two events
 * at the same millisecond is infinite ("instantly" in the explanation); since event times have a
 * resolution of 1 ms, `observed` is then the distance over 1 ms (a finite lower bound, safe for JSON),
 * and `details.instant` is true.
 */
export class GeoVelocityCore extends KeyedEventCore<KeyState, Config> implements DetectorCore {

  add(key: string, e: VEvent, emit: Emit): void {
    const cfg = this.cfg;
    if (!this.matches(e.payload)) return;
    const lat = numberField(e, cfg.latField);
    const lon = numberField(e, cfg.lonField);
    if (lat === undefined || lon === undefined || Math.abs(lat) > 90 || Math.abs(lon) > 180) return;
    const t = e.time;
    const ref = evidenceRef(e);
    const st = this.state.touch(key);
    if (st === undefined) {
      // -0 -> 0: the state stays the same through any encoding.
      this.state.set(key, { time: t, lat: lat + 0, lon: lon + 0, ref });
      return;
    }
    // The key's state becomes this event, in place (nothing allocated per event); what it held is the event before.
    const prevTime = st.time;
    const prevLat = st.lat;
    const prevLon = st.lon;
    const prevRef = st.ref;
    st.time = t;
    st.lat = lat + 0;
    st.lon = lon + 0;
    st.ref = ref;
    const cur = st;
    // A key idle for longer than forgetAfter is what `advance` drops: ignore it here too, so that the
    // outcome does not depend on how often the watermark moved in between.
    if (prevTime < t - cfg.forgetAfter) return;
    const distance = haversineKm(prevLat, prevLon, cur.lat, cur.lon);
    const elapsed = t - prevTime;
    const instant = elapsed <= 0;
    const speed = (distance * MS_PER_HOUR) / Math.max(elapsed, 1);
    // A pair closer than minDistanceKm is not unusual, whatever its speed.
    if (distance < cfg.minDistanceKm || distance === 0) {
      emit.judged(key, t, speed, 0, 0, false);
      return;
    }
    const met = instant || speed > cfg.maxSpeedKmh;
    const ratio = speed / cfg.maxSpeedKmh;
    // An instant move signals: at least just past the bound.
    emit.judged(key, t, speed, ratio, met && ratio <= 1 ? ABOVE_ONE : ratio, met);
    if (!met || emit.elide?.(key, t) === true) return;
    const prev: KeyState = { time: prevTime, lat: prevLat, lon: prevLon, ref: prevRef };
    const km = formatNumber(Number(distance.toFixed(1)));
    const label = this.ctx.keyLabel;
    // Minimal alerts: coordinates only where the pipeline's alertFields allow both.
    const show = (this.ctx.mayShow?.(cfg.latField) ?? true) && (this.ctx.mayShow?.(cfg.lonField) ?? true);
    const at = (s: KeyState): string => `${show ? `(${degrees(s.lat)}, ${degrees(s.lon)}) ` : ''}at ${isoTime(s.time)} (${s.ref})`;
    emit.signal({
      key,
      time: t,
      identity: `event:${ref}`,
      revision: 0,
      window: { start: prev.time, end: t },
      observed: speed,
      threshold: cfg.maxSpeedKmh,
      score: boundScore('>', speed, cfg.maxSpeedKmh),
      explanation:
        `${cfg.name}: ${label} ${key} was at ${at(prev)} and at ${at(cur)}: ` +
        (instant ? `${km} km instantly (same millisecond)` : `${km} km in ${formatSpan(elapsed)}, ${formatNumber(speed)} km/h`) +
        `, above the maximum ${formatNumber(cfg.maxSpeedKmh)} km/h.`,
      evidence: [prev.ref, ref],
      details: {
        distanceKm: distance,
        elapsedMs: elapsed,
        speedKmh: speed,
        instant,
        ...(show ? { from: { lat: prev.lat, lon: prev.lon }, to: { lat: cur.lat, lon: cur.lon } } : {}),
      },
    });
  }

  advance(w: number): void {
    const from = w - this.cfg.forgetAfter;
    this.state.expireFront((st) => st.time < from);
  }


  protected encode(s: KeyState): unknown {
    return [s.time, s.lat, s.lon, s.ref];
  }

  protected decode(s: unknown): KeyState {
    const [time, lat, lon, ref] = Array.isArray(s) ? (s as unknown[]) : [];
    if (typeof time !== 'number' || typeof lat !== 'number' || typeof lon !== 'number' || typeof ref !== 'string') {
      throw new VigieError('VIGIE_ERR_SNAPSHOT', `${this.perKey.what}: bad snapshot entry (expected [time, lat, lon, ref])`);
    }
    return { time, lat, lon, ref };
  }
}

export function create(config: Config, ctx: DetectorContext): DetectorCore {
  return new GeoVelocityCore(config, ctx);
}
