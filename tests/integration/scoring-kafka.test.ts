import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir, vigie } from '../helpers/cli.js';
import { brokers, uniqueTopic, withAdmin } from '../helpers/kafka.js';

/**
 * Learned scoring reads the same through files and through Kafka: config/cards.yaml (the `risk` model
 * trained online from fraud reports, with features read from the terminals pipeline and from three
 * report tables) replayed over the generated cards files, and over the same records put in Kafka
 * (transactions in a one-partition topic keyed by card, reports in a compacted topic read by three
 * `type: kafka` tables versioned by report time) with `replay --from-kafka`: the scores of every
 * payment and the daily ranked queues are the same, record for record.
 */
const DAYS = 20;

let dir: string;
let data: string;
let txTopic: string;
let reportsTopic: string;
let since: string;
let fileA: string;
let fileB: string;
let fileLive: string;
let summaryA: { sources: Record<string, { events: number }>; alerts: { byDetector: Record<string, { total: number }> } };
const children: ChildProcess[] = [];

const env = () => ({ KAFKA_BROKERS: brokers().join(',') });

interface Score {
  detector: string;
  ref: string;
  key: string;
  time: number;
  observed: number;
  score: number;
  strength: number;
  anomalous: boolean;
}

/** config/cards.yaml with the model learning after 2 days, over files or over Kafka, writing scores and queue to `out`. */
function config(over: 'files' | 'kafka', out: string, group = 'unused'): string {
  let text = readFileSync(join(ROOT, 'config/cards.yaml'), 'utf8');
  const replace = (from: string | RegExp, to: string) => {
    const next = text.replace(from, to);
    expect(next, `config/cards.yaml no longer holds ${String(from)}`).not.toBe(text);
    text = next;
  };
  replace('learnAfter: 7d', 'learnAfter: 2d');
  replace('  - { name: console, type: console }', `  - { name: out, type: jsonl, path: ${join(out, 'out.jsonl')}, outputs: [scores, queue], perOutput: true }\nmetrics: { enabled: false }`);
  if (over === 'files') {
    text = text.replaceAll('../data/cards/', `${data}/`);
    return text;
  }
  const client = `client: { brokers: "\${KAFKA_BROKERS}" }`;
  // No `partitionedBy`: the model reads the terminals pipeline's judgements, which needs both
  // pipelines in one task (validate refuses a re-keyed reader); one partition holds every payment.
  replace(/    type: ndjson-file\n    path: [^\n]+\n/, `    type: kafka\n    topics: [${txTopic}]\n    groupId: ${group}\n    ${client}\n`);
  // One compacted topic keyed by the transaction reported; the tables key its rows by a value field.
  replace(/type: file, path: \.\.\/data\/cards\/reports\.ndjson, key: event,/, `type: kafka, topic: ${reportsTopic}, ${client},`);
  replace(/type: file, path: \.\.\/data\/cards\/reports\.ndjson, key: terminal,/, `type: kafka, topic: ${reportsTopic}, ${client}, key: terminal,`);
  replace(/type: file, path: \.\.\/data\/cards\/reports\.ndjson, key: customer,/, `type: kafka, topic: ${reportsTopic}, ${client}, key: customer,`);
  expect(text).not.toContain('../data/');
  return text;
}

/** The complete lines of a JSONL file (another process may be writing the last one). */
function lines<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  const all = readFileSync(file, 'utf8').split('\n');
  all.pop();
  return all.filter(Boolean).map((l) => JSON.parse(l) as T);
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(250);
  }
  return cond();
}

function produce(topic: string, file: string, key: string): void {
  const r = vigie(['produce', '--topic', topic, '--input', file, '--key', key, '--rate', '1000000', '--brokers', brokers().join(',')], { env: env() });
  expect(r.status, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ topic, stoppedBy: 'input', events: readFileSync(file, 'utf8').split('\n').filter(Boolean).length });
}

beforeAll(async () => {
  dir = tempDir('vigie-scoring-kafka-');
  data = join(dir, 'data');
  const gen = vigie(['generate', '--scenario', 'cards', '--days', String(DAYS), '--customers', '300', '--terminals', '600', '--seed', '5', '--out', data]);
  expect(gen.status, gen.stderr).toBe(0);
  txTopic = uniqueTopic('cards-transactions');
  reportsTopic = uniqueTopic('cards-reports');
  // Record timestamps are the produce time (event times are in the values): the replay starts a minute before.
  since = new Date(Date.now() - 60_000).toISOString();
  await withAdmin((admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: txTopic, numPartitions: 1 },
        { topic: reportsTopic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
      ],
    }),
  );
  produce(txTopic, join(data, 'transactions.ndjson'), 'customer');
  // Each fraud is reported once: the transaction reported is a unique record key (nothing compacted away).
  produce(reportsTopic, join(data, 'reports.ndjson'), 'event');
  fileA = join(dir, 'a.yaml');
  fileB = join(dir, 'b.yaml');
  writeFileSync(fileA, config('files', join(dir, 'a')));
  writeFileSync(fileB, config('kafka', join(dir, 'b'), uniqueTopic('cards-group')));
  fileLive = join(dir, 'live.yaml');
  writeFileSync(fileLive, config('kafka', join(dir, 'live'), uniqueTopic('cards-group')));
  // The reference: the replay of the files.
  const a = vigie(['replay', '-c', fileA]);
  expect(a.status, a.stderr).toBe(0);
  summaryA = JSON.parse(a.stdout);
}, 180_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await withAdmin((admin) => admin.deleteTopics({ topics: [txTopic, reportsTopic] })).catch(() => undefined);
});

describe('learned scoring: replay of files and replay from Kafka', () => {
  it('gives the same risk scores and the same ranked queues', { timeout: 180_000 }, () => {
    const outA = join(dir, 'a');
    const outB = join(dir, 'b');
    const b = vigie(['replay', '-c', fileB, '--from-kafka', txTopic, '--since', since], { env: env() });
    expect(b.status, b.stderr).toBe(0);

    const transactions = lines<{ id: string }>(join(data, 'transactions.ndjson'));
    const reports = lines<{ id: string }>(join(data, 'reports.ndjson'));
    const sa = summaryA;
    const sb = JSON.parse(b.stdout);
    expect(sa.sources.transactions.events).toBe(transactions.length);
    expect(sb.sources.transactions.events).toBe(transactions.length);

    const scoresA = lines<Score>(join(outA, 'out.scores.jsonl')).filter((s) => s.detector === 'risk');
    const scoresB = lines<Score>(join(outB, 'out.scores.jsonl')).filter((s) => s.detector === 'risk');
    // Every payment scored once, in both runs.
    expect(scoresA).toHaveLength(transactions.length);
    expect(new Set(scoresA.map((s) => s.ref))).toEqual(new Set(transactions.map((t) => t.id)));

    // Not vacuous: the model learnt. Its first scores are the prior; a week in, nearly every payment
    // has a score of its own, well above or below the prior, and the payments scored 0.5 or more are
    // frauds several times more often than payments in general.
    const prior = scoresA[0].observed;
    expect(scoresA.slice(0, 50).every((s) => s.observed === prior)).toBe(true);
    const late = scoresA.filter((s) => s.time >= scoresA[0].time + 7 * 86_400_000);
    expect(new Set(late.map((s) => s.observed)).size).toBeGreaterThan(late.length / 2);
    const baseRate = reports.length / transactions.length;
    const high = late.filter((s) => s.observed >= 0.5);
    expect(high.length).toBeGreaterThan(20);
    expect(late.filter((s) => s.observed < baseRate / 2).length).toBeGreaterThan(late.length / 4);
    const frauds = new Set(lines<{ event: string }>(join(data, 'reports.ndjson')).map((r) => r.event));
    expect(high.filter((s) => frauds.has(s.ref)).length / high.length).toBeGreaterThan(3 * baseRate);
    expect(sa.alerts.byDetector.risk.total).toBeGreaterThan(0);

    // The same scores, payment by payment, in the same order.
    const byRef = (ss: Score[]) => ss.map((s) => [s.ref, s.key, s.time, s.observed, s.score, s.strength, s.anomalous]);
    expect(byRef(scoresB)).toEqual(byRef(scoresA));
    expect(sb.alerts).toEqual(sa.alerts);

    // The same daily queues: one per day of payments, the 100 riskiest cards not yet reported.
    const queueA = readFileSync(join(outA, 'out.queue.jsonl'), 'utf8');
    const queueB = readFileSync(join(outB, 'out.queue.jsonl'), 'utf8');
    const days = new Set(lines<{ start: number }>(join(outA, 'out.queue.jsonl')).map((q) => q.start));
    expect(days.size).toBeGreaterThanOrEqual(DAYS - 1);
    expect(queueB).toBe(queueA);
  });

  it('replay --out --outputs scores writes the same scores from files read in small batches and from Kafka', { timeout: 180_000 }, () => {
    const outA = join(dir, 'out-a');
    const outB = join(dir, 'out-b');
    // Batches of 50 payments from the file, whole fetches from Kafka: the batch boundaries differ throughout.
    const a = vigie(['replay', '-c', fileA, '--batch-size', '50', '--out', outA, '--outputs', 'scores']);
    expect(a.status, a.stderr).toBe(0);
    const b = vigie(['replay', '-c', fileB, '--from-kafka', txTopic, '--since', since, '--out', outB, '--outputs', 'scores'], { env: env() });
    expect(b.status, b.stderr).toBe(0);
    const batches = (r: { stdout: string }) => (JSON.parse(r.stdout) as { batches: number }).batches;
    expect(batches(a)).toBeGreaterThan(10 * batches(b));
    const scoresA = readFileSync(join(outA, 'scores.jsonl'), 'utf8');
    expect(scoresA.split('\n').filter(Boolean).length).toBeGreaterThan(1000);
    expect(readFileSync(join(outB, 'scores.jsonl'), 'utf8')).toBe(scoresA);
  });

  it('vigie run on the topics scores every payment the watermark has passed as the replay does', { timeout: 180_000 }, async () => {
    // The replay of the files is the reference (the first test shows the Kafka replay is the same).
    const ref = join(dir, 'a');
    const out = join(dir, 'live');
    const child = spawn(process.execPath, [join(ROOT, 'bin/vigie.js'), 'run', '-c', fileLive], {
      cwd: ROOT,
      env: { ...process.env, ...env(), VIGIE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr += d));
    // Live, the event detectors get a payment once the watermark (latest time - maxOutOfOrderness 1m)
    // has passed it: the payments of the last minute wait for later ones, and so does the last day's queue.
    const transactions = lines<{ time: number }>(join(data, 'transactions.ndjson'));
    const watermark = Math.max(...transactions.map((t) => t.time)) - 60_000;
    const released = transactions.filter((t) => t.time < watermark).length;
    expect(released).toBeGreaterThan(transactions.length - 5);
    const scoresFile = join(out, 'out.scores.jsonl');
    const done = await until(() => lines(scoresFile).length >= released, 120_000);
    await sleep(1000);
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
    expect(done, stderr).toBe(true);
    expect(child.exitCode, stderr).toBe(0);

    const live = readFileSync(scoresFile, 'utf8').split('\n').filter(Boolean);
    const replay = readFileSync(join(ref, 'out.scores.jsonl'), 'utf8').split('\n').filter(Boolean);
    expect(live).toHaveLength(released);
    expect(live).toEqual(replay.slice(0, released));
    const queue = readFileSync(join(out, 'out.queue.jsonl'), 'utf8').split('\n').filter(Boolean);
    const replayQueue = readFileSync(join(ref, 'out.queue.jsonl'), 'utf8').split('\n').filter(Boolean);
    const closed = replayQueue.filter((l) => (JSON.parse(l) as { end: number }).end <= watermark);
    expect(closed.length).toBeGreaterThanOrEqual((DAYS - 2) * 100);
    expect(queue).toEqual(closed);
  });
});
