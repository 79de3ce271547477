// What runs a bound pod (PodRunner) and how it reports (KubeletApi), kubelet-shaped pod statuses (running,
// CrashLoopBackOff), and the default SimulatedPodRunner whose containers start at once.
import { randomBytes } from 'node:crypto';
import { type JsonObject, type KubeObject, arrayOr, asNumber, at, nowTime, objectOr, objectsOf } from './types.js';

/**
 * What runs a pod once the scheduler has bound it to a node. The default simulates a kubelet (containers start at
 * once; readiness and crashes are driven by test hooks); a process-based runner can take its place.
 */
export interface PodRunner {
  /** The pod was bound to a node: start it and report through `kubelet`. */
  start(pod: KubeObject, kubelet: KubeletApi): void;
  /** The pod was deleted: stop whatever runs it. */
  stop(pod: KubeObject): void;
  /** Address serving a pod's container port, for the services/proxy route; undefined when nothing serves it. */
  endpoint?(pod: KubeObject, port: number): { host: string; port: number } | undefined;
  /** Text for GET pods/NAME/log. */
  logs?(pod: KubeObject, container?: string): string;
  close?(): Promise<void>;
}

/** Status writes a runner makes about its pods (as the kubelet would, through the pods/status subresource). */
export interface KubeletApi {
  /** Replaces the pod's status with `mutate(current pod)`'s result; no-op when the pod is gone. */
  updateStatus(namespace: string | undefined, name: string, mutate: (pod: KubeObject) => JsonObject): void;
}

const cond = (type: string, status: boolean, now: string, reason?: string, message?: string): JsonObject => ({
  type,
  status: status ? 'True' : 'False',
  lastProbeTime: null,
  lastTransitionTime: now,
  ...(reason ? { reason } : {}),
  ...(message ? { message } : {}),
});

/** Carries lastTransitionTime over when a condition keeps its status. */
function mergeConditions(prev: JsonObject[], next: JsonObject[]): JsonObject[] {
  return next.map((c) => {
    const p = prev.find((x) => x.type === c.type);
    return p && p.status === c.status && p.reason === c.reason ? { ...c, lastTransitionTime: p.lastTransitionTime } : c;
  });
}

let podIpCounter = 1;
const allocatePodIP = (): string => {
  const n = podIpCounter++;
  return `10.244.${Math.floor(n / 250)}.${(n % 250) + 1}`;
};

/** A running pod's status (of a pod as stored, or as a client read it): all containers running, Ready as given. */
export function runningStatus(pod: JsonObject, ready: boolean): JsonObject {
  const now = nowTime();
  const prev = objectOr(pod.status);
  const podIP = prev.podIP ?? allocatePodIP();
  const containerStatuses = objectsOf(at(pod, 'spec', 'containers')).map((c) => {
    const p = objectsOf(prev.containerStatuses).find((x) => x.name === c.name);
    return {
      name: c.name,
      image: c.image,
      imageID: `docker.io/library/${c.image}@sha256:${'0'.repeat(64)}`,
      containerID: p?.containerID ?? `containerd://${randomBytes(32).toString('hex')}`,
      ready,
      started: true,
      restartCount: p?.restartCount ?? 0,
      state: { running: { startedAt: at(p, 'state', 'running', 'startedAt') ?? now } },
      ...(p?.lastState ? { lastState: p.lastState } : {}),
    };
  });
  return {
    ...prev,
    phase: 'Running',
    conditions: mergeConditions(objectsOf(prev.conditions), [
      cond('PodReadyToStartContainers', true, now),
      cond('Initialized', true, now),
      cond('Ready', ready, now, ready ? undefined : 'ContainersNotReady', ready ? undefined : `containers with unready status: [${containerStatuses.map((c) => c.name).join(' ')}]`),
      cond('ContainersReady', ready, now, ready ? undefined : 'ContainersNotReady', ready ? undefined : `containers with unready status: [${containerStatuses.map((c) => c.name).join(' ')}]`),
      cond('PodScheduled', true, now),
    ]),
    hostIP: prev.hostIP ?? '10.0.0.1',
    hostIPs: prev.hostIPs ?? [{ ip: '10.0.0.1' }],
    podIP,
    podIPs: [{ ip: podIP }],
    startTime: prev.startTime ?? now,
    containerStatuses,
  };
}

export interface CrashOptions {
  /** container name (default: the first) */
  container?: string;
  restartCount?: number;
  exitCode?: number;
  message?: string;
}

/** The status of a pod (as stored, or as a client read it) whose container is in CrashLoopBackOff, as the kubelet reports it. */
export function crashLoopStatus(pod: JsonObject, o: CrashOptions = {}): JsonObject {
  const base = runningStatus(pod, false);
  const name = o.container ?? at(pod, 'spec', 'containers', 0, 'name');
  const now = nowTime();
  base.containerStatuses = objectsOf(base.containerStatuses).map((c) => {
    if (c.name !== name) return c;
    const restartCount = o.restartCount ?? (asNumber(c.restartCount) ?? 0) + 1;
    return {
      ...c,
      ready: false,
      started: false,
      restartCount,
      state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${Math.min(300, 10 * 2 ** Math.max(0, restartCount - 1))}s restarting failed container=${name} pod=${at(pod, 'metadata', 'name')}_${at(pod, 'metadata', 'namespace')}(${at(pod, 'metadata', 'uid')})` } },
      lastState: { terminated: { exitCode: o.exitCode ?? 1, reason: 'Error', message: o.message ?? '', startedAt: now, finishedAt: now, containerID: c.containerID } },
    };
  });
  return base;
}

/** The default runner: a kubelet that starts containers instantly; readiness is automatic unless disabled. */
export class SimulatedPodRunner implements PodRunner {
  constructor(private readonly autoReady: boolean) {}

  start(pod: KubeObject, kubelet: KubeletApi): void {
    kubelet.updateStatus(pod.metadata.namespace, pod.metadata.name, (p) => runningStatus(p, this.autoReady && !arrayOr(at(p, 'spec', 'readinessGates')).length));
  }

  stop(): void {}
}
