// recordEvent: a core/v1 Event about an object, or the count of the identical previous one bumped, as client-go's
// recorder does.
import type { ObjectApi } from '../api.js';
import { randomSuffix } from '../api.js';
import { type KubeObject, asNumber, objectOr, nowTime } from '../types.js';

/** Records a core/v1 Event about `obj` (or bumps the count of the identical previous one), like client-go's recorder. */
export function recordEvent(api: ObjectApi, obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string, component: string): void {
  const def = api.registry.find('', 'v1', 'events')!;
  const ns = obj.metadata.namespace ?? 'default';
  const involvedObject = {
    kind: obj.kind,
    namespace: obj.metadata.namespace,
    name: obj.metadata.name,
    uid: obj.metadata.uid,
    apiVersion: obj.apiVersion,
    resourceVersion: obj.metadata.resourceVersion,
  };
  const now = nowTime();
  const [same] = api.store.list(
    def.storage,
    ns,
    (e) => objectOr(e.involvedObject).uid === involvedObject.uid && e.reason === reason && e.message === message && objectOr(e.source).component === component,
  );
  if (same) {
    api.update(def, ns, same.metadata.name, { ...same, count: (asNumber(same.count) ?? 1) + 1, lastTimestamp: now }, { fieldManager: component });
    return;
  }
  api.create(def, ns, {
    metadata: { name: `${obj.metadata.name}.${Date.now().toString(16)}${randomSuffix(4)}`, namespace: ns },
    involvedObject,
    reason,
    message,
    type,
    source: { component },
    reportingComponent: component,
    reportingInstance: '',
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  }, { fieldManager: component });
}
