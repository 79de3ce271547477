// Nodes and the default scheduler of the test cluster: a pending pod is bound to the first node its requests,
// selector, taints and pod count fit (then handed to the PodRunner), else Unschedulable with kube-scheduler's message.
import type { ObjectApi } from '../api.js';
import { ApiError } from '../errors.js';
import { type KubeletApi, type PodRunner } from '../pods.js';
import { parseQuantity } from '../quantity.js';
import type { Store, StoredEvent } from '../store.js';
import { type JsonObject, type KubeObject, arrayOr, at, deepEqual, nowTime, objectOr, objectsOf, stringMap } from '../types.js';
import { recordEvent } from './events.js';
import { Controller } from './controller.js';

const PODS = '/pods';
const NODES = '/nodes';

export interface NodeSpec {
  name: string;
  /** e.g. { cpu: '8', memory: '32Gi', 'nvidia.com/gpu': '1', pods: '110' } */
  capacity: Record<string, string>;
  labels?: Record<string, string>;
  taints?: Array<{ key: string; value?: string; effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' }>;
}

export const DEFAULT_NODES: NodeSpec[] = [{ name: 'node-1', capacity: { cpu: '16', memory: '64Gi', 'nvidia.com/gpu': '4', pods: '110' } }];

export function nodeObject(n: NodeSpec): JsonObject {
  return {
    metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', ...(n.labels ?? {}) } },
    spec: { ...(n.taints?.length ? { taints: n.taints } : {}) },
    status: {
      capacity: n.capacity,
      allocatable: n.capacity,
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: nowTime(), lastTransitionTime: nowTime() }],
      addresses: [{ type: 'InternalIP', address: '10.0.0.1' }, { type: 'Hostname', address: n.name }],
      nodeInfo: { kubeletVersion: 'v1.32.4', containerRuntimeVersion: 'testcluster://1.0', operatingSystem: 'linux', architecture: 'amd64' },
    },
  };
}

/** Sum of container requests (init containers count by their maximum), as the scheduler computes them. */
export function podRequests(pod: KubeObject): Record<string, number> {
  const out: Record<string, number> = {};
  // Quantities are strings once stored (the API writes them canonical).
  const requestsOf = (c: JsonObject) => ({ ...objectOr(at(c, 'resources', 'limits')), ...objectOr(at(c, 'resources', 'requests')) });
  for (const c of objectsOf(at(pod, 'spec', 'containers'))) {
    for (const [k, v] of Object.entries(requestsOf(c))) out[k] = (out[k] ?? 0) + parseQuantity(String(v));
  }
  for (const c of objectsOf(at(pod, 'spec', 'initContainers'))) {
    for (const [k, v] of Object.entries(requestsOf(c))) out[k] = Math.max(out[k] ?? 0, parseQuantity(String(v)));
  }
  return out;
}

const tolerates = (pod: KubeObject, t: JsonObject): boolean =>
  objectsOf(at(pod, 'spec', 'tolerations')).some((tol) => (tol.operator === 'Exists' ? !tol.key || tol.key === t.key : tol.key === t.key && (tol.value ?? '') === (t.value ?? '')) && (!tol.effect || tol.effect === t.effect));

/** The default scheduler: binds pending pods to nodes with room, or reports them Unschedulable with the usual message. */
export class Scheduler extends Controller {
  private readonly kubelet: KubeletApi;
  /** podRequests of each pod by uid (parsing quantities for every bound pod on every scheduling adds up). */
  private readonly requests = new Map<string, Record<string, number>>();

  constructor(
    api: ObjectApi,
    store: Store,
    private readonly runner: PodRunner,
    onError: (key: string, e: unknown) => void,
  ) {
    super(api, store, onError);
    const podDef = api.registry.find('', 'v1', 'pods')!;
    this.kubelet = {
      updateStatus: (ns, name, mutate) => {
        const cur = api.getStored(podDef, ns, name);
        if (!cur || cur.metadata.deletionTimestamp) return;
        const next = mutate(structuredClone(cur));
        try {
          api.update(podDef, ns, name, { ...cur, status: next }, { fieldManager: 'kubelet', subresource: 'status' });
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 404)) throw e;
        }
      },
    };
  }

  protected onEvent(ev: StoredEvent): void {
    if (ev.storage === PODS) {
      this.requests.delete(ev.obj.metadata.uid ?? '');
      if (ev.type === 'DELETED') {
        this.runner.stop(ev.obj);
        this.requeuePending();
      } else if (!at(ev.obj, 'spec', 'nodeName')) this.queue.add(`${ev.obj.metadata.namespace}/${ev.obj.metadata.name}`);
    } else if (ev.storage === NODES) this.requeuePending();
  }

  kubeletApi(): KubeletApi {
    return this.kubelet;
  }

  private requeuePending(): void {
    this.store.scan(PODS, (p) => {
      if (!at(p, 'spec', 'nodeName') && !p.metadata.deletionTimestamp) this.queue.add(`${p.metadata.namespace}/${p.metadata.name}`);
    });
  }

  reconcile(key: string): void {
    const [ns, name] = key.split('/') as [string, string];
    const podDef = this.api.registry.find('', 'v1', 'pods')!;
    const pod = this.api.getStored(podDef, ns, name);
    if (!pod || at(pod, 'spec', 'nodeName') || pod.metadata.deletionTimestamp) return;
    const schedulerName = at(pod, 'spec', 'schedulerName');
    if (schedulerName && schedulerName !== 'default-scheduler') return;
    const nodes = this.store.list(NODES);
    // What the bound, unfinished pods take on each node (read in place: this runs once per pending pod).
    const usage = new Map<string, { pods: number; requests: Record<string, number> }>();
    this.store.scan(PODS, (p) => {
      const nodeName = at(p, 'spec', 'nodeName');
      const phase = at(p, 'status', 'phase');
      if (!nodeName || phase === 'Succeeded' || phase === 'Failed') return;
      const u = usage.get(String(nodeName)) ?? { pods: 0, requests: {} };
      u.pods++;
      const uid = p.metadata.uid ?? '';
      let req = this.requests.get(uid);
      if (!req) this.requests.set(uid, (req = podRequests(p)));
      for (const [k, v] of Object.entries(req)) u.requests[k] = (u.requests[k] ?? 0) + v;
      usage.set(String(nodeName), u);
    });
    const req = podRequests(pod);
    const reasons = new Map<string, number>();
    const add = (r: string) => reasons.set(r, (reasons.get(r) ?? 0) + 1);
    const fit = nodes.find((node) => {
      const why: string[] = [];
      if (at(node, 'spec', 'unschedulable')) why.push('node(s) were unschedulable');
      const sel = objectOr(at(pod, 'spec', 'nodeSelector'));
      if (Object.entries(sel).some(([k, v]) => node.metadata.labels?.[k] !== v)) why.push("node(s) didn't match Pod's node affinity/selector");
      const taint = objectsOf(at(node, 'spec', 'taints')).find((t) => t.effect !== 'PreferNoSchedule' && !tolerates(pod, t));
      if (taint) why.push(`node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`);
      const alloc = stringMap(at(node, 'status', 'allocatable'));
      const { pods: onNode, requests: used } = usage.get(node.metadata.name) ?? { pods: 0, requests: {} };
      if (onNode + 1 > parseQuantity(alloc.pods ?? '110')) why.push('Too many pods');
      for (const [r, amount] of Object.entries(req).sort(([a], [b]) => a.localeCompare(b))) {
        if (amount > 0 && (used[r] ?? 0) + amount > parseQuantity(alloc[r] ?? '0') + 1e-9) why.push(`Insufficient ${r}`);
      }
      why.forEach(add);
      return why.length === 0;
    });
    if (fit) {
      const bound = { ...pod, spec: { ...objectOr(pod.spec), nodeName: fit.metadata.name } };
      this.api.update(podDef, ns, name, bound, { fieldManager: 'kube-scheduler' });
      this.kubelet.updateStatus(ns, name, (p) => ({
        ...objectOr(p.status),
        conditions: [...arrayOr(at(p, 'status', 'conditions')).filter((c) => at(c, 'type') !== 'PodScheduled'), { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: nowTime() }],
      }));
      const fresh = this.api.getStored(podDef, ns, name);
      if (fresh) this.runner.start(fresh, this.kubelet);
      return;
    }
    const detail = [...reasons.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([r, n]) => `${n} ${r}`).join(', ');
    const message = `0/${nodes.length} nodes are available: ${detail}. preemption: 0/${nodes.length} nodes are available: ${nodes.length} No preemption victims found for incoming pod.`;
    const prev = objectsOf(at(pod, 'status', 'conditions')).find((c) => c.type === 'PodScheduled');
    const condition = { type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: prev?.status === 'False' ? prev.lastTransitionTime : nowTime(), reason: 'Unschedulable', message };
    if (!deepEqual(prev, condition)) {
      this.kubelet.updateStatus(ns, name, (p) => ({ ...objectOr(p.status), phase: 'Pending', conditions: [...arrayOr(at(p, 'status', 'conditions')).filter((c) => at(c, 'type') !== 'PodScheduled'), condition] }));
      recordEvent(this.api, { ...pod, apiVersion: 'v1', kind: 'Pod' }, 'Warning', 'FailedScheduling', message, 'default-scheduler');
    }
  }
}
