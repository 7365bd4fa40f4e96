/** Cross-field rules of sources that no single source's schema can check. */
import { derivationInputs } from '../sources/mapping.js';

/** A problem found, at a path of the config. */
interface RefIssue {
  path: PropertyKey[];
  message: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Two Kafka sources may not share a consumer group: the group's assignment hands every member
 * partitions of every topic the group reads, and a consumer drops those of topics it did not
 * subscribe to, so some partitions would never be read.
 */
export function checkKafkaGroups(sources: readonly unknown[]): RefIssue[] {
  const out: RefIssue[] = [];
  const firstWith = new Map<string, string>();
  sources.forEach((s, i) => {
    if (!isObj(s) || s.type !== 'kafka' || typeof s.groupId !== 'string') return;
    const other = firstWith.get(s.groupId);
    if (other !== undefined) {
      out.push({
        path: ['sources', i, 'groupId'],
        message: `consumer group "${s.groupId}" is already used by source "${other}": give each Kafka source its own groupId (one source may read several topics: list them in its topics)`,
      });
    } else firstWith.set(s.groupId, String(s.name));
  });
  return out;
}

/**
 * Pseudonymisation runs after the mapping, on the mapped names. A field renamed to a pseudonymised name
 * must be pseudonymised under its old name too (dead letters keep the record as it came), and a field
 * derived from a pseudonymised one must be pseudonymised as well (it carries the identifier).
 */
export function checkMappingPrivacy(cfg: Obj): RefIssue[] {
  const out: RefIssue[] = [];
  const ps = isObj(cfg.privacy) && isObj(cfg.privacy.pseudonymise) ? cfg.privacy.pseudonymise : undefined;
  if (ps === undefined || !Array.isArray(ps.fields) || !Array.isArray(cfg.sources)) return out;
  const listed = new Set(ps.fields.filter((f): f is string => typeof f === 'string'));
  const drop = ps.deadLetters === 'drop';
  cfg.sources.forEach((s, i) => {
    if (!isObj(s)) return;
    const rename = isObj(s.rename) ? Object.entries(s.rename) : [];
    for (const [from, to] of rename) {
      if (typeof to !== 'string' || !listed.has(to) || listed.has(from) || drop) continue;
      const message = from.includes('.')
        ? `"${from}" becomes the pseudonymised field "${to}", but dead letters keep the record as it came, where a nested value cannot be pseudonymised: set privacy.pseudonymise.deadLetters to drop`
        : `"${from}" becomes the pseudonymised field "${to}": list "${from}" in privacy.pseudonymise.fields too, so that dead letters (which keep the record as it came) hide it as well`;
      out.push({ path: ['sources', i, 'rename', from], message });
    }
    const derive = isObj(s.derive) ? Object.entries(s.derive) : [];
    for (const [name, d] of derive) {
      if (listed.has(name)) continue;
      const personal = (derivationInputs(d) ?? []).find((f) => listed.has(f));
      if (personal !== undefined) {
        out.push({ path: ['sources', i, 'derive', name], message: `derived from the pseudonymised field "${personal}" before pseudonymisation: list "${name}" in privacy.pseudonymise.fields too` });
      }
    }
  });
  return out;
}
