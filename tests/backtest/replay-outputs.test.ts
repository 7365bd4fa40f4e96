import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_REPLAY_OUTPUTS, parseReplayOutputs, REPLAY_OUTPUTS, replayOutSinks } from '../../src/backtest/replay-outputs.js';
import { Engine } from '../../src/engine/engine.js';
import { memorySource } from '../../src/sources/memory.js';
import { memorySink } from '../../sinks/memory.js';
import { capturedLogger } from '../helpers/capture.js';
import { tempDir, vigie } from '../helpers/cli.js';
import { config } from '../helpers/collect.js';
import { VigieError } from '../../src/errors.js';

const T = Date.UTC(2026, 0, 1);

/** A pipeline with a window (results), a rule publishing its scores, and a record that is dead-lettered. */
const YAML = `
time: { maxOutOfOrderness: 0 }
sources: [{ name: payments, type: stdin }]
pipelines:
  - name: cards
    key: card
    window: { type: tumbling, size: 1m }
    aggregates: [{ name: n, fn: count }]
    detectors:
      - { name: big, type: rule, when: { amount: { '>': 100 } }, cooldown: 0, scores: true }
sinks: [{ name: c, type: console }]
metrics: { enabled: false }
`;
const RECORDS = [
  { id: 'a', ts: T, card: 'c1', amount: 50 },
  { id: 'b', ts: T + 1000, card: 'c1', amount: 500 },
  { id: 'c', ts: T + 2000, amount: 7 },
  { id: 'd', ts: T + 70_000, card: 'c2', amount: 5 },
];

function usage(list: string): string {
  try {
    parseReplayOutputs(list);
  } catch (err) {
    expect(err).toBeInstanceOf(VigieError);
    expect((err as VigieError).code).toBe('VIGIE_ERR_USAGE');
    return (err as Error).message;
  }
  throw new Error(`"${list}" was accepted`);
}

describe('replay --outputs', () => {
  it('parses a list of outputs, all, and refuses unknown names with the closest one', () => {
    expect(parseReplayOutputs('scores, alerts')).toEqual(['alerts', 'scores']);
    expect(parseReplayOutputs('all')).toEqual(REPLAY_OUTPUTS.map((o) => o.name));
    expect(parseReplayOutputs('dead-letters,shadow-alerts,results')).toEqual(['shadow-alerts', 'results', 'dead-letters']);
    expect(DEFAULT_REPLAY_OUTPUTS).toEqual(['alerts', 'dead-letters']);
    expect(usage('alerts,score')).toBe('--outputs: unknown output "score" (did you mean "scores"?); choose among alerts, shadow-alerts, results, dead-letters, scores, queue, or all');
    expect(usage('deadLetters')).toContain('did you mean "dead-letters"?');
    expect(usage('bogus')).not.toContain('did you mean');
    expect(usage(' , ')).toContain('at least one');
  });

  it('writes the chosen files only, and removes an earlier run\'s files of the others', async () => {
    const dir = tempDir();
    const run = async (outputs?: Parameters<typeof replayOutSinks>[2]) => {
      const log = capturedLogger();
      const sinks = await replayOutSinks(dir, log.logger, outputs);
      await new Engine({ loaded: config(YAML), mode: 'replay', sources: [memorySource(RECORDS, { name: 'payments' })], sinks }).run();
      return log.text();
    };
    await run(['alerts', 'results', 'dead-letters', 'scores', 'shadow-alerts']);
    expect(readdirSync(dir).sort()).toEqual(['alerts.jsonl', 'dead-letters.jsonl', 'results.jsonl', 'scores.jsonl', 'shadow-alerts.jsonl']);
    const lines = (f: string) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(lines('scores.jsonl').map((s) => [s.ref, s.anomalous])).toEqual([
      ['a', false],
      ['b', true],
      ['d', false],
    ]);
    expect(lines('alerts.jsonl').map((a) => a.trigger)).toEqual(['b']);
    expect(lines('results.jsonl').length).toBeGreaterThan(0);
    expect(lines('dead-letters.jsonl').map((d) => d.reason)).toEqual(['missing_key']);

    writeFileSync(join(dir, 'unrelated.txt'), 'kept');
    const log = await run();
    expect(readdirSync(dir).sort()).toEqual(['alerts.jsonl', 'dead-letters.jsonl', 'unrelated.txt']);
    expect(lines('alerts.jsonl').map((a) => a.trigger)).toEqual(['b']);
    expect(log).toContain("removed an earlier run's files of outputs not selected by --outputs");
    expect(log).toContain('"removed":["results.jsonl","scores.jsonl","shadow-alerts.jsonl"]');
    // Nothing stale left: a second run the same way removes nothing.
    expect(await run()).not.toContain('removed');
    expect(existsSync(join(dir, 'scores.jsonl'))).toBe(false);
  });

  it('builds no scores when no sink takes them; the detectors judge and alert all the same', async () => {
    const runWith = async (outputs: Array<'alerts' | 'scores'>) => {
      const sink = memorySink('m', outputs);
      const summary = await new Engine({ loaded: config(YAML), mode: 'replay', sources: [memorySource(RECORDS, { name: 'payments' })], sinks: [sink] }).run();
      return { sink, summary };
    };
    const without = await runWith(['alerts']);
    const withScores = await runWith(['alerts', 'scores']);
    expect(without.sink.scores).toEqual([]);
    expect(withScores.sink.scores).toHaveLength(3);
    expect(without.sink.alerts).toEqual(withScores.sink.alerts);
    expect(without.summary.detectors).toEqual(withScores.summary.detectors);
  });

  it('on the command line: --outputs needs --out, and an unknown name is a usage error', () => {
    const dir = tempDir();
    const file = join(dir, 'cfg.yaml');
    writeFileSync(file, YAML);
    const input = join(dir, 'in.ndjson');
    writeFileSync(input, RECORDS.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const bad = vigie(['replay', '-c', file, '--input', input, '--out', join(dir, 'out'), '--outputs', 'alerts,scorse']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('vigie: VIGIE_ERR_USAGE: --outputs: unknown output "scorse" (did you mean "scores"?)');
    const alone = vigie(['replay', '-c', file, '--input', input, '--outputs', 'alerts']);
    expect(alone.status).toBe(2);
    expect(alone.stderr).toContain('--outputs only applies with --out DIR');
    const ok = vigie(['replay', '-c', file, '--input', input, '--out', join(dir, 'out'), '--outputs', 'scores']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(readdirSync(join(dir, 'out'))).toEqual(['scores.jsonl']);
    expect(JSON.parse(ok.stdout).alerts.total).toBe(1);
  });
});
