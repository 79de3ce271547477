// The test cluster's etcd: every object in memory under one global, increasing resourceVersion, with the event
// history watches replay from (compaction makes older versions 410 Expired) and synchronous subscribers.
import { expired } from './errors.js';
import { type KubeObject, deepClone } from './types.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  rv: number;
  type: EventType;
  /** storage key of the resource (`group/resource`) */
  storage: string;
  obj: KubeObject;
  /** the object before this write (MODIFIED, DELETED) */
  prev?: KubeObject | undefined;
}

export const objectKey = (ns: string | undefined, name: string | undefined): string => `${ns ?? ''}/${name}`;

/**
 * Every object of the cluster under one global, monotonically increasing resourceVersion (like etcd's revision),
 * with an event history that watches replay from and that compaction truncates.
 */
export class Store {
  private rv = 1000;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly byUid = new Map<string | undefined, { storage: string; key: string }>();
  private history: StoredEvent[] = [];
  /** Oldest resourceVersion a watch may still start from. */
  private compactedRv = 0;
  private readonly listeners = new Set<(e: StoredEvent) => void>();

  constructor(private readonly historyLimit = 20000) {}

  currentRv(): number {
    return this.rv;
  }

  get(storage: string, ns: string | undefined, name: string): KubeObject | undefined {
    return deepClone(this.objects.get(storage)?.get(objectKey(ns, name)));
  }

  getByUid(uid: string): { storage: string; obj: KubeObject } | undefined {
    const loc = this.byUid.get(uid);
    if (!loc) return undefined;
    const obj = this.objects.get(loc.storage)?.get(loc.key);
    return obj ? { storage: loc.storage, obj: deepClone(obj) } : undefined;
  }

  /**
   * Copies of the objects of one storage, sorted by namespace/name; ns undefined means all namespaces. `keep` sees
   * the stored objects before they are copied, so controllers that want a few of many pay only for those.
   */
  list(storage: string, ns?: string, keep: (o: Readonly<KubeObject>) => boolean = () => true): KubeObject[] {
    const m = this.objects.get(storage);
    if (!m) return [];
    return [...m.entries()]
      .filter(([, o]) => (ns === undefined || (o.metadata.namespace ?? '') === ns) && keep(o))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => deepClone(o));
  }

  /** Visits the stored objects of one storage without copying them: read-only, and not to be kept. */
  scan(storage: string, visit: (o: Readonly<KubeObject>) => void): void {
    for (const o of this.objects.get(storage)?.values() ?? []) visit(o);
  }

  storages(): string[] {
    return [...this.objects.keys()];
  }

  /** Persists a write: assigns the next resourceVersion, records history and notifies watchers. */
  commit(type: EventType, storage: string, obj: KubeObject, prev?: KubeObject): KubeObject {
    const stored = deepClone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    let m = this.objects.get(storage);
    if (!m) this.objects.set(storage, (m = new Map()));
    const key = objectKey(stored.metadata.namespace, stored.metadata.name);
    if (type === 'DELETED') {
      m.delete(key);
      this.byUid.delete(stored.metadata.uid);
    } else {
      m.set(key, stored);
      this.byUid.set(stored.metadata.uid, { storage, key });
    }
    const ev: StoredEvent = { rv: this.rv, type, storage, obj: stored, prev: deepClone(prev) };
    this.history.push(ev);
    if (this.history.length > this.historyLimit) this.compactTo(this.history[Math.floor(this.historyLimit / 2)]!.rv);
    for (const l of [...this.listeners]) l(ev);
    return deepClone(stored);
  }

  /** Events of one storage after `rv`, or 410 Expired when history no longer reaches back that far. */
  eventsSince(storage: string, rv: number): StoredEvent[] {
    if (rv < this.compactedRv) throw expired(`too old resource version: ${rv} (${this.compactedRv})`);
    return this.history.filter((e) => e.rv > rv && e.storage === storage);
  }

  isExpired(rv: number): boolean {
    return rv < this.compactedRv;
  }

  compactedRevision(): number {
    return this.compactedRv;
  }

  /** Forgets history up to the current revision, like an etcd compaction. */
  compact(): void {
    this.compactTo(this.rv);
  }

  private compactTo(rv: number): void {
    this.compactedRv = Math.max(this.compactedRv, rv);
    this.history = this.history.filter((e) => e.rv > this.compactedRv);
  }

  subscribe(listener: (e: StoredEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
