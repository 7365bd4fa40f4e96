/**
 * Triage, the pure part: the states an analyst gives an alert or a key, the request that sets one,
 * and what a change writes (the subject's state hash, its audit entry, one label per event). No I/O:
 * triage-store.ts sends these to Redis.
 */
import { z } from 'zod';
import type { StoredAlert } from './alert-entry.js';
import { keepLatest } from '../engine/labels-file.js';
import { HttpError } from './http.js';

export const TRIAGE_STATES = ['new', 'investigating', 'confirmed_fraud', 'false_positive'] as const;
export type TriageState = (typeof TRIAGE_STATES)[number];

export const SUBJECTS = ['alert', 'key'] as const;
export type Subject = (typeof SUBJECTS)[number];

/** Comments are plain text of at most this many characters. */
export const MAX_COMMENT = 2000;
const MAX_ID = 1000;

export const DEFAULT_TRIAGE_PREFIX = 'vigie:triage';
export const DEFAULT_AUDIT_STREAM = 'vigie:console:audit';
export const DEFAULT_LABELS_STREAM = 'vigie:labels';
/** The audit stream is trimmed to about this many entries (MAXLEN ~). */
export const AUDIT_MAXLEN = 100_000;

/** Where triage lives in Redis. */
export interface TriageKeys {
  /** Prefix of the state hashes: PREFIX:alert:ID, PREFIX:key:KEY. */
  prefix: string;
  auditStream: string;
  labelsStream: string;
}

export const DEFAULT_TRIAGE_KEYS: TriageKeys = { prefix: DEFAULT_TRIAGE_PREFIX, auditStream: DEFAULT_AUDIT_STREAM, labelsStream: DEFAULT_LABELS_STREAM };

// Control characters other than tab and line breaks have no place in a comment.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export const triageRequestSchema = z.strictObject({
  subject: z.enum(SUBJECTS),
  id: z.string().min(1).max(MAX_ID),
  state: z.enum(TRIAGE_STATES),
  comment: z
    .string()
    .max(MAX_COMMENT, `at most ${MAX_COMMENT} characters`)
    .refine((c) => !CONTROL.test(c), 'plain text only (no control characters)')
    .optional(),
});
export type TriageRequest = z.infer<typeof triageRequestSchema>;

/** The request body as a triage request, or a 400 naming each problem. */
export function parseTriageRequest(body: unknown): TriageRequest {
  const r = triageRequestSchema.safeParse(body);
  // Lone surrogates cannot be stored as text (Redis' JSON decoder refuses them): U+FFFD instead.
  if (r.success) return { ...r.data, comment: r.data.comment?.replace(/\p{Surrogate}/gu, '\uFFFD').trim() };
  const problems = r.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : 'body'}: ${i.message}`);
  throw new HttpError(400, 'bad_request', `invalid triage: ${problems.join('; ')}`);
}

/** A subject named by a query (`?subject=alert&id=...`), or a 400. */
export function subjectParam(subject: string | null, id: string | null): { subject: Subject; id: string } {
  if (subject === null || !(SUBJECTS as readonly string[]).includes(subject)) throw new HttpError(400, 'bad_request', `subject: expected one of ${SUBJECTS.join(', ')}, got "${subject ?? ''}"`);
  if (id === null || id === '' || id.length > MAX_ID) throw new HttpError(400, 'bad_request', `id: expected 1 to ${MAX_ID} characters`);
  return { subject: subject as Subject, id };
}

export function stateKey(keys: TriageKeys, subject: Subject, id: string): string {
  return `${keys.prefix}:${subject}:${id}`;
}

/** One label: a verdict on one event, as published on the labels stream and exported. */
export interface Label {
  /** Evidence reference of the event (its id, or source:partition:offset). */
  event: string;
  key: string;
  verdict: TriageState;
  /** The alert triaged; empty when a whole key was. */
  alert: string;
  subject: Subject;
  /** Triage time, ms since the epoch: the label is valid from then on. */
  time: number;
}

export const LABEL_FIELDS = ['event', 'key', 'verdict', 'alert', 'subject', 'time'] as const;

/** A triage change, once its subject was found: everything written, but the previous state (read atomically in Redis). */
export interface TriageChange {
  subject: Subject;
  /** The alert id (for an alert, whatever id the request used) or the key. */
  id: string;
  key: string;
  state: TriageState;
  comment: string;
  role: string;
  at: number;
  /** Set on an alert subject. */
  detector?: string;
  labels: Label[];
}

/** The labels of a change: one per distinct evidence event of the alerts concerned, in their order. */
export function labelsOf(subject: Subject, alerts: readonly StoredAlert[], state: TriageState, at: number): Label[] {
  const seen = new Set<string>();
  const labels: Label[] = [];
  for (const a of alerts) {
    for (const ref of evidenceRefs(a.evidence)) {
      if (seen.has(ref)) continue;
      seen.add(ref);
      labels.push({ event: ref, key: a.key, verdict: state, alert: subject === 'alert' ? a.id : '', subject, time: at });
    }
  }
  return labels;
}

/** The event references of an alert's evidence: strings, or objects with an `id`/`ref`. */
export function evidenceRefs(evidence: unknown): string[] {
  if (!Array.isArray(evidence)) return [];
  const refs: string[] = [];
  for (const e of evidence) {
    if (typeof e === 'string' && e !== '') refs.push(e);
    else if (typeof e === 'object' && e !== null) {
      const ref = (e as Record<string, unknown>).ref ?? (e as Record<string, unknown>).id;
      if (typeof ref === 'string' && ref !== '') refs.push(ref);
    }
  }
  return refs;
}

export function triageChange(req: TriageRequest, alerts: readonly StoredAlert[], role: string, at: number): TriageChange {
  const alert = req.subject === 'alert' ? alerts[0] : undefined;
  return {
    subject: req.subject,
    id: alert?.id ?? req.id,
    key: alert?.key ?? req.id,
    state: req.state,
    comment: req.comment ?? '',
    role,
    at,
    detector: alert?.detector,
    labels: labelsOf(req.subject, alerts, req.state, at),
  };
}

/** The state hash's fields (flat). */
export function stateFields(c: TriageChange): string[] {
  const f = ['state', c.state, 'comment', c.comment, 'role', c.role, 'at', String(c.at)];
  if (c.subject === 'alert') f.push('key', c.key, 'detector', c.detector ?? '');
  return f;
}

/** The audit entry's fields (flat), but `previous`, which the script adds. No token, nothing but the pseudonymised key. */
export function auditFields(c: TriageChange): string[] {
  return ['subject', c.subject, 'id', c.id, 'key', c.key, 'state', c.state, 'comment', c.comment, 'role', c.role, 'time', String(c.at)];
}

export function labelFields(l: Label): string[] {
  return ['event', l.event, 'key', l.key, 'verdict', l.verdict, 'alert', l.alert, 'subject', l.subject, 'time', String(l.time)];
}

/** A labels stream entry read back (undefined when it is not one). */
export function parseLabel(f: Record<string, string>): Label | undefined {
  const time = Number(f.time);
  if (!f.event || f.key === undefined || !(TRIAGE_STATES as readonly string[]).includes(f.verdict) || !Number.isFinite(time)) return undefined;
  return { event: f.event, key: f.key, verdict: f.verdict as TriageState, alert: f.alert ?? '', subject: f.subject === 'key' ? 'key' : 'alert', time };
}

/** The current state of a subject, as stored in its hash (undefined: never triaged). */
export interface TriageStatus {
  state: TriageState;
  comment: string;
  role: string;
  at: number;
  key?: string;
  detector?: string;
}

export function parseStatus(h: Record<string, string>): TriageStatus | undefined {
  if (!(TRIAGE_STATES as readonly string[]).includes(h.state)) return undefined;
  const s: TriageStatus = { state: h.state as TriageState, comment: h.comment ?? '', role: h.role ?? '', at: Number(h.at) };
  if (h.key !== undefined) s.key = h.key;
  if (h.detector !== undefined) s.detector = h.detector;
  return s;
}

/** One audit entry read back. */
export interface AuditEntry {
  entryId: string;
  subject: Subject;
  id: string;
  key: string;
  previous: string;
  state: string;
  comment: string;
  role: string;
  time: number;
}

export function parseAudit(entryId: string, f: Record<string, string>): AuditEntry {
  return {
    entryId,
    subject: f.subject === 'key' ? 'key' : 'alert',
    id: f.id ?? '',
    key: f.key ?? '',
    previous: f.previous ?? '',
    state: f.state ?? '',
    comment: f.comment ?? '',
    role: f.role ?? '',
    time: Number(f.time),
  };
}

/** The latest label of each event (by triage time, then by order read), oldest first: what an export holds. */
export function latestPerEvent(labels: Iterable<Label>): Label[] {
  const byEvent = new Map<string, Label>();
  for (const l of labels) keepLatest(byEvent, l.event, l);
  return latestOf(byEvent);
}


/** The labels kept, oldest first. */
export function latestOf(byEvent: ReadonlyMap<string, Label>): Label[] {
  return [...byEvent.values()].sort((a, b) => a.time - b.time);
}
