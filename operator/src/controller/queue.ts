// A work queue in the client-go style: a key is queued at most once, never processed by two workers at a time
// (a key added while in flight is re-queued when it finishes), and failures retry with per-key exponential backoff;
// it reports its depth and its keys in flight as they change, as client-go's workqueue metrics do.

export interface QueueOptions {
  backoffInitialMs: number;
  backoffMaxMs: number;
}

/** Where the queue reports its state (the operator's gauges; a Gauge fits). */
export interface QueueMetrics {
  /** Keys waiting to be handed out. */
  depth: { set(value: number): void };
  /** Keys handed to a worker and not yet done. */
  inFlight: { set(value: number): void };
}

const NO_METRICS: QueueMetrics = { depth: { set() {} }, inFlight: { set() {} } };

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private closed = false;

  constructor(
    private readonly options: QueueOptions,
    private readonly metrics: QueueMetrics = NO_METRICS,
  ) {}

  get depth(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.closed) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.processing.add(key);
      this.report();
      waiter(key);
      return;
    }
    this.queued.add(key);
    this.queue.push(key);
    this.report();
  }

  /** Adds the key after a delay; a sooner or immediate add wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.closed || this.timers.has(key)) return;
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, timer);
  }

  /** Requeues after this key's next backoff step; returns the delay. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.options.backoffMaxMs, this.options.backoffInitialMs * 2 ** n);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the key's backoff after a success. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Next key to process, waiting for one; undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      this.report();
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
    this.report();
  }

  private report(): void {
    this.metrics.depth.set(this.queue.length);
    this.metrics.inFlight.set(this.processing.size);
  }

  shutdown(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}
