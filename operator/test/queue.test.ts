import { describe, expect, it } from '@jest/globals';
import { WorkQueue, type QueueMetrics } from '../src/controller/queue.js';

/** The queue's reported state, as its gauges would hold it (NaN until it reports). */
function gauges() {
  const seen = { depth: Number.NaN, inFlight: Number.NaN };
  const metrics: QueueMetrics = { depth: { set: (v) => (seen.depth = v) }, inFlight: { set: (v) => (seen.inFlight = v) } };
  return { seen, metrics };
}

describe('work queue', () => {
  it('de-duplicates queued keys', async () => {
    const q = new WorkQueue({ backoffInitialMs: 1, backoffMaxMs: 4 });
    q.add('a');
    q.add('a');
    q.add('b');
    expect(q.depth).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    q.shutdown();
  });

  it('never hands out a key that is in flight; an add meanwhile re-queues it once done', async () => {
    const { seen, metrics } = gauges();
    const q = new WorkQueue({ backoffInitialMs: 1, backoffMaxMs: 4 }, metrics);
    q.add('a');
    const key = await q.get();
    q.add('a');
    q.add('a');
    expect(q.depth).toBe(0);
    q.done(key as string);
    expect(q.depth).toBe(1);
    expect(await q.get()).toBe('a');
    q.done('a');
    expect(seen).toEqual({ depth: 0, inFlight: 0 }); // idle: nothing queued or in flight, and nothing was scheduled
    q.shutdown();
  });

  it('backs off exponentially per key up to the cap, and forget resets it', async () => {
    const q = new WorkQueue({ backoffInitialMs: 100, backoffMaxMs: 350 });
    const delays = [q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a')];
    expect(delays).toEqual([100, 200, 350, 350]);
    q.forget('a');
    expect(q.addRateLimited('a')).toBe(100);
    expect(q.addRateLimited('b')).toBe(100);
    // Timers pending: nothing is queued yet, and both keys arrive once their backoff has passed.
    expect(q.depth).toBe(0);
    const first = await q.get();
    q.done(first!);
    expect([first, await q.get()]).toEqual(['a', 'b']);
    q.shutdown();
  });

  it('delivers a delayed key and wakes a waiting worker; shutdown releases workers', async () => {
    const q = new WorkQueue({ backoffInitialMs: 5, backoffMaxMs: 5 });
    const waiting = q.get();
    q.addRateLimited('late');
    expect(await waiting).toBe('late');
    const blocked = q.get();
    q.shutdown();
    expect(await blocked).toBeUndefined();
  });
});
