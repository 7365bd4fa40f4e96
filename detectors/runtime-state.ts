/**
 * How the state of a pipeline's detectors (runtime.ts) is checkpointed: whole (hot reloads, and
 * checkpoints written before per-key entries), or split into a meta part and one entry per key, so
 * that a checkpoint writes only the keys that changed since the previous one.
 *
 * A key's entry is `[memory, core 0, cooldowns 0, core 1, cooldowns 1, ...]` in the order of the meta
 * part's detectors, each `null` or a {@link KeyedState.snapshotKey} entry ([stamp, state]).
 */
import type { Alert, VEvent } from '../src/types.js';
import { keyedEntries, type KeyedEntries, type KeyedState } from '../src/util/keyed-state.js';
import { VigieError } from '../src/errors.js';
import type { Cooldown, RestoreMatch, Slot } from './runtime-types.js';

/** What the detectors of a pipeline hold, as the checkpoint functions see it. */
export interface DetectorsState {
  readonly slots: readonly Slot[];
  /** Signal memory per key (for `requires`): per slot, the time of its last signal. */
  readonly memory: KeyedState<number[]> | undefined;
}

type CooldownSnap = [number, number, number, Alert];
const encodeCooldown = (c: Cooldown): CooldownSnap => [c.until, c.suppressed, c.lastTime, c.first];
const decodeCooldown = ([until, suppressed, lastTime, first]: CooldownSnap): Cooldown => ({ until, suppressed, lastTime, first });
const copyMemory = (m: number[]): number[] => m.slice();

/** Per detector in the meta part: [name, hash, core (whole state, or what its per-key state keeps beside the keys), per-key meta of the core or null, cooldowns' meta]. */
type DetectorMeta = [string, string, unknown, { evicted: number; seq: number } | null, { evicted: number; seq: number }];

export interface DetectorsMeta {
  v: 3;
  w: number;
  pending: Array<[number, string, VEvent]>;
  names: string[];
  memory: { evicted: number; seq: number } | null;
  detectors: DetectorMeta[];
  board?: unknown;
}

/** The whole state of a pipeline's detectors (hot reloads; checkpoints of versions 1 and 2). */
export interface WholeSnapshot {
  v: 1 | 2;
  w: number;
  pending: Array<[number, string, VEvent]>;
  /** The signal memory is indexed by slot: the names say which index is which detector. */
  names?: string[];
  memory: unknown;
  detectors: Array<[string, unknown, unknown, string?]>;
  board?: unknown;
}

export function snapshotWhole(set: DetectorsState, base: Pick<WholeSnapshot, 'w' | 'pending'> & { board?: unknown }): WholeSnapshot {
  return {
    v: 2,
    ...base,
    names: set.slots.map((s) => s.name),
    memory: set.memory?.snapshot(copyMemory) ?? null,
    detectors: set.slots.map((s) => [s.name, s.core.snapshot(), s.cooldown.snapshot(encodeCooldown), s.hash]),
  };
}

/** Restore the detectors from a whole snapshot; per slot, whether it was restored (see {@link restoreKeyed}). */
export function restoreWhole(set: DetectorsState, s: WholeSnapshot, match: RestoreMatch): boolean[] {
  const from = matchSaved(set.slots, s.detectors.map(([name, , , hash]) => ({ name, hash })), match);
  const restored = from.map((j, i) => {
    if (j < 0) return false;
    const slot = set.slots[i];
    const [, core, cd] = s.detectors[j];
    slot.core.restore(core);
    slot.cooldown.restore<CooldownSnap>(cd, decodeCooldown, `cooldowns of ${slot.name}`);
    return true;
  });
  set.memory?.restore<number[]>({ evicted: 0, keys: [] }, (m) => m, 'signal memory');
  if (set.memory && s.memory !== null && s.memory !== undefined) {
    const names = s.names ?? (match === 'by-name' ? set.slots.map((x) => x.name) : undefined);
    if (names !== undefined) set.memory.restore<number[]>(s.memory, memoryRemap(set.slots, restored, names), 'signal memory');
  }
  return restored;
}

/** Signals of the restored detectors only: slot indices may differ from the snapshot's (`names`). */
function memoryRemap(slots: readonly Slot[], restored: readonly boolean[], names: readonly string[]): (m: number[]) => number[] {
  const index = slots.map((slot, i) => (restored[i] ? names.indexOf(slot.name) : -1));
  const identity = index.length === names.length && index.every((j, i) => j === i);
  return (m) => (identity ? m.slice() : index.map((j) => (j >= 0 && j < m.length ? m[j] : -Infinity)));
}

/** The meta part: everything but the keys' entries (`w`, `pending` and `board` come from the caller). */
export function snapshotMeta(set: DetectorsState, base: Pick<DetectorsMeta, 'w' | 'pending'> & { board?: unknown }): DetectorsMeta {
  return {
    v: 3,
    ...base,
    names: set.slots.map((s) => s.name),
    memory: set.memory?.snapshotMeta() ?? null,
    detectors: set.slots.map((s): DetectorMeta => {
      const pk = s.core.perKey;
      return [s.name, s.hash, pk ? (pk.rest?.() ?? null) : s.core.snapshot(), pk ? pk.state.snapshotMeta() : null, s.cooldown.snapshotMeta()];
    }),
  };
}

/** A key's entry; undefined when no detector holds anything for it. */
export function snapshotKey(set: DetectorsState, key: string): unknown[] | undefined {
  const out: unknown[] = [set.memory?.snapshotKey(key, copyMemory) ?? null];
  let any = out[0] !== null;
  for (const s of set.slots) {
    const pk = s.core.perKey;
    const core = pk ? (pk.state.snapshotKey(key, pk.encode) ?? null) : null;
    const cd = s.cooldown.snapshotKey(key, encodeCooldown) ?? null;
    any ||= core !== null || cd !== null;
    out.push(core, cd);
  }
  return any ? out : undefined;
}

/** Every key some detector holds state for (a full checkpoint writes them all). */
export function heldKeys(set: DetectorsState): Set<string> {
  const keys = new Set<string>();
  const add = (st: KeyedState<unknown> | undefined) => {
    if (st !== undefined) for (const k of st.keys()) keys.add(k);
  };
  add(set.memory as KeyedState<unknown> | undefined);
  for (const s of set.slots) {
    add(s.core.perKey?.state);
    add(s.cooldown as KeyedState<unknown>);
  }
  return keys;
}

/**
 * Which saved detector each slot restores from (index into the saved list, -1: starts fresh): the one
 * of the same name, when its hash matches (`by-hash`) or by name alone (`by-name`).
 */
export function matchSaved(slots: readonly Slot[], saved: ReadonlyArray<{ name: string; hash: string | undefined }>, match: RestoreMatch): number[] {
  const byName = new Map(saved.map((d, j) => [d.name, j]));
  return slots.map((slot) => {
    const j = byName.get(slot.name);
    if (j === undefined) return -1; // a detector added since the snapshot starts fresh
    if (match === 'by-hash' && saved[j].hash !== slot.hash) return -1; // changed (or saved without a hash): starts fresh
    return j;
  });
}

/**
 * Restore the detectors from a meta part and the keys' entries (in any order). Each
 * detector that matches (see {@link matchSaved}) gets its state and cooldowns; the signal memory keeps
 * the signals of restored detectors only. Returns, per slot, whether it was restored.
 */
export function restoreKeyed(set: DetectorsState, meta: DetectorsMeta, keyed: KeyedEntries, match: RestoreMatch, pipeline: string): boolean[] {
  const what = `detectors of pipeline "${pipeline}"`;
  if (!Array.isArray(meta.detectors) || !Array.isArray(meta.names)) throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad snapshot`);
  const saved = meta.detectors.map(([name, hash]) => ({ name, hash }));
  const from = matchSaved(set.slots, saved, match);
  const width = 1 + 2 * meta.detectors.length;
  // Per slot restored: the entries of its core and of its cooldowns.
  const cores = from.map(keyedEntries);
  const cooldowns = from.map(keyedEntries);
  const memory = keyedEntries();
  const put = (to: KeyedEntries, key: string, part: unknown) => {
    if (part === null) return;
    to.keys.push(key);
    to.entries.push(part);
  };
  for (let k = 0; k < keyed.keys.length; k++) {
    const key = keyed.keys[k];
    const entry = keyed.entries[k];
    if (!Array.isArray(entry) || entry.length !== width) throw new VigieError('VIGIE_ERR_SNAPSHOT', `${what}: bad entry for a key (expected ${width} parts)`);
    put(memory, key, entry[0]);
    for (let i = 0; i < from.length; i++) {
      const j = from[i];
      if (j < 0) continue;
      put(cores[i], key, entry[1 + 2 * j]);
      put(cooldowns[i], key, entry[2 + 2 * j]);
    }
  }
  const restored = from.map((j, i) => {
    if (j < 0) return false;
    const slot = set.slots[i];
    const [, , rest, coreMeta, cdMeta] = meta.detectors[j];
    const pk = slot.core.perKey;
    if (pk === undefined) {
      if (coreMeta !== null) return false; // saved per key, now whole: not the same kind of state
      slot.core.restore(rest);
    } else {
      if (coreMeta === null) return false;
      pk.state.restoreKeys(coreMeta, cores[i], pk.decode, pk.what);
      if (pk.restoreRest !== undefined) pk.restoreRest(rest);
    }
    slot.cooldown.restoreKeys<CooldownSnap>(cdMeta, cooldowns[i], decodeCooldown, `cooldowns of ${slot.name}`);
    return true;
  });
  if (set.memory !== undefined) {
    set.memory.restoreKeys<number[]>(meta.memory ?? { evicted: 0, seq: 0 }, meta.memory === null ? keyedEntries() : memory, memoryRemap(set.slots, restored, meta.names), 'signal memory');
  }
  return restored;
}
