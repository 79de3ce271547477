// HyperGenModel + EventRecord -> a core/v1 Event POSTed to the API (what `kubectl describe hgm` shows). Best effort:
// a failed write is logged as a warning, never thrown into the reconcile.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { API_VERSION, KIND, type HyperGenModel } from '../api/types.js';
import { resourcePath, Types, type KubeClient } from '../kube/client.js';
import { FIELD_MANAGER, metaTime } from '../resources/meta.js';
import type { EventRecord } from '../status/status.js';

/** Records core/v1 Events on a HyperGenModel (what `kubectl describe hgm` shows). Best effort: never fails a reconcile. */
export class EventRecorder {
  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly instance: string,
  ) {}

  async record(cr: HyperGenModel, event: EventRecord, now: Date): Promise<void> {
    const ns = cr.metadata.namespace;
    const time = metaTime(now);
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${cr.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: ns },
      involvedObject: { apiVersion: API_VERSION, kind: KIND, name: cr.metadata.name, namespace: ns, uid: cr.metadata.uid, resourceVersion: cr.metadata.resourceVersion },
      type: event.type,
      reason: event.reason,
      message: event.message,
      source: { component: FIELD_MANAGER },
      reportingComponent: FIELD_MANAGER,
      reportingInstance: this.instance,
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    };
    try {
      await this.client.request('POST', resourcePath(Types.Event, ns), { body });
    } catch (err) {
      this.log.warn({ namespace: ns, name: cr.metadata.name, reason: event.reason, err: String(err) }, 'could not record event');
    }
  }
}
