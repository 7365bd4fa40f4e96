import { EMPTY, Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { batchStream, deliverInOrder, processEach } from '../../src/engine/rx.js';
import { emptyBatch, type Batch } from '../../src/types.js';

function batch(tag: number, final = false): Batch {
  const b = emptyBatch(0);
  b.watermark = tag;
  b.final = final;
  return b;
}

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('batchStream', () => {
  it('merges input with ticks and ends with one final batch when the input completes', () => {
    scheduler().run(({ cold, hot, expectObservable }) => {
      const a = batch(1);
      const b = batch(2);
      const t = batch(10);
      const input = cold('a---b--|', { a, b });
      const ticks = hot('--t---t---t---t', { t });
      const final = batch(99, true);
      expectObservable(batchStream(input, ticks, () => final)).toBe('a-t-b-t(f|)', { a, b, t, f: final });
    });
  });

  it('emits only the final batch for an empty input', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const final = batch(99, true);
      expectObservable(batchStream(cold('|'), EMPTY, () => final)).toBe('(f|)', { f: final });
    });
  });

  it('builds the final batch only when the input has completed', () => {
    scheduler().run(({ cold, expectObservable, flush }) => {
      let built = 0;
      const final$ = batchStream(cold('a-a-|', { a: batch(1) }), EMPTY, () => {
        built++;
        return batch(99, true);
      });
      expectObservable(final$).toBe('a-a-(f|)', { a: batch(1), f: batch(99, true) });
      flush();
      expect(built).toBe(1);
    });
  });

  it('propagates an engine error instead of ending normally', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(batchStream(cold('a-#', { a: batch(1) }, new Error('boom')), EMPTY, () => batch(99, true))).toBe('a-#', { a: batch(1) }, new Error('boom'));
    });
  });
});

describe('processEach', () => {
  it('runs the step on each batch, in order, and passes the same batch on', () => {
    const seen: number[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const a = batch(1);
      const b = batch(2);
      const out = cold('a-b|', { a, b }).pipe(
        processEach((x) => {
          seen.push(x.watermark);
          x.alerts.push({ id: String(x.watermark) } as never);
        }),
      );
      expectObservable(out).toBe('a-b|', { a, b });
    });
    expect(seen).toEqual([1, 2]);
  });
});

describe('deliverInOrder', () => {
  it('passes batches on in input order even when a later write finishes first', async () => {
    const resolvers: Array<() => void> = [];
    const order: number[] = [];
    const src = new Observable<Batch>((s) => {
      s.next(batch(1));
      s.next(batch(2));
      s.complete();
    });
    const done = new Promise<void>((resolve) => {
      src
        .pipe(deliverInOrder((b) => new Promise<void>((r) => resolvers.push(() => r()))))
        .subscribe({ next: (b) => order.push(b.watermark), complete: () => resolve() });
    });
    // Only the first write has started: the second waits for it (one batch at a time).
    expect(resolvers).toHaveLength(1);
    resolvers[0]();
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([1]);
    expect(resolvers).toHaveLength(2);
    resolvers[1]();
    await done;
    expect(order).toEqual([1, 2]);
  });

  it('fails the stream when a write fails', async () => {
    const src = new Observable<Batch>((s) => {
      s.next(batch(1));
      s.complete();
    });
    await expect(
      new Promise((resolve, reject) => src.pipe(deliverInOrder(() => Promise.reject(new Error('disk full')))).subscribe({ error: reject, complete: () => resolve(undefined) })),
    ).rejects.toThrow('disk full');
  });
});
