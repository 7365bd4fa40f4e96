/** Labels exports read for `vigie replay --labels-from`, and the scorer labelling events by them. */
import { describe, expect, it } from 'vitest';
import { parseLabels } from '../../src/engine/labels-file.js';
import { LabelScorer } from '../../src/engine/labels.js';
import { sampleAlert } from '../helpers/alerts.js';
import type { VEvent } from '../../src/types.js';

const line = (o: Record<string, unknown>) => JSON.stringify(o);

describe('labels export', () => {
  it('keeps the latest verdict per event (by time, then by line); only confirmed_fraud labels an event, its case the alert, else the key', () => {
    const text = [
      line({ event: 'e1', key: 'k1', verdict: 'confirmed_fraud', alert: 'a1', subject: 'alert', time: 100 }),
      line({ event: 'e2', key: 'k1', verdict: 'confirmed_fraud', alert: 'a1', subject: 'alert', time: 100 }),
      '',
      line({ event: 'e2', key: 'k1', verdict: 'false_positive', alert: 'a1', subject: 'alert', time: 200 }),
      // Older than the verdict above: does not replace it.
      line({ event: 'e2', key: 'k1', verdict: 'confirmed_fraud', alert: 'a1', subject: 'alert', time: 150 }),
      line({ event: 'e3', key: 'k2', verdict: 'false_positive', alert: '', subject: 'key', time: 100 }),
      line({ event: 'e3', key: 'k2', verdict: 'confirmed_fraud', alert: '', subject: 'key', time: '100' }),
      line({ event: 'e4', verdict: 'investigating', time: 5 }),
      line({ event: 'e5', verdict: 'confirmed_fraud', time: 5 }),
    ].join('\n');
    expect([...parseLabels(text, 'l.jsonl')]).toEqual([
      ['e1', { label: 'confirmed_fraud', caseId: 'a1' }],
      ['e3', { label: 'confirmed_fraud', caseId: 'k2' }],
      ['e5', { label: 'confirmed_fraud', caseId: 'e5' }],
    ]);
  });

  it('names the line of the first entry that is not a label, and refuses an empty file', () => {
    const err = (text: string) => {
      try {
        parseLabels(text, 'l.jsonl');
      } catch (e) {
        return e as { code: string; message: string };
      }
      throw new TypeError('no error');
    };
    expect(err('{"event":"e1","verdict":"confirmed_fraud","time":1}\n[1]\n')).toMatchObject({ code: 'VIGIE_ERR_USAGE', message: expect.stringContaining('--labels-from l.jsonl: line 2: not a JSON object') });
    expect(err('{"verdict":"confirmed_fraud","time":1}').message).toContain('line 1: "event" must be a non-empty string');
    expect(err('{"event":"e","time":1}').message).toContain('line 1: "verdict" must be a non-empty string');
    expect(err('{"event":"e","verdict":"x","time":"yesterday"}').message).toContain('"time" must be milliseconds since the epoch');
    expect(err('{"event":"e","verdict":"x","time":1,"alert":3}').message).toContain('"alert" must be a string');
    expect(err('\n\n').message).toContain('no label in the file');
  });

  it('labels the events the scorer observes by their reference, whatever their own label field says', () => {
    const scorer = new LabelScorer({ field: 'label', caseField: 'case', byRef: parseLabels(line({ event: 'e2', key: 'k', verdict: 'confirmed_fraud', alert: 'a9', time: 1 }), 'l.jsonl') });
    const event = (id: string, label: string | null): VEvent => ({ id, source: 's', partition: 0, offset: 0, time: 0, payload: { label } });
    scorer.observe([event('e1', 'card_testing'), event('e2', null), event('e3', null)]);
    scorer.score([sampleAlert('x1', 'k', { evidence: ['e1'] }), sampleAlert('x2', 'k', { evidence: ['e3', 'e2'] })]);
    const r = scorer.report();
    expect(r).toMatchObject({ events: 3, labelledEvents: 1 });
    expect(r.typologies).toEqual({ confirmed_fraud: { events: 1, cases: 1, detectedCases: 1, recall: 1, detectors: { 'card-testing': 1 } } });
    expect(r.detectors['card-testing']).toMatchObject({ alerts: 2, truePositives: 1, falsePositives: 1, precision: 0.5 });
  });
});
