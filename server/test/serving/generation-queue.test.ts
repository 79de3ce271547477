import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { GenerationRequest } from '../../src/engine/types.js';
import { createMetrics } from '../../src/metrics/registry.js';
import { GenerationQueue, GenerationTimeoutError, QueueFullError, ShuttingDownError, type QueueOptions } from '../../src/serving/generation-queue.js';
import { ScriptedEngine } from '../support/scripted-engine.js';

const request = (over: Partial<GenerationRequest> = {}): GenerationRequest => ({
  prompt: 'p', n: 1, width: 64, height: 64, steps: 4, guidanceScale: 7.5, seed: 1, scheduler: 'euler', outputFormat: 'png', ...over,
});

function setup(options: Partial<QueueOptions> = {}, delayMs = 50) {
  const engine = new ScriptedEngine();
  engine.delayMs = delayMs;
  const metrics = createMetrics();
  const queue = new GenerationQueue(
    engine, { maxQueueSize: 16, maxBatchSize: 4, batchWaitMs: 30, timeoutS: 30, ...options }, metrics, pino({ level: 'silent' }),
  );
  return { engine, queue, metrics };
}

const never = () => new AbortController().signal;

/** The engine calls that batched several requests; a lone request is a call of size 1 and not among them. */
const batches = (engine: ScriptedEngine) => engine.calls.filter((call) => call.length > 1);

describe('GenerationQueue', () => {
  it('batches compatible requests up to maxBatchSize images, keeping each its own seed', async () => {
    const { engine, queue } = setup();
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((seed) => queue.submit(request({ seed }), never())));
    expect(results.map((r) => r.images[0]!.seed)).toEqual([1, 2, 3, 4, 5, 6]);
    // The first started at once on the idle engine; the others gathered while it ran.
    expect(engine.requests[0]!.seed).toBe(1);
    expect(batches(engine).map((b) => b.map((r) => r.seed))).toEqual([[2, 3, 4, 5]]);
    expect(engine.requests.at(-1)!.seed).toBe(6); // the sixth ran alone
  });

  it('never mixes requests of different sizes, step counts or guidance modes', async () => {
    const { engine, queue } = setup();
    await Promise.all([
      queue.submit(request({ seed: 0 }), never()), // starts at once; the rest wait for it
      queue.submit(request({ seed: 1 }), never()),
      queue.submit(request({ seed: 2, width: 128 }), never()),
      queue.submit(request({ seed: 3, guidanceScale: 1 }), never()),
      queue.submit(request({ seed: 4, guidanceScale: 3 }), never()),
      queue.submit(request({ seed: 5, steps: 8 }), never()),
    ]);
    expect(batches(engine).map((b) => b.map((r) => r.seed))).toEqual([[1, 4]]);
  });

  it('counts images, not requests, against maxBatchSize', async () => {
    const { engine, queue } = setup();
    await Promise.all([queue.submit(request({ n: 3, seed: 1 }), never()), queue.submit(request({ n: 2, seed: 10 }), never())]);
    expect(batches(engine)).toHaveLength(0);
    expect(engine.requests.map((r) => r.seed)).toEqual([1, 10]);
  });

  it('runs one request at a time with maxBatchSize 1', async () => {
    const { engine, queue } = setup({ maxBatchSize: 1 });
    await Promise.all([1, 2, 3].map((seed) => queue.submit(request({ seed }), never())));
    expect(batches(engine)).toHaveLength(0);
    expect(engine.requests).toHaveLength(3);
  });

  it('refuses beyond maxQueueSize with a Retry-After estimate', async () => {
    const { queue, metrics } = setup({ maxQueueSize: 2, maxBatchSize: 1, batchWaitMs: 0 }, 100);
    const outcomes = await Promise.allSettled([1, 2, 3, 4, 5].map((seed) => queue.submit(request({ seed }), never())));
    const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason);
    expect(refused).toHaveLength(2);
    for (const error of refused) {
      expect(error).toBeInstanceOf(QueueFullError);
      expect((error as QueueFullError).retryAfterS).toBeGreaterThanOrEqual(1);
    }
    expect(await metrics.registry.getSingleMetricAsString('hypergen_requests_rejected_total')).toContain('reason="queue_full"} 2');
  });

  // Issue 13 item 8: batching must not cost a lone request anything.
  it('with batchWaitMs 0 an idle engine starts at once; requests arriving meanwhile form the next batch', async () => {
    const { engine, queue } = setup({ maxBatchSize: 16, batchWaitMs: 0 }, 100);
    const first = queue.submit(request({ seed: 1 }), never());
    await Promise.resolve();
    expect(engine.requests.map((r) => r.seed)).toEqual([1]); // started in the same turn, no timer
    const later = [2, 3, 4].map((seed) => queue.submit(request({ seed }), never()));
    await Promise.all([first, ...later]);
    expect(batches(engine).map((b) => b.map((r) => r.seed))).toEqual([[2, 3, 4]]);
  });

  it('right after a batch, waits up to batchWaitMs for that batch\'s clients to come back, then batches them with the waiting', async () => {
    const { engine, queue } = setup({ maxBatchSize: 16, batchWaitMs: 200 }, 60);
    // 4 closed-loop clients, 3 rounds each: the first request runs alone, then the batch that ran waits for it.
    await Promise.all([1, 2, 3, 4].map(async (client) => {
      for (let round = 0; round < 3; round++) await queue.submit(request({ seed: client * 10 + round }), never());
    }));
    expect(engine.requests[0]!.seed).toBe(10);
    expect(batches(engine).map((b) => b.length)).toEqual([4, 4, 3]); // client 1 caught up in the first batch
  });

  it('a lone client never waits for company it does not have', async () => {
    const { engine, queue } = setup({ maxBatchSize: 16, batchWaitMs: 5_000 }, 20);
    const started = performance.now();
    for (let i = 0; i < 5; i++) await queue.submit(request({ seed: i }), never());
    expect(engine.requests).toHaveLength(5);
    expect(performance.now() - started).toBeLessThan(5_000); // not once held for batchWaitMs
  });

  // Issue 13 item 7: the estimate comes from what the engine has done, not a fixed guess per batch.
  it('estimates Retry-After from the measured throughput', async () => {
    const { queue } = setup({ maxQueueSize: 8, maxBatchSize: 1, batchWaitMs: 0 }, 40);
    await Promise.all([1, 2, 3].map((seed) => queue.submit(request({ seed }), never()))); // ~25 images/s measured
    const burst = Array.from({ length: 10 }, (_, i) => queue.submit(request({ seed: 10 + i }), never()));
    const outcomes = await Promise.allSettled(burst);
    const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason as QueueFullError);
    expect(refused.length).toBeGreaterThan(0);
    // 9 admitted images at ~25/s clear in well under 2 s (the old per-batch guess said 8-9 s).
    for (const error of refused) expect(error.retryAfterS).toBeLessThanOrEqual(2);
  });

  it('frees a waiting slot at once when its client goes away', async () => {
    const { engine, queue } = setup({ maxBatchSize: 1, batchWaitMs: 0 }, 100);
    const first = queue.submit(request({ seed: 1 }), never());
    const gone = new AbortController();
    const second = queue.submit(request({ seed: 2 }), gone.signal);
    expect(queue.size).toBe(2);
    gone.abort(new DOMException('client disconnected', 'AbortError'));
    await expect(second).rejects.toMatchObject({ name: 'AbortError' });
    expect(queue.size).toBe(1);
    await first;
    expect(engine.requests.map((r) => r.seed)).toEqual([1]);
  });

  it('stops a running request when its only client goes away', async () => {
    const { queue } = setup({ maxBatchSize: 1, batchWaitMs: 0 }, 5_000);
    const gone = new AbortController();
    const pending = queue.submit(request(), gone.signal);
    await new Promise((r) => setTimeout(r, 20));
    gone.abort(new DOMException('client disconnected', 'AbortError'));
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await new Promise((r) => setTimeout(r, 20));
    expect(queue.size).toBe(0);
  });

  it('keeps a batch running for the clients still there', async () => {
    const { queue } = setup({ batchWaitMs: 50 }, 100);
    const gone = new AbortController();
    const staying = queue.submit(request({ seed: 1 }), never());
    const leaving = queue.submit(request({ seed: 2 }), gone.signal);
    await new Promise((r) => setTimeout(r, 80)); // the batch has started
    gone.abort(new DOMException('client disconnected', 'AbortError'));
    await expect(leaving).rejects.toMatchObject({ name: 'AbortError' });
    expect((await staying).images[0]!.seed).toBe(1);
  });

  it('turns the request timeout into GenerationTimeoutError', async () => {
    const { queue } = setup({ timeoutS: 1, maxBatchSize: 1 }, 5_000);
    await expect(queue.submit(request(), never())).rejects.toBeInstanceOf(GenerationTimeoutError);
  });

  it('drains: running work finishes, new work is refused', async () => {
    const { queue } = setup({ maxBatchSize: 1, batchWaitMs: 0 }, 100);
    const running = queue.submit(request({ seed: 1 }), never());
    const queued = queue.submit(request({ seed: 2 }), never());
    const drained = queue.drain(5_000);
    await expect(queue.submit(request(), never())).rejects.toBeInstanceOf(ShuttingDownError);
    expect((await running).images[0]!.seed).toBe(1);
    expect((await queued).images[0]!.seed).toBe(2);
    await drained;
  });

  it('drains: past the grace period, queued work gets ShuttingDownError and running work is aborted', async () => {
    const { queue } = setup({ maxBatchSize: 1, batchWaitMs: 0 }, 10_000);
    const running = queue.submit(request({ seed: 1 }), never());
    const queued = queue.submit(request({ seed: 2 }), never());
    await new Promise((r) => setTimeout(r, 20));
    await queue.drain(100);
    await expect(queued).rejects.toBeInstanceOf(ShuttingDownError);
    await expect(running).rejects.toBeInstanceOf(ShuttingDownError);
  });
});
