import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { create, formatAlert, formatAlertEntry, formatDeadLetter, formatResult, schema } from '../../sinks/console.js';
import type { SinkBatch, SinkContext } from '../../sinks/types.js';
import { silentLogger } from '../../src/log.js';
import type { Alert, DeadLetter, WindowResult } from '../../src/types.js';

const T = Date.UTC(2026, 0, 1, 10, 0, 0);

function alert(over: Partial<Alert> = {}): Alert {
  return {
    id: '3f2a1b9c77d04e11',
    detector: 'card-testing',
    detectorType: 'threshold',
    pipeline: 'cards',
    severity: 'high',
    key: 'C0042',
    window: { start: T, end: T + 300_000 },
    revision: 0,
    eventTime: T + 300_000,
    detectedAt: T + 301_000,
    observed: 14,
    threshold: 10,
    score: 1.4,
    explanation: '14 authorisations in 5 minutes (limit 10)',
    evidence: ['e1', 'e2'],
    configVersion: 'abc',
    ...over,
  };
}

function result(over: Partial<WindowResult> = {}): WindowResult {
  return {
    pipeline: 'cards',
    key: 'C0042',
    start: T,
    end: T + 300_000,
    revision: 0,
    kind: 'final',
    values: { total: 310.5, avg: 12.3456789, top: 'FR', none: null },
    count: 14,
    evidence: [],
    ...over,
  };
}

function deadLetter(over: Partial<DeadLetter> = {}): DeadLetter {
  return {
    reason: 'bad_timestamp',
    detail: 'field "ts": not a date',
    source: 'orders',
    partition: 2,
    offset: 1200,
    raw: '{"ts":"secret-raw-value"}',
    ...over,
  };
}

/** A stream that records chunks; with `hold`, it keeps write callbacks until `release()`. */
function capture(opts: { highWaterMark?: number; hold?: boolean } = {}) {
  const chunks: string[] = [];
  const pending: (() => void)[] = [];
  const stream = new Writable({
    highWaterMark: opts.highWaterMark ?? 16 * 1024,
    decodeStrings: false,
    write(chunk: string, _enc, cb) {
      chunks.push(String(chunk));
      if (opts.hold) pending.push(() => cb());
      else cb();
    },
  });
  return {
    stream,
    text: () => chunks.join(''),
    release: () => {
      for (const cb of pending.splice(0)) cb();
    },
  };
}

function ctx(stdout: NodeJS.WritableStream): SinkContext {
  return { baseDir: '/nonexistent', stdout, logger: silentLogger };
}

const batch = (b: Partial<SinkBatch>): SinkBatch => ({ alerts: [], results: [], deadLetters: [], ...b });

describe('console sink', () => {
  it('applies defaults and rejects unknown fields', () => {
    const cfg = schema.parse({ name: 'c', type: 'console' });
    expect(cfg.outputs).toEqual(['alerts']);
    expect(cfg.color).toBe(false);
    expect(schema.safeParse({ name: 'c', type: 'console', colour: true }).success).toBe(false);
    expect(schema.safeParse({ name: 'c', type: 'console', outputs: ['bogus'] }).success).toBe(false);
    expect(schema.safeParse({ name: 'c', type: 'console', outputs: [] }).success).toBe(false);
  });

  it('formats an alert as one readable line', () => {
    expect(formatAlert(alert())).toBe(
      '2026-01-01T10:05:00.000Z HIGH card-testing key=C0042 window=[10:00:00,10:05:00) observed=14 threshold=10 ' +
        '\u2014 14 authorisations in 5 minutes (limit 10) (id 3f2a1b9c\u2026)',
    );
  });

  it('prints windows crossing midnight with full dates and omits absent windows', () => {
    const end = Date.UTC(2026, 0, 2, 0, 0, 0);
    const line = formatAlert(alert({ window: { start: end - 600_000, end }, eventTime: end }));
    expect(line).toContain('window=[2026-01-01T23:50:00.000Z,00:00:00)');
    expect(formatAlert(alert({ window: null }))).not.toContain('window=');
  });

  it('keeps hostile keys and explanations on one line without terminal escapes', () => {
    const line = formatAlert(alert({ key: 'a b\u001b[2J\u009b', explanation: 'line1\nline2\u001b[31m' }));
    expect(line).not.toMatch(/[\n\r\u001b\u009b]/);
    expect(line).toContain('key="a b\\u001b[2J\\u009b"');
    expect(line).toContain('line1 line2 [31m');
  });

  it('colours the severity only when asked', () => {
    expect(formatAlert(alert(), true)).toContain('\u001b[31mHIGH\u001b[0m');
    expect(formatAlert(alert(), false)).not.toContain('\u001b');
  });

  it('names the triggering event when the alert has one', () => {
    expect(formatAlert(alert({ window: null, trigger: 'p9' }))).toContain('observed=14 threshold=10 event=p9 \u2014');
    expect(formatAlert(alert())).not.toContain('event=');
    expect(formatAlertEntry(alert({ trigger: 'p9' }))).toMatch(/^10:05:00 HIGH +card-testing {2}key C0042 {2}observed 14, threshold 10 {2}event p9\n/);
    expect(formatAlertEntry(alert({ trigger: 'a b' }))).toContain('event "a b"');
  });

  it('does not crash on impossible times', () => {
    expect(formatAlert(alert({ eventTime: Number.NaN }))).toMatch(/^NaN HIGH/);
  });

  it('formats results and dead letters compactly, never printing raw input', () => {
    expect(formatResult(result())).toBe(
      '2026-01-01T10:05:00.000Z RESULT pipeline=cards key=C0042 window=[10:00:00,10:05:00) final rev=0 count=14 total=310.5 avg=12.3457 top=FR none=null',
    );
    const dl = formatDeadLetter(deadLetter({ time: T }));
    expect(dl).toBe(
      '2026-01-01T10:00:00.000Z DEAD reason=bad_timestamp source=orders at=2:1200 \u2014 field "ts": not a date',
    );
    expect(dl).not.toContain('secret-raw-value');
    expect(formatDeadLetter(deadLetter({ pipeline: 'p' }))).toMatch(/^- DEAD .* pipeline=p at=2:1200/);
  });

  it('writes only the selected outputs, one line per record, and does not acknowledge', async () => {
    const out = capture();
    const sink = create(schema.parse({ name: 'c', type: 'console', outputs: ['alerts', 'deadLetters'] }), ctx(out.stream));
    expect(sink.acknowledges).toBe(false);
    expect([...sink.outputs]).toEqual(['alerts', 'deadLetters']);
    await sink.write(batch({ alerts: [alert(), alert({ key: 'C2' })], results: [result()], deadLetters: [deadLetter()] }));
    const lines = out.text().split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toContain('key=C0042');
    expect(lines[1]).toContain('key=C2');
    expect(lines[2]).toContain(' DEAD ');
    expect(out.text()).not.toContain('RESULT');
    await sink.close();
    await sink.close();
    await expect(sink.write(batch({}))).rejects.toThrow(/closed/);
  });

  it('waits for drain when the stream signals backpressure', async () => {
    const out = capture({ highWaterMark: 1, hold: true });
    const sink = create(schema.parse({ name: 'c', type: 'console' }), ctx(out.stream));
    let done = false;
    const p = sink.write(batch({ alerts: [alert()] })).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(out.text()).toContain('card-testing');
    expect(done).toBe(false);
    out.release();
    await p;
    expect(done).toBe(true);
  });

  it('keeps batches in order and splits large batches into chunks', async () => {
    const out = capture({ highWaterMark: 1, hold: true });
    const sink = create(schema.parse({ name: 'c', type: 'console' }), ctx(out.stream));
    const many = Array.from({ length: 2000 }, (_, i) => alert({ key: `K${i}` }));
    const p1 = sink.write(batch({ alerts: many }));
    const p2 = sink.write(batch({ alerts: [alert({ key: 'LAST' })] }));
    const timer = setInterval(out.release, 1);
    try {
      await Promise.all([p1, p2]);
    } finally {
      clearInterval(timer);
    }
    const lines = out.text().trimEnd().split('\n');
    expect(lines).toHaveLength(2001);
    expect(lines[1999]).toContain('key=K1999');
    expect(lines[2000]).toContain('key=LAST');
  });

  it('rejects instead of hanging when the stream closes while waiting for drain', async () => {
    const out = capture({ highWaterMark: 1, hold: true });
    const sink = create(schema.parse({ name: 'c', type: 'console' }), ctx(out.stream));
    const p = sink.write(batch({ alerts: [alert()] }));
    out.stream.destroy();
    await expect(p).rejects.toThrow();
  });

  it('for a person: each alert as a short entry, time severity detector key, then the explanation', async () => {
    const a = alert({ explanation: 'card-testing: payments for card C0042 was 14 in window [...], at or above the threshold 10.' });
    expect(formatAlertEntry(a)).toBe(
      '10:05:00 HIGH     card-testing  key C0042  observed 14, threshold 10\n' + '         payments for card C0042 was 14 in window [...], at or above the threshold 10.',
    );
    // A backlog or a replay: the event is not from the day the alert was raised.
    expect(formatAlertEntry(alert({ detectedAt: T + 86_400_000 }))).toMatch(/^2026-01-01 10:05:00 HIGH /);
    expect(formatAlertEntry(alert({ key: 'a\u001b[2Jb', explanation: 'x\ny' }))).not.toMatch(/\u001b|x\ny/);
    const out = capture();
    const sink = create(schema.parse({ name: 'c', type: 'console', outputs: ['alerts', 'shadowAlerts'] }), { ...ctx(out.stream), readable: true });
    await sink.write(batch({ alerts: [a], shadowAlerts: [alert({ detector: 'new-rule' })] }));
    const lines = out.text().trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^10:05:00 HIGH +card-testing {2}key C0042/);
    expect(lines[2]).toMatch(/^\[shadow\] 10:05:00 HIGH +new-rule/);
    // Not on a terminal: no colour unless the config asks for it.
    expect(out.text()).not.toContain('\u001b');
  });
});
