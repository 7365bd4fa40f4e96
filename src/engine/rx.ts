import { concatMap, endWith, from, map, merge, takeWhile, type Observable, type OperatorFunction } from 'rxjs';
import type { Batch } from '../types.js';

const END = Symbol('end of input');

/**
 * The batch stream of a run: input batches merged with watermark ticks, then one final batch made
 * when the input completes; ticks stop with it. RxJS carries whole batches, never single events.
 */
export function batchStream<B extends Batch>(input$: Observable<B>, ticks$: Observable<B>, finalBatch: () => B): Observable<B> {
  return merge(input$.pipe(endWith(END)), ticks$).pipe(
    map((b) => (b === END ? finalBatch() : b)),
    takeWhile((b) => !b.final, true),
  );
}

/** Run every batch through a synchronous step (the pipelines' pure cores) and pass it on. */
export function processEach<B extends Batch>(step: (batch: B) => void): OperatorFunction<B, B> {
  return map((batch) => {
    step(batch);
    return batch;
  });
}

/**
 * Hand batches to an asynchronous writer one at a time, in order: a batch is passed on only after its
 * write resolved (so acknowledgement order is input order, and a slow writer holds the stream back).
 */
export function deliverInOrder<B extends Batch>(write: (batch: B) => Promise<void>): OperatorFunction<B, B> {
  return concatMap((batch) => from(write(batch).then(() => batch)));
}
