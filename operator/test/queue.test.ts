import { describe, expect, it } from '@jest/globals';
import { WorkQueue } from '../src/controller/queue.js';

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
    const q = new WorkQueue({ backoffInitialMs: 1, backoffMaxMs: 4 });
    q.add('a');
    const key = await q.get();
    q.add('a');
    q.add('a');
    expect(q.depth).toBe(0);
    q.done(key as string);
    expect(q.depth).toBe(1);
    expect(await q.get()).toBe('a');
    q.done('a');
    expect(q.idle).toBe(true);
    q.shutdown();
  });

  it('backs off exponentially per key up to the cap, and forget resets it', () => {
    const q = new WorkQueue({ backoffInitialMs: 100, backoffMaxMs: 350 });
    const delays = [q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a')];
    expect(delays).toEqual([100, 200, 350, 350]);
    q.forget('a');
    expect(q.addRateLimited('a')).toBe(100);
    expect(q.addRateLimited('b')).toBe(100);
    expect(q.idle).toBe(false); // timers pending
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
