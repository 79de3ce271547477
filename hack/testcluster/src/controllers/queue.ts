/**
 * A deduplicating work queue run on later event-loop turns: controllers never write from inside a store
 * notification (that would reorder watch events), and a burst of events for one key is reconciled once.
 */
export class WorkQueue {
  private readonly pending = new Set<string>();
  private scheduled = false;
  private stopped = false;

  constructor(
    private readonly reconcile: (key: string) => void,
    private readonly onError: (key: string, err: unknown) => void,
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    this.pending.add(key);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    this.scheduled = false;
    const keys = [...this.pending];
    this.pending.clear();
    for (const k of keys) {
      if (this.stopped) return;
      try {
        this.reconcile(k);
      } catch (e) {
        this.onError(k, e);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.pending.clear();
  }
}
