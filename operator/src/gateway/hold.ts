// Requests held for a model that has no ready pod: at most `cap` per model (then TooManyHeld, 429), each released
// when a pod becomes ready, failed with HoldTimeout (504) after its time, or dropped at once when its client goes.
import { HoldTimeout, TooManyHeld } from './errors.js';

interface Waiter {
  release(): void;
  fail(err: Error): void;
}

export type HoldOutcome = 'released' | 'rejected' | 'timed_out' | 'dropped';

export interface HoldOptions {
  /** Most requests held per model. */
  cap: number;
  timeoutMs: number;
  /** Retry-After for a refused request: the expected wait until the model is up. */
  retryAfterS(model: string): number;
  onOutcome?(model: string, outcome: HoldOutcome): void;
  /** The number held for the model changed. */
  onCount?(model: string, held: number): void;
}

export class Holds {
  private readonly waiting = new Map<string, Set<Waiter>>();

  constructor(private readonly options: HoldOptions) {}

  held(model: string): number {
    return this.waiting.get(model)?.size ?? 0;
  }

  /** Models with held requests. */
  models(): string[] {
    return [...this.waiting.keys()];
  }

  /** Resolves when release(model) is called; rejects with TooManyHeld, HoldTimeout or the signal's reason. */
  hold(model: string, signal: AbortSignal): Promise<void> {
    const set = this.waiting.get(model) ?? new Set<Waiter>();
    if (set.size >= this.options.cap) {
      this.options.onOutcome?.(model, 'rejected');
      return Promise.reject(new TooManyHeld(model, this.options.retryAfterS(model)));
    }
    if (signal.aborted) {
      this.options.onOutcome?.(model, 'dropped');
      return Promise.reject(signal.reason);
    }
    this.waiting.set(model, set);
    return new Promise<void>((resolve, reject) => {
      const done = (outcome: HoldOutcome) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        set.delete(waiter);
        if (set.size === 0 && this.waiting.get(model) === set) this.waiting.delete(model);
        this.options.onOutcome?.(model, outcome);
        this.options.onCount?.(model, set.size);
      };
      const waiter: Waiter = {
        release: () => (done('released'), resolve()),
        fail: (err) => (done('timed_out'), reject(err)),
      };
      const onAbort = () => (done('dropped'), reject(signal.reason));
      const timer = setTimeout(() => waiter.fail(new HoldTimeout(model, Math.round(this.options.timeoutMs / 1000))), this.options.timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      set.add(waiter);
      this.options.onCount?.(model, set.size);
    });
  }

  /** A pod of the model is ready: every held request goes on. */
  release(model: string): void {
    for (const w of [...(this.waiting.get(model) ?? [])]) w.release();
  }

  /** Shutdown: every held request fails with err. */
  failAll(err: Error): void {
    for (const set of [...this.waiting.values()]) for (const w of [...set]) w.fail(err);
  }
}
