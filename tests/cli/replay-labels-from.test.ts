/**
 * `vigie replay --labels-from`: the loop from the console's triage back to the replay. Alerts of a real
 * replay are stored by the real redis sink (this run's own namespace in the Redis of the global setup,
 * removed afterwards), triaged over the console's API, exported from /api/labels.jsonl, and the replay
 * is scored against that export.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/types.js';
import { tempDir, vigie } from '../helpers/cli.js';
import { consoleFixture, type ConsoleFixture } from '../helpers/console.js';

const CONFIG = join('config', 'payments.yaml');
const TOKEN = `analyst-${randomUUID()}`;
const ns = `vigie:test:replay-labels:${randomUUID()}`;

let dir: string;
let events: string;
let labelsFile: string;
let alerts: Alert[];
let fixture: ConsoleFixture | undefined;
/** Latest verdict per event, as the export holds it. */
let verdicts: Map<string, { verdict: string; alert: string; key: string }>;

beforeAll(async () => {
  dir = tempDir('vigie-labels-from-');
  events = join(dir, 'payments.ndjson');
  const g = vigie(['generate', '--scenario', 'payments', '--events', '5000', '--seed', '3', '--out', events]);
  expect(g.status, g.stderr).toBe(0);
  const r = vigie(['replay', '-c', CONFIG, '--input', events, '--out', join(dir, 'plain')]);
  expect(r.status, r.stderr).toBe(0);
  alerts = readFileSync(join(dir, 'plain', 'alerts.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const { kind: _kind, ...a } = JSON.parse(l) as Alert & { kind: string };
      return a;
    });
  expect(alerts.length).toBeGreaterThan(5);

  // The alerts as the redis sink stores them, triaged over the console's API, and the labels exported.
  fixture = await consoleFixture(ns, { VIGIE_CONSOLE_ANALYST_TOKEN: TOKEN }, alerts);
  const { server } = fixture;
  try {
    const first = (detector: string) => alerts.find((a) => a.detector === detector && a.repeatsOf === undefined)!;
    const post = async (id: string, state: string) => {
      const res = await fetch(`${server.url}/api/triage`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ subject: 'alert', id, state }) });
      expect(res.status).toBe(200);
      // Distinct triage times: the latest verdict is the last one made.
      await new Promise((r) => setTimeout(r, 5));
    };
    await post(first('card-testing').id, 'confirmed_fraud');
    await post(first('impossible-travel').id, 'confirmed_fraud');
    await post(first('account-takeover').id, 'confirmed_fraud');
    // Confirmed, then found to be a false positive: the latest verdict wins.
    await post(first('account-takeover').id, 'false_positive');
    await post(alerts.filter((a) => a.detector === 'impossible-travel')[1].id, 'investigating');
    const res = await fetch(`${server.url}/api/labels.jsonl`, { headers: { authorization: `Bearer ${TOKEN}` } });
    labelsFile = join(dir, 'labels.jsonl');
    writeFileSync(labelsFile, await res.text());
  } finally {
    await fixture.close();
    fixture = undefined;
  }
  verdicts = new Map(
    readFileSync(labelsFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { event: string; verdict: string; alert: string; key: string })
      .map((l) => [l.event, l]),
  );
}, 120_000);

afterAll(async () => {
  await fixture?.close();
});

describe('vigie replay --labels-from', () => {
  it('scores the alerts against the confirmed events of a console export, as --labels does with labelled input', () => {
    const positives = new Set([...verdicts].filter(([, v]) => v.verdict === 'confirmed_fraud').map(([e]) => e));
    expect(positives.size).toBeGreaterThan(0);
    // The account-takeover alert's events were confirmed, then marked false positives.
    const ato = alerts.find((a) => a.detector === 'account-takeover' && a.repeatsOf === undefined)!;
    for (const e of ato.evidence) expect(verdicts.get(e)?.verdict, e).not.toBe('confirmed_fraud');

    const r = vigie(['replay', '-c', CONFIG, '--input', events, '--out', join(dir, 'scored'), '--labels-from', labelsFile]);
    expect(r.status, r.stderr).toBe(0);
    const labels = JSON.parse(r.stdout).labels;
    // Per detector: an alert is a true positive when its evidence names a confirmed event.
    for (const detector of new Set(alerts.map((a) => a.detector))) {
      const scored = alerts.filter((a) => a.detector === detector && a.repeatsOf === undefined);
      const hits = scored.filter((a) => a.evidence.some((e) => positives.has(e))).length;
      expect(labels.detectors[detector], detector).toMatchObject({ alerts: scored.length, truePositives: hits, falsePositives: scored.length - hits });
    }
    expect(labels.detectors['card-testing'].truePositives).toBeGreaterThan(0);
    expect(labels.detectors['account-takeover'].truePositives).toBe(0);
    // One typology, its cases being the two alerts confirmed, both detected.
    expect(Object.keys(labels.typologies)).toEqual(['confirmed_fraud']);
    expect(labels.typologies.confirmed_fraud).toMatchObject({ events: positives.size, cases: 2, detectedCases: 2, recall: 1 });
    expect(labels.labelledEvents).toBe(positives.size);
    expect(labels.events).toBe(5000);
  });

  it('works with --compare and --report', () => {
    const single = JSON.parse(vigie(['replay', '-c', CONFIG, '--input', events, '--out', join(dir, 'single'), '--labels-from', labelsFile]).stdout).labels;
    const report = join(dir, 'report.html');
    const r = vigie(['replay', '-c', CONFIG, '--input', events, '--compare', CONFIG, '--labels-from', labelsFile, '--json', '--report', report]);
    expect(r.status, r.stderr).toBe(0);
    const what = JSON.parse(r.stdout) as { detectors: Array<{ detector: string; precision?: { a?: { precision: number; truePositives: number } } }>; labels: { typologies: Array<{ typology: string; cases: number }> } };
    const ct = what.detectors.find((d) => d.detector === 'card-testing')!;
    expect(ct.precision?.a).toMatchObject({ precision: single.detectors['card-testing'].precision, truePositives: single.detectors['card-testing'].truePositives });
    expect(what.labels.typologies).toEqual([expect.objectContaining({ typology: 'confirmed_fraud', cases: 2 })]);
    expect(readFileSync(report, 'utf8')).toContain('confirmed_fraud');
  });

  it('refuses a missing or malformed file, naming the line, and --labels with it (usage error, exit 2)', () => {
    const run = (file: string, extra: string[] = []) => vigie(['replay', '-c', CONFIG, '--input', events, '--out', join(dir, 'refused'), '--labels-from', file, ...extra]);
    const missing = run(join(dir, 'nowhere.jsonl'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`vigie: VIGIE_ERR_USAGE: --labels-from ${join(dir, 'nowhere.jsonl')}: cannot read the file (ENOENT)`);
    expect(missing.stderr).toContain('\n  remedy: ');

    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, `${JSON.stringify({ event: 'p-1', key: 'k', verdict: 'confirmed_fraud', alert: 'a', time: 1 })}\n{"event":"p-2","verdict":"confirmed_fraud"}\n`);
    const r = run(bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('line 2: "time" must be milliseconds since the epoch');
    writeFileSync(bad, 'not json\n');
    expect(run(bad).stderr).toContain('line 1: not valid JSON');
    const both = run(labelsFile, ['--labels']);
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('give either --labels (labels in the input) or --labels-from (a labels export), not both');
  });
});
