import { z } from 'zod';

/** How a source's time field is encoded. `auto`: numbers are ms, strings are ISO-8601. */
export const TIME_FORMATS = ['auto', 'ms', 's', 'iso'] as const;
export type TimeFormat = (typeof TIME_FORMATS)[number];

// Years 0001..9999 only: beyond that, Date accepts values no producer means.
const MIN_MS = -62135596800000;
const MAX_MS = 253402300799999;
// ISO-8601 with date and time, optional fraction and zone; Date.parse alone accepts too much ("1", "March 7").
const ISO_RE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Convert a raw time value to integer epoch milliseconds, or return a string saying why it cannot be.
 * Fractions of milliseconds are floored so that the same input always maps to the same window.
 */
export function parseEventTime(value: unknown, format: TimeFormat): number | string {
  if (value === undefined || value === null) return 'missing';
  if (typeof value === 'number') {
    if (format === 'iso') return 'expected an ISO-8601 string, got a number';
    if (!Number.isFinite(value)) return 'not a finite number';
    const ms = Math.floor(format === 's' ? value * 1000 : value);
    return ms < MIN_MS || ms > MAX_MS ? 'out of range' : ms;
  }
  if (typeof value === 'string') {
    if (format === 'ms' || format === 's') {
      // Numeric strings are common in CSV-born data; accept them for numeric formats only.
      if (!/^-?\d+(?:\.\d+)?$/.test(value)) return `expected a number of ${format === 's' ? 'seconds' : 'milliseconds'}`;
      return parseEventTime(Number(value), format);
    }
    if (!ISO_RE.test(value)) return 'not an ISO-8601 date-time';
    // A date-time without zone is read as UTC: event times must not depend on the host's zone.
    const hasZone = /(?:Z|[+-]\d{2}:?\d{2})$/.test(value) && value.length > 10;
    const text = hasZone ? value : value.length === 10 ? `${value}T00:00:00Z` : `${value.replace(' ', 'T')}Z`;
    const ms = Date.parse(text);
    if (Number.isNaN(ms)) return 'not a valid ISO-8601 date-time';
    return ms < MIN_MS || ms > MAX_MS ? 'out of range' : ms;
  }
  return `expected a number or a string, got ${Array.isArray(value) ? 'an array' : typeof value}`;
}

export const timeFormatSchema = z.enum(TIME_FORMATS);
