import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSinkRegistry, createSink, sinkRegistry, sinkSchema, type SinkModule } from '../../sinks/index.js';
import { create as createNull, schema as nullSchema } from '../../sinks/null.js';
import { OUTPUT_KINDS, type SinkContext } from '../../sinks/types.js';
import { silentLogger } from '../../src/log.js';
import type { Alert, DeadLetter } from '../../src/types.js';

const ctx = (baseDir: string): SinkContext => ({ baseDir, stdout: process.stdout, logger: silentLogger });

describe('sink registry', () => {
  it('lists every sink type once', () => {
    expect([...sinkRegistry.keys()].sort()).toEqual(['console', 'jsonl', 'kafka', 'null', 'redis']);
    for (const [type, mod] of sinkRegistry) {
      expect(mod.type).toBe(type);
      expect(typeof mod.create).toBe('function');
      expect(mod.summary).toBeTruthy();
      expect(mod.example).toContain(`type: ${type === 'null' ? '"null"' : type}`);
    }
  });

  it('throws on duplicate types', () => {
    const a = sinkRegistry.get('null')!;
    const b: SinkModule = { ...a };
    expect(() => buildSinkRegistry([a, b])).toThrow(/duplicate sink type "null"/);
  });

  it('documents every config field', () => {
    for (const mod of sinkRegistry.values()) {
      const shape = (mod.schema as unknown as { shape: Record<string, { description?: string }> }).shape;
      for (const [field, s] of Object.entries(shape)) {
        expect(s.description, `${mod.type}.${field}`).toBeTruthy();
      }
    }
  });

  it('validates by type and applies defaults', () => {
    const c = sinkSchema.parse({ name: 'c', type: 'console' });
    expect(c).toEqual({ name: 'c', type: 'console', outputs: ['alerts'], color: false });
    expect(sinkSchema.safeParse({ name: 'x', type: 'kafka' }).success).toBe(false);
    // A jsonl-only field is unknown to the console sink.
    expect(sinkSchema.safeParse({ name: 'c', type: 'console', path: 'x' }).success).toBe(false);
    expect(sinkSchema.safeParse({ name: '', type: 'null' }).success).toBe(false);
  });

  it('creates each type from its config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vigie-reg-'));
    try {
      const configs = [
        sinkSchema.parse({ name: 'c', type: 'console', outputs: ['results'] }),
        sinkSchema.parse({ name: 'j', type: 'jsonl', path: 'a.jsonl' }),
        sinkSchema.parse({ name: 'n', type: 'null' }),
      ];
      const sinks = configs.map((cfg) => createSink(cfg, ctx(dir)));
      expect(sinks.map((s) => [s.name, s.type, s.acknowledges])).toEqual([
        ['c', 'console', false],
        ['j', 'jsonl', true],
        ['n', 'null', true],
      ]);
      expect([...sinks[0].outputs]).toEqual(['results']);
      const alert = { id: 'x', detector: 'd' } as Alert;
      await sinks[1].write({ alerts: [alert], results: [], deadLetters: [] });
      expect(await readFile(join(dir, 'a.jsonl'), 'utf8')).toBe('{"kind":"alert","id":"x","detector":"d"}\n');
      await Promise.all(sinks.map((s) => s.close()));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('null sink', () => {
  it('counts the selected outputs it received and acknowledges', async () => {
    const sink = createNull(nullSchema.parse({ name: 'n', type: 'null', outputs: ['alerts', 'deadLetters'] }));
    expect(sink.acknowledges).toBe(true);
    const alerts = [{}, {}] as Alert[];
    const deadLetters = [{}] as DeadLetter[];
    await sink.write({ alerts, results: [{} as never], deadLetters });
    const snapshot = sink.received;
    await sink.write({ alerts, results: [], deadLetters: [] });
    expect(snapshot).toEqual({ batches: 1, alerts: 2, results: 0, deadLetters: 1, scores: 0, shadowAlerts: 0, queue: 0 });
    expect(sink.received).toEqual({ batches: 2, alerts: 4, results: 0, deadLetters: 1, scores: 0, shadowAlerts: 0, queue: 0 });
    await sink.close();
    await expect(sink.write({ alerts, results: [], deadLetters: [] })).rejects.toThrow(/closed/);
  });

  it('defaults to alerts only', () => {
    expect([...createNull(nullSchema.parse({ name: 'n', type: 'null' })).outputs]).toEqual(['alerts']);
    expect(OUTPUT_KINDS).toContain('alerts');
  });
});
