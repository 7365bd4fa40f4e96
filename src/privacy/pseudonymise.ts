import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { DeadLetter, VEvent } from '../types.js';
import { VigieError } from '../errors.js';

/**
 * Pseudonymisation of personal identifiers at ingestion: each listed field's value is replaced by a keyed
 * HMAC-SHA-256 pseudonym before any pipeline, state, log or output sees it. The same value and key always
 * give the same pseudonym, so keys, counts, distinct values and first-seen work unchanged on pseudonyms.
 * Re-identification is outside the engine: whoever holds the key recomputes the pseudonym of a candidate
 * value and compares (see SECURITY.md).
 */
export const pseudonymiseSchema = z
  .strictObject({
    fields: z.array(z.string().min(1)).min(1).describe('Personal identifiers (customer, card, IBAN, tax number, IP...) replaced by their pseudonym at ingestion.'),
    keyEnv: z.string().min(1).optional().describe('Environment variable holding the secret key (at least 32 characters).'),
    keyFile: z.string().min(1).optional().describe('File holding the secret key (at least 32 characters; trailing newline ignored); relative to the config file.'),
    keyId: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,32}$/, 'letters, digits, ".", "_" and "-", at most 32')
      .describe('Identifier of the key, carried in pseudonyms (`<keyId>:<hmac>`) and alerts so that a rotated key is told apart.'),
    deadLetters: z
      .enum(['pseudonymise', 'drop'])
      .default('pseudonymise')
      .describe(
        'Dead letters keep the raw input: `pseudonymise` replaces the listed fields in a raw JSON object (and drops raw input that cannot be parsed, keeping its size), `drop` never keeps raw input.',
      ),
  })
  .refine((c) => (c.keyEnv === undefined) !== (c.keyFile === undefined), { message: 'give exactly one of keyEnv and keyFile' });
export type PseudonymiseConfig = z.infer<typeof pseudonymiseSchema>;

const MIN_KEY_LENGTH = 32;

/** Read the key from the environment or a file; errors name where it was looked for, never its content. */
export function loadKey(cfg: PseudonymiseConfig, baseDir: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  let key: string | undefined;
  if (cfg.keyEnv !== undefined) {
    key = env[cfg.keyEnv];
    if (key === undefined || key === '') throw new VigieError('VIGIE_ERR_CONFIG', `privacy.pseudonymise: environment variable ${cfg.keyEnv} is not set`);
  } else {
    const path = resolve(baseDir, cfg.keyFile as string);
    try {
      key = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new VigieError('VIGIE_ERR_CONFIG', `privacy.pseudonymise: cannot read key file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  if (key.length < MIN_KEY_LENGTH) throw new VigieError('VIGIE_ERR_CONFIG', `privacy.pseudonymise: the key must have at least ${MIN_KEY_LENGTH} characters`);
  return Buffer.from(key, 'utf8');
}

export class Pseudonymiser {
  private readonly fields: readonly string[];
  private readonly cache = new Map<string, string>();

  constructor(
    private readonly cfg: PseudonymiseConfig,
    private readonly key: Buffer,
  ) {
    this.fields = cfg.fields;
  }

  get keyId(): string {
    return this.cfg.keyId;
  }

  /** `<keyId>:<first 32 hex digits of HMAC-SHA-256(key, field NUL value)>`: stable per key, field and value. */
  pseudonym(field: string, value: string): string {
    const k = `${field}\u0000${value}`;
    let p = this.cache.get(k);
    if (p === undefined) {
      p = `${this.cfg.keyId}:${createHmac('sha256', this.key).update(k).digest('hex').slice(0, 32)}`;
      if (this.cache.size >= 100_000) this.cache.clear();
      this.cache.set(k, p);
    }
    return p;
  }

  /** Replace the listed fields of a payload (scalars only; other types are removed: they cannot be keys). */
  apply(payload: Record<string, unknown>): void {
    for (let i = 0; i < this.fields.length; i++) {
      const f = this.fields[i];
      if (!Object.hasOwn(payload, f)) continue;
      const v = payload[f];
      if (v === null || v === undefined) continue;
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') payload[f] = this.pseudonym(f, String(v));
      else delete payload[f];
    }
  }

  event(e: VEvent): void {
    this.apply(e.payload);
  }

  /** Dead letters keep the raw input: pseudonymise what can be, drop the rest (keeping its size for diagnosis). */
  deadLetter(dl: DeadLetter): void {
    const raw = dl.raw;
    if (this.cfg.deadLetters === 'drop') {
      dl.raw = { dropped: 'privacy', bytes: dl.size ?? sizeOf(raw) };
      return;
    }
    if (raw !== null && typeof raw === 'object' && !Array.isArray(raw) && !(raw instanceof Uint8Array)) {
      const copy = { ...(raw as Record<string, unknown>) };
      this.apply(copy);
      dl.raw = copy;
      return;
    }
    if (typeof raw === 'string') {
      try {
        const parsed: unknown = JSON.parse(raw);
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
          this.apply(parsed as Record<string, unknown>);
          dl.raw = JSON.stringify(parsed);
          return;
        }
        if (typeof parsed !== 'string') return; // numbers, arrays of numbers...: no identifier to hide
      } catch {
        // not JSON: cannot tell where identifiers are
      }
    }
    if (raw === null || raw === undefined || typeof raw === 'number' || typeof raw === 'boolean') return;
    dl.raw = { dropped: 'privacy', bytes: dl.size ?? sizeOf(raw) };
  }
}

function sizeOf(raw: unknown): number {
  if (typeof raw === 'string') return Buffer.byteLength(raw);
  if (raw instanceof Uint8Array) return raw.byteLength;
  try {
    return Buffer.byteLength(JSON.stringify(raw) ?? '');
  } catch {
    return 0;
  }
}
