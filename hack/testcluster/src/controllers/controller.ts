// The base of the test cluster's controllers: store events -> keys on a WorkQueue -> reconcile(key) on a later
// event-loop turn; stop() unsubscribes and drops what is queued.
import type { ObjectApi } from '../api.js';
import type { Store, StoredEvent } from '../store.js';
import { WorkQueue } from './queue.js';

/**
 * A controller of the test cluster: store events name the keys to look at (onEvent), and a WorkQueue reconciles
 * each key on a later event-loop turn.
 */
export abstract class Controller {
  protected readonly queue: WorkQueue;
  private readonly unsubscribe: () => void;

  constructor(
    protected readonly api: ObjectApi,
    protected readonly store: Store,
    onError: (key: string, e: unknown) => void,
  ) {
    this.queue = new WorkQueue((k) => this.reconcile(k), onError);
    this.unsubscribe = store.subscribe((ev) => this.onEvent(ev));
  }

  protected abstract onEvent(ev: StoredEvent): void;

  abstract reconcile(key: string): void;

  stop(): void {
    this.unsubscribe();
    this.queue.stop();
  }
}
