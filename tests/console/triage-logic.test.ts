/** Triage's pure part: requests, the labels of a change, what an export keeps. */
import { describe, expect, it } from 'vitest';
import type { StoredAlert } from '../../src/console/alert-entry.js';
import { evidenceRefs, labelsOf, latestPerEvent, parseTriageRequest, type Label } from '../../src/console/triage.js';
import { sampleAlert } from '../helpers/alerts.js';

const stored = (id: string, key: string, evidence: string[]): StoredAlert => ({ ...sampleAlert(id, key, { evidence }), entryId: '1-0', stream: 's' });

describe('triage requests', () => {
  it('trims the comment and keeps it plain text; a lone surrogate becomes U+FFFD', () => {
    expect(parseTriageRequest({ subject: 'key', id: 'card-1', state: 'investigating', comment: '  two lines\nand a tab\t ' })).toEqual({ subject: 'key', id: 'card-1', state: 'investigating', comment: 'two lines\nand a tab' });
    expect(parseTriageRequest({ subject: 'alert', id: 'a', state: 'new', comment: 'x\uD800y' }).comment).toBe('x\uFFFDy');
    expect(parseTriageRequest({ subject: 'alert', id: 'a', state: 'new' }).comment).toBeUndefined();
    expect(() => parseTriageRequest({ subject: 'alert', id: '', state: 'new' })).toThrow(/id:/);
    expect(() => parseTriageRequest({ subject: 'alert', id: 'a', state: 'new', comment: 'é'.repeat(2000) })).not.toThrow();
  });
});

describe('labels of a change', () => {
  it('one label per distinct evidence event, the alert named only for an alert subject', () => {
    const alerts = [stored('a1', 'k', ['e1', 'e2']), stored('a2', 'k', ['e2', 'e3'])];
    expect(labelsOf('key', alerts, 'confirmed_fraud', 7).map((l) => [l.event, l.alert, l.subject, l.time])).toEqual([
      ['e1', '', 'key', 7],
      ['e2', '', 'key', 7],
      ['e3', '', 'key', 7],
    ]);
    expect(labelsOf('alert', alerts.slice(0, 1), 'false_positive', 9)).toEqual([
      { event: 'e1', key: 'k', verdict: 'false_positive', alert: 'a1', subject: 'alert', time: 9 },
      { event: 'e2', key: 'k', verdict: 'false_positive', alert: 'a1', subject: 'alert', time: 9 },
    ]);
    expect(evidenceRefs(['e1', '', { ref: 'e2', amount: 3 }, { id: 'e3' }, { other: 1 }, 4])).toEqual(['e1', 'e2', 'e3']);
    expect(evidenceRefs(undefined)).toEqual([]);
  });

  it('an export keeps the latest label of each event, oldest first; on equal times the one read last', () => {
    const l = (event: string, verdict: Label['verdict'], time: number): Label => ({ event, key: 'k', verdict, alert: '', subject: 'key', time });
    const kept = latestPerEvent([l('e1', 'confirmed_fraud', 5), l('e2', 'investigating', 3), l('e1', 'false_positive', 4), l('e2', 'confirmed_fraud', 3), l('e3', 'new', 1)]);
    expect(kept.map((x) => [x.event, x.verdict, x.time])).toEqual([
      ['e3', 'new', 1],
      ['e2', 'confirmed_fraud', 3],
      ['e1', 'confirmed_fraud', 5],
    ]);
  });
});
