// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: acquire when the
// lease is free or expired (expiry judged by when *we* last saw it change, so clocks need not agree), renew every
// retry period, and give up leadership when renewals keep failing past the renew deadline.
import type { Logger } from 'pino';
import { isConflict, isNotFound, resourcePath, Types, type KubeClient } from '../kube/client.js';

export interface LeaseOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationS: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: { holderIdentity?: string | null; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

/** Kubernetes MicroTime: RFC 3339 with six fractional digits. */
export const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaderElector {
  private observed?: { rv: string; at: number };
  private leading = false;
  private stopped = false;
  private lastRenew = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly client: KubeClient,
    private readonly options: LeaseOptions,
    private readonly log: Logger,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  private path(name?: string) {
    return resourcePath(Types.Lease, this.options.namespace, name);
  }

  /** One acquire-or-renew attempt; true when we hold the lease afterwards. */
  async tryAcquireOrRenew(now = new Date()): Promise<boolean> {
    const o = this.options;
    const spec = { holderIdentity: o.identity, leaseDurationSeconds: o.leaseDurationS, renewTime: microTime(now) };
    let lease: Lease;
    try {
      lease = await this.client.request<Lease>('GET', this.path(o.name));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.client.request('POST', this.path(), {
        body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: o.name, namespace: o.namespace }, spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 } },
      });
      return true;
    }
    const rv = lease.metadata.resourceVersion ?? '';
    if (this.observed?.rv !== rv) this.observed = { rv, at: now.getTime() };
    const holder = lease.spec?.holderIdentity;
    const duration = (lease.spec?.leaseDurationSeconds ?? o.leaseDurationS) * 1000;
    const expired = this.observed.at + duration <= now.getTime();
    if (holder && holder !== o.identity && !expired) return false;
    const transitions = (lease.spec?.leaseTransitions ?? 0) + (holder === o.identity ? 0 : 1);
    try {
      await this.client.request('PUT', this.path(o.name), {
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: lease.metadata,
          spec: { ...spec, acquireTime: holder === o.identity ? lease.spec?.acquireTime : microTime(now), leaseTransitions: transitions },
        },
      });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /** Campaigns until stopped; calls onStart once leading and onLost if renewals fail past the deadline. */
  run(onStart: () => void, onLost: () => void): void {
    const tick = async () => {
      if (this.stopped) return;
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (err) {
        this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'lease request failed');
      }
      if (this.stopped) return;
      const now = Date.now();
      if (ok) {
        this.lastRenew = now;
        if (!this.leading) {
          this.leading = true;
          this.log.info({ lease: `${this.options.namespace}/${this.options.name}`, identity: this.options.identity }, 'became leader');
          onStart();
        }
      } else if (this.leading && now - this.lastRenew > this.options.renewDeadlineMs) {
        this.leading = false;
        this.log.error({ identity: this.options.identity }, 'lost leadership');
        onLost();
        return;
      }
      this.timer = setTimeout(() => void tick(), this.options.retryPeriodMs);
    };
    void tick();
  }

  /** Stops campaigning and, if leading, frees the lease so a standby takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.client.request<Lease>('GET', this.path(this.options.name));
      if (lease.spec?.holderIdentity !== this.options.identity) return;
      await this.client.request('PUT', this.path(this.options.name), {
        body: { ...lease, spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(new Date()) } },
      });
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not release lease');
    }
  }
}
