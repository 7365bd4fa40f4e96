/** Cross-field rules of Kafka sources that no single source's schema can check. */
/** A problem found, at a path of the config. */
interface RefIssue {
  path: PropertyKey[];
  message: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

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
