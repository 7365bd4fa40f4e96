/** A source fan-out: one read of the input feeding several engines. */
import type { RawBatch, Source } from '../sources/types.js';
import { AsyncQueue } from '../util/async-queue.js';

/**
 * Fan a source out to `n` readers: its batches are read once and handed to every branch, in order.
 * Bounded: the source waits until every open branch has room (the slowest reader paces the read);
 * a branch that is closed stops receiving; the source is closed with the last branch.
 */
export function teeSource(source: Source, n: number, capacity = 4): Source[] {
  const queues = Array.from({ length: n }, () => new AsyncQueue<RawBatch>(capacity));
  const open = new Set(queues.keys());
  let pumping: Promise<void> | undefined;
  let failure: unknown;
  let it: AsyncIterator<RawBatch> | undefined;
  const pump = async () => {
    it = source.batches()[Symbol.asyncIterator]();
    try {
      for (;;) {
        await Promise.all([...open].map((i) => new Promise<void>((r) => queues[i].onSpace(r))));
        if (open.size === 0) break;
        const next = await it.next();
        if (next.done) break;
        for (const i of open) queues[i].offer(next.value);
      }
    } catch (err) {
      failure = err;
    } finally {
      for (const q of queues) q.close();
    }
  };
  return queues.map((q, i) => ({
    name: source.name,
    type: source.type,
    format: source.format,
    mapping: source.mapping,
    recordMeta: source.recordMeta,
    scoped: false,
    partitions: () => source.partitions(),
    describePartition: source.describePartition ? (p: number) => source.describePartition!(p) : undefined,
    async *batches(): AsyncGenerator<RawBatch> {
      pumping ??= pump();
      for (;;) {
        const b = await q.take();
        if (b === undefined) {
          if (failure !== undefined) throw failure;
          return;
        }
        yield b;
      }
    },
    async close() {
      open.delete(i);
      q.close();
      if (open.size === 0) {
        // Close the source first: a pump waiting for its next batch (a topic with nothing more) is released.
        await source.close();
        await pumping;
        await it?.return?.(undefined);
      }
    },
  }));
}
