/**
 * config/telemetry.yaml end to end, on half a day of its generator's stream: the engine replays it, an
 * injected latency degradation is alerted on by the latency detector, and the evaluator counts it.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { evalIncidents, MATCH_AFTER_MS } from '../../src/eval/incidents.js';
import { ROOT } from '../helpers/cli.js';

describe('eval:incidents on config/telemetry.yaml', () => {
  it('finds an injected latency degradation and counts it, with its time-to-detect', async () => {
    const loaded = loadConfig(join(ROOT, 'config/telemetry.yaml'));
    const [run] = await evalIncidents({ loaded, seeds: [1], days: 0.5 });
    expect(run.events).toBe(216_000);
    const degradations = run.incidents.filter((i) => i.type === 'latency_degradation');
    expect(degradations.length).toBeGreaterThan(0);
    // Each detection the evaluator counts is backed by a latency alert on the incident's service, the earliest in its span.
    const found = degradations.filter((i) => run.report.detections[i.caseId] !== undefined);
    expect(found.length).toBeGreaterThan(0);
    for (const i of found) {
      const matching = run.alerts.filter((a) => a.repeatsOf === undefined && a.key === i.service && a.eventTime >= i.start && a.eventTime <= i.end + MATCH_AFTER_MS);
      expect(matching.map((a) => a.detector)).toContain('latency-anomaly');
      expect(run.report.detections[i.caseId]).toBe(Math.min(...matching.map((a) => a.eventTime)) - i.start);
    }
    const t = run.report.types.latency_degradation;
    expect(t.cases).toBe(degradations.length);
    expect(t.detected).toBe(found.length);
    expect(t.detectors['latency-anomaly']).toBeGreaterThan(0);
    expect(run.report.overall.alerts).toBe(run.alerts.filter((a) => a.repeatsOf === undefined).length);
  }, 20_000);
});
