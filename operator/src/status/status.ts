// The plan's access facts + observed objects -> HyperGenModel status and the Events worth recording. Pure.
import { ConditionType, Reason, type Condition, type HyperGenModel, type HyperGenModelStatus, type ModelAccess } from '../api/types.js';
import { canonicalJson, selectorLabels, selectorString } from '../resources/meta.js';

/** The parts of a Deployment and its Pods that status reads (plain JSON as the API returns it). */
export interface ObservedDeployment {
  metadata: { generation?: number };
  spec?: { replicas?: number };
  status?: { observedGeneration?: number; replicas?: number; readyReplicas?: number; updatedReplicas?: number };
}

interface ContainerStatus {
  name: string;
  ready?: boolean;
  state?: { waiting?: { reason?: string; message?: string }; running?: object; terminated?: { reason?: string; exitCode?: number } };
}
export interface ObservedPod {
  metadata: { name: string; deletionTimestamp?: string };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    initContainerStatuses?: ContainerStatus[];
    containerStatuses?: ContainerStatus[];
  };
}

export interface Problem {
  reason: string;
  message: string;
}

export interface Observed {
  deployment?: ObservedDeployment;
  pods: readonly ObservedPod[];
  /** A failure of the operator's own making: missing Secret, name conflict, apply error. */
  problem?: Problem;
}

/** The worst thing the pods show, most actionable first. */
export function podProblem(pods: readonly ObservedPod[]): Problem | undefined {
  const live = pods.filter((p) => !p.metadata.deletionTimestamp);
  for (const pod of live) {
    const c = pod.status?.conditions?.find((x) => x.type === 'PodScheduled' && x.status === 'False' && x.reason === 'Unschedulable');
    if (c) return { reason: Reason.Unschedulable, message: `pod ${pod.metadata.name} cannot be scheduled: ${c.message ?? 'no node fits'}` };
  }
  for (const pod of live) {
    for (const [init, statuses] of [[true, pod.status?.initContainerStatuses], [false, pod.status?.containerStatuses]] as const) {
      for (const cs of statuses ?? []) {
        const waiting = cs.state?.waiting?.reason;
        const detail = cs.state?.waiting?.message ? `: ${cs.state.waiting.message}` : '';
        if (waiting === 'ImagePullBackOff' || waiting === 'ErrImagePull' || waiting === 'InvalidImageName') {
          return { reason: Reason.ImagePullBackOff, message: `pod ${pod.metadata.name} container ${cs.name} cannot pull its image${detail}` };
        }
        if (waiting === 'CrashLoopBackOff') {
          return init
            ? { reason: Reason.ModelDownloadFailed, message: `pod ${pod.metadata.name}: model download keeps failing (init container ${cs.name} in CrashLoopBackOff)` }
            : { reason: Reason.CrashLoopBackOff, message: `pod ${pod.metadata.name} container ${cs.name} keeps crashing (CrashLoopBackOff)` };
        }
        if (waiting === 'CreateContainerConfigError') {
          return { reason: Reason.SecretNotFound, message: `pod ${pod.metadata.name} container ${cs.name}: ${cs.state?.waiting?.message ?? 'a referenced Secret or key is missing'}` };
        }
      }
    }
  }
  return undefined;
}

/** What a pod that is on its way up is doing: downloading the model, or loading it. */
export function podProgress(pods: readonly ObservedPod[]): Problem | undefined {
  for (const pod of pods) {
    if (pod.metadata.deletionTimestamp) continue;
    const initDone = (pod.status?.initContainerStatuses ?? []).every((cs) => cs.state?.terminated?.exitCode === 0);
    if (!initDone) return { reason: Reason.ModelDownloading, message: `pod ${pod.metadata.name} is downloading the model` };
    if ((pod.status?.containerStatuses ?? []).some((cs) => cs.state?.running && !cs.ready)) {
      return { reason: Reason.ModelLoading, message: `pod ${pod.metadata.name} is loading the model` };
    }
  }
  return undefined;
}

const condition = (type: string, ok: boolean, reason: string, message: string): Omit<Condition, 'lastTransitionTime'> => ({
  type,
  status: ok ? 'True' : 'False',
  reason,
  message,
});

/** `access`: where the plan says clients reach the model (Plan.access); reported as is. */
export function computeStatus(cr: HyperGenModel, access: ModelAccess, observed: Observed, now: string): HyperGenModelStatus {
  const dep = observed.deployment;
  const desired = cr.spec.replicas ?? dep?.spec?.replicas ?? 1;
  const ready = dep?.status?.readyReplicas ?? 0;
  const updated = dep?.status?.updatedReplicas ?? 0;
  const current = dep?.status?.replicas ?? 0;
  const podIssue = podProblem(observed.pods);
  const issue = observed.problem ?? podIssue;
  const progress = podProgress(observed.pods);
  const counts = `${ready}/${desired} replicas ready`;

  const readyCond =
    ready > 0
      ? condition(ConditionType.Ready, true, Reason.Available, `${counts}; serving at ${access.url}`)
      : desired === 0
        ? condition(ConditionType.Ready, false, Reason.ScaledToZero, 'scaled to zero replicas')
        : condition(
            ConditionType.Ready,
            false,
            issue?.reason ?? progress?.reason ?? Reason.MinimumReplicasUnavailable,
            issue?.message ?? progress?.message ?? `${counts}`,
          );
  const rolling =
    !dep ||
    (dep.status?.observedGeneration ?? 0) < (dep.metadata.generation ?? 0) ||
    updated < desired ||
    ready < desired ||
    current > desired;
  const progressingCond = rolling
    ? condition(ConditionType.Progressing, true, progress?.reason ?? Reason.RolloutInProgress, progress?.message ?? counts)
    : condition(ConditionType.Progressing, false, Reason.AsExpected, counts);
  const degradedCond = issue
    ? condition(ConditionType.Degraded, true, issue.reason, issue.message)
    : condition(ConditionType.Degraded, false, Reason.AsExpected, 'no problems found');

  const previous = cr.status?.conditions ?? [];
  const conditions = [readyCond, progressingCond, degradedCond].map((c): Condition => {
    const old = previous.find((p) => p.type === c.type);
    return {
      ...c,
      observedGeneration: cr.metadata.generation ?? 0,
      // metav1.Condition: the time only moves when status flips.
      lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : now,
    };
  });
  return {
    observedGeneration: cr.metadata.generation ?? 0,
    conditions,
    replicas: current,
    readyReplicas: ready,
    selector: selectorString(selectorLabels(cr)),
    url: access.url,
    ...(access.ingressURL ? { ingressURL: access.ingressURL } : {}),
    apiKeySecret: { name: access.apiKeySecret.name, key: access.apiKeySecret.key },
    model: cr.spec.model,
  };
}

export const statusEqual = (a: HyperGenModelStatus | undefined, b: HyperGenModelStatus) => canonicalJson(a ?? {}) === canonicalJson(b);

export interface EventRecord {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** Events for condition transitions: Ready changing status or reason, Degraded turning on or changing cause. */
export function transitionEvents(before: readonly Condition[] | undefined, after: readonly Condition[]): EventRecord[] {
  const find = (list: readonly Condition[] | undefined, type: string) => list?.find((c) => c.type === type);
  const events: EventRecord[] = [];
  const oldReady = find(before, ConditionType.Ready);
  const newReady = find(after, ConditionType.Ready);
  if (newReady && (oldReady?.status !== newReady.status || oldReady.reason !== newReady.reason)) {
    if (newReady.status === 'True') events.push({ type: 'Normal', reason: newReady.reason, message: newReady.message });
  }
  const oldDeg = find(before, ConditionType.Degraded);
  const newDeg = find(after, ConditionType.Degraded);
  if (newDeg?.status === 'True' && (oldDeg?.status !== 'True' || oldDeg.reason !== newDeg.reason)) {
    events.push({ type: 'Warning', reason: newDeg.reason, message: newDeg.message });
  }
  if (newDeg?.status === 'False' && oldDeg?.status === 'True') {
    events.push({ type: 'Normal', reason: 'Recovered', message: `recovered from ${oldDeg.reason}` });
  }
  return events;
}
