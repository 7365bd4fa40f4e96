import { describe, expect, it } from 'vitest';
import { IncidentLog, quantile, scoreIncidents, type Incident, type ScoredAlert } from '../../src/eval/incidents.js';

const MIN = 60_000;

const incident = (caseId: string, type: string, service: string, start: number, end: number): Incident => ({ caseId, type, service, start: start * MIN, end: end * MIN });
const alert = (detector: string, key: string, minute: number, repeatsOf?: string): ScoredAlert => ({ detector, key, eventTime: minute * MIN, ...(repeatsOf ? { repeatsOf } : {}) });

describe('IncidentLog', () => {
  it('spans each case from its first to its last labelled event time, whatever the order, and ignores the rest', () => {
    const log = new IncidentLog();
    log.observe([
      { ts: 500, service: 'auth', label: 'traffic_drop', case: 'traffic_drop-2' },
      { ts: 100, service: 'cart', label: null, case: null },
      { ts: 300, service: 'auth', label: 'traffic_drop', case: 'traffic_drop-2' },
    ]);
    log.observe([
      { ts: 200, service: 'cart', label: 'error_spike', case: 'error_spike-1' },
      { ts: 900, service: 'auth', label: 'traffic_drop', case: 'traffic_drop-2' },
      { ts: 400, service: 'auth', label: 'traffic_drop', case: 'traffic_drop-2' },
      { ts: 'soon', service: 'cart', label: 'error_spike', case: 'error_spike-1' },
    ]);
    expect(log.incidents()).toEqual([
      { caseId: 'error_spike-1', type: 'error_spike', service: 'cart', start: 200, end: 200 },
      { caseId: 'traffic_drop-2', type: 'traffic_drop', service: 'auth', start: 300, end: 900 },
    ]);
  });
});

describe('quantile', () => {
  it('interpolates between closest ranks', () => {
    expect(quantile([], 0.5)).toBeNull();
    expect(quantile([7], 0.9)).toBe(7);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4], 0.9)).toBeCloseTo(3.7, 12);
    expect(quantile([1, 2, 3, 4], 1)).toBe(4);
  });
});

describe('scoreIncidents', () => {
  const incidents = [incident('e1', 'error_spike', 'cart', 100, 110), incident('l1', 'latency_degradation', 'auth', 200, 215), incident('d1', 'traffic_drop', 'cart', 300, 306)];

  it('matches an alert on the incident\'s service from its start to `after` past its end, and no other', () => {
    const at = (minute: number, key = 'cart') => scoreIncidents(incidents, [alert('x', key, minute)]).types.error_spike.detected;
    expect(at(99.99)).toBe(0); // before the start
    expect(at(100)).toBe(1); // at the start
    expect(at(115)).toBe(1); // end + 5 minutes, the default
    expect(at(115.01)).toBe(0);
    expect(at(105, 'auth')).toBe(0); // another service
    const late = scoreIncidents(incidents, [alert('x', 'cart', 119)], { afterMs: 10 * MIN });
    expect(late.types.error_spike.detected).toBe(1);
  });

  it('times detection from the start to the earliest matching alert, whatever the alert order', () => {
    const r = scoreIncidents(incidents, [alert('b', 'cart', 108), alert('a', 'cart', 103), alert('c', 'auth', 230)]);
    expect(r.detections).toEqual({ e1: 3 * MIN });
    expect(r.types.error_spike).toEqual({ cases: 1, detected: 1, recall: 1, ttdMedianMs: 3 * MIN, ttdP90Ms: 3 * MIN, detectors: { a: 1, b: 1 } });
    expect(r.types.latency_degradation).toMatchObject({ cases: 1, detected: 0, recall: 0, ttdMedianMs: null, ttdP90Ms: null, detectors: {} });
    // c is 15 minutes past l1's end: a false alert.
    expect(r.overall).toEqual({ alerts: 3, matched: 2, precision: 2 / 3 });
    expect(r.detectors).toEqual({ a: { alerts: 1, matched: 1, precision: 1 }, b: { alerts: 1, matched: 1, precision: 1 }, c: { alerts: 1, matched: 0, precision: 0 } });
  });

  it('gives median and p90 time-to-detect per type, recall over the type\'s cases, and types without cases', () => {
    const drops = [1, 2, 3, 4].map((k) => incident(`d${k}`, 'traffic_drop', `s${k}`, 1000 * k, 1000 * k + 10));
    drops.push(incident('d5', 'traffic_drop', 's5', 6000, 6010));
    const alerts = [1, 2, 3, 4].map((k) => alert('requests', `s${k}`, 1000 * k + k));
    const r = scoreIncidents(drops, alerts, { types: ['error_spike', 'traffic_drop'] });
    expect(r.types.traffic_drop).toEqual({ cases: 5, detected: 4, recall: 0.8, ttdMedianMs: 2.5 * MIN, ttdP90Ms: expect.closeTo(3.7 * MIN, 6), detectors: { requests: 4 } });
    expect(r.types.error_spike).toEqual({ cases: 0, detected: 0, recall: 0, ttdMedianMs: null, ttdP90Ms: null, detectors: {} });
  });

  it('leaves cooldown summaries out of precision, and one alert matching two incidents counts once', () => {
    const overlapping = [incident('a', 'error_spike', 'cart', 0, 10), incident('b', 'traffic_drop', 'cart', 12, 20)];
    const r = scoreIncidents(overlapping, [alert('x', 'cart', 13), alert('x', 'cart', 500, 'id-of-first'), alert('x', 'cart', 400)]);
    expect(r.summaries).toBe(1);
    expect(r.overall).toEqual({ alerts: 2, matched: 1, precision: 0.5 });
    expect(r.detections).toEqual({ a: 13 * MIN, b: 1 * MIN });
  });

  it('does not score the warm-up: neither incidents starting in it nor alerts raised in it', () => {
    const r = scoreIncidents(incidents, [alert('x', 'cart', 101), alert('x', 'cart', 112), alert('x', 'cart', 150)], { from: 111 * MIN });
    // e1 started in the warm-up: not a case; the alert at 112 still matches it (not a false alert).
    expect(r.types.error_spike).toMatchObject({ cases: 0, detected: 0 });
    expect(r.detections).toEqual({});
    expect(r.overall).toEqual({ alerts: 2, matched: 1, precision: 0.5 });
    expect(r.types.traffic_drop).toMatchObject({ cases: 1, detected: 0 });
  });

  it('has no precision without alerts', () => {
    expect(scoreIncidents(incidents, []).overall).toEqual({ alerts: 0, matched: 0, precision: null });
  });
});
