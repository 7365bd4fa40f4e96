import { z } from 'zod';
import { positiveDurationSchema } from '../time/duration.js';
import { timeFormatSchema } from '../time/timestamp.js';

const scalar = z.union([z.string(), z.number(), z.boolean()]);
/** A field of the mapped event: top level, so no dot; never a name that reaches prototypes. */
const fieldName = z
  .string()
  .min(1)
  .regex(/^[^.]+$/, 'a top-level field name (no ".")')
  .refine((f) => f !== '__proto__' && f !== 'constructor' && f !== 'prototype', 'not a usable field name');
/** A field of the record as it came: a top-level name, or a dotted path into nested objects. */
const fieldPath = z.string().min(1).regex(/^[^.](.*[^.])?$/, 'a field name or a dotted path (no leading or trailing ".")');

/** The operations of a derivation: each derivation has exactly one. */
export const DERIVE_OPS = ['concat', 'coalesce', 'copy', 'lower', 'upper'] as const;

/** The closed set of derivations: an object with exactly one operation key (and `separator` for concat). */
export const deriveSchema = z
  .strictObject({
    concat: z.array(fieldPath).min(2).optional().describe('Fields whose values (strings, numbers, booleans) are joined, in this order; absent when one is absent or not such a value.'),
    separator: z.string().optional().describe('With concat: put between the joined values (default "|").'),
    coalesce: z.array(fieldPath).min(2).optional().describe('The value of the first of these fields that is present (not absent, not null).'),
    copy: fieldPath.optional().describe('The value of this field, as it is.'),
    lower: fieldPath.optional().describe('The value of this field (a string, number or boolean) as lower-case text.'),
    upper: fieldPath.optional().describe('The value of this field (a string, number or boolean) as upper-case text.'),
  })
  .superRefine((d, ctx) => {
    const ops = DERIVE_OPS.filter((op) => d[op] !== undefined);
    if (ops.length !== 1) {
      ctx.addIssue({ code: 'custom', path: ops.length > 1 ? [ops[1]] : [], message: `give exactly one of ${DERIVE_OPS.join(', ')}${ops.length > 1 ? ` (got ${ops.join(' and ')})` : ''}` });
    }
    if (d.separator !== undefined && d.concat === undefined) ctx.addIssue({ code: 'custom', path: ['separator'], message: 'separator goes with concat only' });
  });
export type Derivation = z.infer<typeof deriveSchema>;

/** How a source's records become events: shared by every source type. */
export const mappingShape = {
  rename: z
    .record(fieldPath, fieldName)
    .optional()
    .describe(
      'Give fields of the record their common name: `{ cust_id: customer }`. A dotted name (`client.id`) reads a nested object path unless the record has a top-level field of that exact name; ' +
        'the new field is top-level and the old one is removed. When the old field is absent nothing happens; when both names are present the renamed value wins. Applied first, before derive, defaults, required, the time, id, field types and dedup.',
    ),
  derive: z
    .record(fieldName, deriveSchema)
    .optional()
    .describe(
      'New top-level fields computed from others, in the order written (after rename): `{ concat: [country, nationalId], separator: "|" }`, `{ coalesce: [a, b] }`, `{ copy: f }`, `{ lower: f }`, `{ upper: f }`. ' +
        'An absent (or null) input, or one that is not a string, number or boolean where text is made, leaves the derived field absent (a field of that name in the record is removed).',
    ),
  defaults: z
    .record(fieldName, scalar)
    .optional()
    .describe('Values given to fields that are absent (or null) after rename and derive.'),
  required: z
    .array(fieldName)
    .min(1)
    .optional()
    .describe('Fields every event must have (after rename, derive and defaults): a record lacking one (absent or null) is dead-lettered with reason missing_field, naming them.'),
  time: z
    .strictObject({
      field: z.string().min(1).default('ts').describe('Field holding the event time.'),
      format: timeFormatSchema.default('auto').describe('auto: numbers are milliseconds and strings ISO-8601; ms or s: a number (or numeric string) of milliseconds or seconds since the epoch; iso: an ISO-8601 string (UTC when no zone is given).'),
    })
    .default({ field: 'ts', format: 'auto' })
    .describe('Where the event time comes from. An event whose time is missing or unparseable is dead-lettered with reason bad_timestamp.'),
  processingTime: z.boolean().default(false).describe('Stamp events with their arrival time (processing time) instead of reading a time field. Results then depend on arrival timing and are not replayable.'),
  id: z.string().min(1).default('id').describe('Field holding the event id (string or number), used as evidence in alerts and results. Optional in events.'),
  fields: z
    .record(z.string(), z.enum(['string', 'number', 'integer', 'boolean']))
    .default({})
    .describe('Declared types of fields. A present field of another type dead-letters the event with reason schema; absent fields are fine (sources are often incomplete).'),
  maxEventBytes: z
    .number()
    .int()
    .positive()
    .default(1_048_576)
    .describe(
      'Largest accepted record, in bytes; larger ones are dead-lettered with reason too_large, keeping only their first 256 bytes (at most maxEventBytes) and their size. ' +
        'Files and stdin never hold more of a record than this: the rest of a longer line or MessagePack value is read past, not kept.',
    ),
  dedup: z
    .strictObject({
      horizon: positiveDurationSchema.describe('Event-time span within which a repeated id is a duplicate: an event whose id was seen on the same partition at an event time at most this far from its own is dropped. Ids older than the horizon (behind the partition\'s largest event time) are forgotten.'),
      maxIds: z.number().int().positive().default(100_000).describe('Most ids remembered per partition; beyond it the oldest remembered are forgotten first (bounded memory).'),
    })
    .optional()
    .describe('Drop redelivered events (same id) before any pipeline, so they count once. Off by default. Duplicates are not bad input: they are never dead-lettered, but counted per source (vigie_events_duplicate_total, and duplicates in the summary, with in = events + dead-lettered + duplicates). Events without an id are never duplicates. Per partition and in arrival order, so replays are deterministic. With a Kafka source and `state.store: redis`, the remembered ids are part of each partition\'s checkpoint (their size counts in vigie_checkpoint_bytes), so a redelivery after a restart or a rebalance is still recognised.'),
};

export const mappingSchema = z.strictObject(mappingShape).superRefine((m, ctx) => {
  for (const issue of mappingIssues(m)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
});
export type Mapping = z.infer<typeof mappingSchema>;

/**
 * The mapping options of a source config, whatever its type. Built from the keys of `mappingShape`, so
 * a source standing in for another (a replay's input file, a topic's history) keeps an option added
 * to the mapping one day without anyone listing it.
 */
export function mappingOf(source: Mapping): Mapping {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(mappingShape)) if (k in source) out[k] = (source as Record<string, unknown>)[k];
  return out as Mapping;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The fields a derivation reads (undefined when it is not a well-formed derivation). */
export function derivationInputs(d: unknown): string[] | undefined {
  if (!isObj(d)) return undefined;
  for (const op of ['concat', 'coalesce'] as const) if (Array.isArray(d[op])) return (d[op] as unknown[]).filter((f): f is string => typeof f === 'string');
  for (const op of ['copy', 'lower', 'upper'] as const) if (typeof d[op] === 'string') return [d[op] as string];
  return undefined;
}

/** Whether `path` reads `from` or something inside it. */
const reads = (path: string, from: string) => path === from || path.startsWith(`${from}.`);

/**
 * The rules across a source's mapping options (rename, derive, defaults, required, and the time, id and
 * field types they feed), as problems at paths relative to the source. Defensive: reads a raw, possibly
 * partly valid, object and judges only what looks right.
 */
export function mappingIssues(source: unknown): Array<{ path: PropertyKey[]; message: string }> {
  const out: Array<{ path: PropertyKey[]; message: string }> = [];
  if (!isObj(source)) return out;
  const rename = isObj(source.rename) ? Object.entries(source.rename).filter((e): e is [string, string] => typeof e[1] === 'string') : [];
  const from = new Map(rename);
  const gone = (f: string) => rename.find(([old]) => reads(f, old));
  const byTarget = new Map<string, string>();
  for (const [old, to] of rename) {
    if (old === to) out.push({ path: ['rename', old], message: `renames "${old}" to itself` });
    const other = byTarget.get(to);
    if (other !== undefined) out.push({ path: ['rename', old], message: `"${old}" and "${other}" are both renamed to "${to}": give each its own name, or derive one field from both with { coalesce: [...] }` });
    byTarget.set(to, old);
    if (to !== old && from.has(to)) out.push({ path: ['rename', old], message: `"${old}" is renamed to "${to}", which is itself renamed to "${from.get(to)}": rename each field straight to its final name` });
  }
  const renamedAway = (f: string, what: string) => {
    const r = gone(f);
    return r === undefined ? undefined : `${what} "${f}" is renamed to "${r[1]}" before this is applied: name "${r[1]}"${f === r[0] ? '' : ` (or read inside it)`}`;
  };
  const derive = isObj(source.derive) ? Object.entries(source.derive) : [];
  const derived = derive.map(([name]) => name);
  derive.forEach(([name, d], k) => {
    const target = byTarget.get(name);
    if (target !== undefined) out.push({ path: ['derive', name], message: `the derived field "${name}" would overwrite the field renamed from "${target}"` });
    else if (from.has(name)) out.push({ path: ['derive', name], message: `the derived field "${name}" has the name of a field renamed to "${from.get(name)}": choose another name` });
    for (const input of derivationInputs(d) ?? []) {
      const why = renamedAway(input, 'field');
      if (why !== undefined) out.push({ path: ['derive', name], message: why });
      const later = derived.indexOf(input);
      if (later > k) out.push({ path: ['derive', name], message: `reads "${input}", which is derived after it: derivations run in the order written, so put "${input}" first` });
    }
  });
  const defaults = isObj(source.defaults) ? Object.keys(source.defaults) : [];
  for (const f of defaults) {
    const why = renamedAway(f, 'field');
    if (why !== undefined) out.push({ path: ['defaults', f], message: why });
  }
  if (Array.isArray(source.required)) {
    const seen = new Set<unknown>();
    source.required.forEach((f, j) => {
      if (typeof f !== 'string') return;
      if (seen.has(f)) out.push({ path: ['required', j], message: `"${f}" is listed twice` });
      seen.add(f);
      const why = renamedAway(f, 'field');
      if (why !== undefined) out.push({ path: ['required', j], message: why });
      else if (defaults.includes(f)) out.push({ path: ['required', j], message: `"${f}" has a default, so it is never missing: remove it from required or from defaults` });
    });
  }
  // The time, the id and the declared types are read after the mapping: under the new names.
  if (rename.length > 0) {
    const time = isObj(source.time) && typeof source.time.field === 'string' ? source.time.field : 'ts';
    const timeNeeded = source.processingTime !== true && source.timestampFrom !== 'record';
    if (timeNeeded && gone(time) !== undefined) out.push({ path: ['time', 'field'], message: renamedAway(time, 'the time field')! });
    const id = typeof source.id === 'string' ? source.id : 'id';
    // The default id is optional in events: only a configured one is judged.
    if (typeof source.id === 'string' && gone(id) !== undefined) out.push({ path: ['id'], message: renamedAway(id, 'the id field')! });
    if (isObj(source.fields)) {
      for (const f of Object.keys(source.fields)) {
        const why = renamedAway(f, 'the declared field');
        if (why !== undefined) out.push({ path: ['fields', f], message: why });
      }
    }
  }
  return out;
}
