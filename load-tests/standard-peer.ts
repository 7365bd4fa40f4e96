/**
 * The Kafka Streams peer (load-tests/peers/kafka-streams) in bench:standard: draining the same topic
 * as Vigie, and live under the same open-loop load with its alerts measured by the same probe.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uid, sleep } from './kafka-bench-data.js';
import { runLoadgen, type EventOptions, type LoadgenSummary } from './loadgen.js';
import { probe, type AppendedAlert, type ProbeResult } from './latency-probe.js';
import { readAlerts, startPeer, type PeerAlert, type PeerHandle } from './peer-run.js';
import { STANDARD_OUT_OF_ORDERNESS_MS, STANDARD_WINDOW_DETECTORS, midRunOffset, newTopic, waitGroupStable, type Services } from './standard-phases.js';

export interface PeerCeiling {
  threads: number;
  records: number;
  seconds: number;
  eventsPerSecond: number;
  cpuSeconds: number;
  eventsPerCpuSecond: number;
  alerts: number;
}

export interface PeerLatency {
  rate: number;
  loadgen: LoadgenSummary;
  alerts: number;
  probe: ProbeResult;
}

/** Runs `f` with the peer started on `inputTopic` (a state dir and an alerts topic of its own), then stops it. */
async function withPeer<T>(s: Services, inputTopic: string, threads: number, f: (h: PeerHandle, alertsTopic: string, applicationId: string) => Promise<T>): Promise<T> {
  const id = uid();
  const alertsTopic = `bench-standard-peer-alerts-${id}`;
  const stateDir = await mkdtemp(join(tmpdir(), 'vigie-peer-'));
  const applicationId = `bench-standard-peer-${id}`;
  const h = await startPeer({ brokers: s.brokers.join(','), inputTopic, alertsTopic, applicationId, stateDir, threads, commitIntervalMs: 1000 });
  try {
    return await f(h, alertsTopic, applicationId);
  } finally {
    await h.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** The peer with `threads` stream threads drains the `n` records of `topic`. */
export async function peerCeiling(s: Services, topic: string, n: number, threads: number, timeoutMs: number): Promise<PeerCeiling> {
  return withPeer(s, topic, threads, async (h, alertsTopic) => {
    const d = await h.waitProcessed(n, timeoutMs);
    const seconds = (d.lastMs - d.firstMs) / 1000;
    await sleep(2000);
    const alerts = (await readAlerts(s.kafka, alertsTopic, { timeoutMs: 60_000 })).length;
    return { threads, records: d.records, seconds, eventsPerSecond: d.records / seconds, cpuSeconds: d.cpuSeconds, eventsPerCpuSecond: d.records / d.cpuSeconds, alerts };
  });
}

/** A peer alert as the probe sees it: beneficiaries-1h names its window "start-end" as trigger. */
export function peerAlertForProbe(a: PeerAlert): AppendedAlert {
  if (STANDARD_WINDOW_DETECTORS.has(a.detector)) {
    const end = Number(a.trigger.slice(a.trigger.indexOf('-') + 1));
    return { appendMs: a.appendMs, detector: a.detector, windowEnd: Number.isFinite(end) ? end : undefined };
  }
  return { appendMs: a.appendMs, detector: a.detector, trigger: a.trigger };
}

/** The peer live on a new topic under the open-loop load generator at `rate`, as latencyLevel runs Vigie. */
export async function peerLatency(
  s: Services,
  ev: EventOptions,
  o: { rate: number; durationS: number; warmupS: number; partitions: number; threads: number; timeoutMs: number },
): Promise<PeerLatency> {
  const topic = await newTopic(s, 'bench-standard-peer-live', o.partitions);
  return withPeer(s, topic, o.threads, async (h, alertsTopic, applicationId) => {
    await waitGroupStable(s, applicationId, 120_000);
    const eventTimeOffsetMs = midRunOffset(o.warmupS, o.durationS);
    const loadgen = await runLoadgen(s.kafka, s.brokers.join(','), {
      ...ev, topic, rate: o.rate, durationS: o.durationS, partitions: o.partitions, createTopic: false, tickMs: 5, inflight: 8, acks: -1, eventTimeOffsetMs,
    });
    await h.waitProcessed(loadgen.events, o.timeoutMs);
    await sleep(3000);
    const alerts = (await readAlerts(s.kafka, alertsTopic, { timeoutMs: 60_000 })).map(peerAlertForProbe);
    const result = probe(alerts, { startEpochMs: loadgen.startEpochMs, rate: o.rate, eventTimeOffsetMs }, {
      windowDetectors: STANDARD_WINDOW_DETECTORS, closeDelayMs: STANDARD_OUT_OF_ORDERNESS_MS, fromEpochMs: loadgen.startEpochMs + o.warmupS * 1000,
    });
    return { rate: o.rate, loadgen, alerts: alerts.length, probe: result };
  });
}
