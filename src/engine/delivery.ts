/** The delivery stage: a processed batch's outputs written to every sink, with the sinks' metrics. */
import type { Clock } from '../types.js';
import type { Sink, SinkBatch } from '../../sinks/types.js';
import type { EngineMetrics } from '../metrics/registry.js';
import { VigieError } from '../errors.js';
import type { EngineBatch } from './batch.js';

/** Write the batch's outputs to every sink; resolves once the acknowledging ones have them durable. */
export async function writeToSinks(batch: EngineBatch, sinks: readonly Sink[], metrics: EngineMetrics | undefined, clock: Clock): Promise<void> {
  const out: SinkBatch = { alerts: batch.alerts, results: batch.results, deadLetters: batch.deadLetters, scores: batch.scores, shadowAlerts: batch.shadowAlerts, queue: batch.queue };
  const m = metrics;
  if (out.alerts.length + out.results.length + out.deadLetters.length + out.scores.length + out.shadowAlerts.length + out.queue.length > 0) {
    await Promise.all(
      sinks.map(async (sink) => {
        const t0 = performance.now();
        try {
          await sink.write(out);
        } catch (err) {
          m?.sinkWriteErrors.inc({ sink: sink.name });
          throw new VigieError('VIGIE_ERR_SINK', `sink "${sink.name}": ${(err as Error).message}`, { cause: err });
        }
        if (m) {
          m.sinkWrites.inc({ sink: sink.name });
          m.sinkWriteDuration.observe({ sink: sink.name }, (performance.now() - t0) / 1000);
          for (const output of sink.outputs) {
            const n = out[output].length;
            if (n > 0) m.sinkRecords.inc({ sink: sink.name, output }, n);
          }
        }
      }),
    );
    if (m && out.alerts.length > 0) {
      const seconds = Math.max(0, (clock.now() - batch.ingestedAt) / 1000);
      for (const a of out.alerts) m.deliveryLatency.observe({ detector: a.detector }, seconds);
    }
  }
  if (m) {
    for (const s of sinks) {
      if (s.healthy) m.sinkUp.set({ sink: s.name }, s.healthy() ? 1 : 0);
      if (s.bufferFill) m.sinkBufferFill.set({ sink: s.name }, s.bufferFill());
    }
  }
}
