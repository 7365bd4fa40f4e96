/**
 * The current config of the lab tests: one threshold detector per customer and hour over the
 * generator's payments, and a redis sink writing the live alert stream `${ns}:alerts` (which the lab
 * must never write). `table`: a file table relative to the config's folder (tables/vip.csv); `kafka`: a
 * kafka source (brokers from KAFKA_BROKERS) instead of the generator.
 */
export function labConfig(redisUrl: string, ns: string, opts: { table?: boolean; kafka?: { topic: string; group: string } } = {}): string {
  const table = opts.table
    ? `tables:
  - name: vip
    type: file
    path: tables/vip.csv
    key: customer
`
    : '';
  const enrich = opts.table ? '    enrich:\n      - { table: vip, on: customer, missing: pass }\n' : '';
  const source = opts.kafka
    ? `    type: kafka
    topics: [${opts.kafka.topic}]
    groupId: ${opts.kafka.group}
    client: { brokers: "\${KAFKA_BROKERS}" }`
    : `    type: generator
    scenario: payments
    events: 10`;
  return `name: lab-live
sources:
  - name: payments
${source}
    fields: { amount: number, customer: string }
${table}pipelines:
  - name: per-customer
    where: { type: payment }
    key: customer
${enrich}    window: { type: tumbling, size: 1h }
    aggregates:
      - { name: payments, fn: count }
    detectors:
      - name: busy-customer
        type: threshold
        aggregate: payments
        op: '>='
        value: 3
        severity: medium
sinks:
  - { name: live, type: redis, url: '${redisUrl}', stream: '${ns}:alerts', prefix: '${ns}:sink', channel: '' }
metrics:
  enabled: false
`;
}
