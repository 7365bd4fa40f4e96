import { describe, it, expect } from 'vitest';
import { parseEventTime } from '../../src/time/timestamp.js';
import { Ingestor } from '../../src/ingest/ingestor.js';
import { mappingSchema } from '../../src/sources/mapping.js';
import type { DeadLetter } from '../../src/types.js';

const T0 = Date.UTC(2026, 0, 1); // 2026-01-01T00:00:00Z
const ARRIVAL = T0 + 123_456;

function ingest(mapping: Record<string, unknown>, data: object | string, meta?: { timestampFromRecord: boolean }, timestamp?: number) {
  const ing = new Ingestor('src', typeof data === 'string' ? 'json' : 'object', mappingSchema.parse(mapping), meta);
  const dead: DeadLetter[] = [];
  const event = ing.ingest({ offset: 1, data, timestamp }, 0, ARRIVAL, dead);
  return { event, dead };
}

describe('event time (rule 1)', () => {
  it('numbers are milliseconds, or seconds with format s; fractions of a millisecond are floored', () => {
    expect(parseEventTime(T0 + 5, 'auto')).toBe(T0 + 5);
    expect(parseEventTime(T0 + 5, 'ms')).toBe(T0 + 5);
    expect(parseEventTime(T0 + 5.9, 'ms')).toBe(T0 + 5);
    expect(parseEventTime(T0 / 1000, 's')).toBe(T0);
    expect(parseEventTime(T0 / 1000 + 0.25, 's')).toBe(T0 + 250);
    // Numeric strings count for the numeric formats only.
    expect(parseEventTime(String(T0 / 1000), 's')).toBe(T0);
    expect(parseEventTime(String(T0), 'ms')).toBe(T0);
    expect(typeof parseEventTime(String(T0), 'auto')).toBe('string');
    expect(typeof parseEventTime(T0, 'iso')).toBe('string');
  });

  it('ISO-8601 strings: the zone when given, UTC otherwise', () => {
    expect(parseEventTime('2026-01-01T00:00:00Z', 'auto')).toBe(T0);
    expect(parseEventTime('2026-01-01T01:00:00+01:00', 'iso')).toBe(T0);
    expect(parseEventTime('2026-01-01T00:00:00', 'iso')).toBe(T0);
    expect(parseEventTime('2026-01-01 00:00:00.250', 'auto')).toBe(T0 + 250);
    expect(parseEventTime('2026-01-01', 'iso')).toBe(T0);
    for (const bad of ['yesterday', 'March 7', '1', '2026-13-45T00:00:00Z']) expect(typeof parseEventTime(bad, 'auto')).toBe('string');
  });

  it('a missing or unusable time is a bad_timestamp dead letter naming the field', () => {
    for (const ts of [undefined, null, 'soon', [T0], { at: T0 }, true]) {
      const { event, dead } = ingest({ time: { field: 'at' } }, ts === undefined ? { id: 'x' } : { id: 'x', at: ts });
      expect(event).toBeUndefined();
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({ reason: 'bad_timestamp', source: 'src', offset: 1 });
      expect(dead[0].detail).toContain('"at"');
    }
    const { event } = ingest({ time: { field: 'at', format: 's' } }, JSON.stringify({ at: T0 / 1000 }));
    expect(event?.time).toBe(T0);
  });

  it('processingTime stamps the arrival time instead of reading a field', () => {
    const { event, dead } = ingest({ processingTime: true }, { id: 'x', ts: 'not a time' });
    expect(dead).toEqual([]);
    expect(event?.time).toBe(ARRIVAL);
  });

  it('a transport timestamp (Kafka record time) is used when the source says so', () => {
    expect(ingest({}, { id: 'x' }, { timestampFromRecord: true }, T0 + 7.5).event?.time).toBe(T0 + 7);
    const { event, dead } = ingest({}, { id: 'x', ts: T0 }, { timestampFromRecord: true });
    expect(event).toBeUndefined();
    expect(dead[0].reason).toBe('bad_timestamp');
  });
});
