// The autoscaler's decision: desired replicas from the load observed over a window (admitted generations, running or
// waiting, summed over ready pods) and the CR's autoscaling spec. Pure: time, samples and memory come in as data.
import type { HyperGenModelSpecAutoscaling } from '../api/types.js';

export interface AutoscalingPolicy {
  minReplicas: number;
  maxReplicas: number;
  targetQueuePerReplica: number;
  scaleDownDelaySeconds: number;
}

/** The CRD's defaults, for objects written before defaulting (or read from a cache that predates it). */
export function policyOf(spec: HyperGenModelSpecAutoscaling): AutoscalingPolicy {
  return {
    minReplicas: spec.minReplicas ?? 1,
    maxReplicas: spec.maxReplicas,
    targetQueuePerReplica: Math.max(1, spec.targetQueuePerReplica ?? 2),
    scaleDownDelaySeconds: spec.scaleDownDelaySeconds ?? 300,
  };
}

export interface Sample {
  /** ms (any monotonic clock) */
  at: number;
  /** Sum of the ready pods' queue sizes. */
  load: number;
}

/** What the autoscaler remembers about one model between decisions. */
export interface ScaleMemory {
  /** When the wanted count first fell below the current one (the scale-down delay runs from here). */
  belowSince?: number;
  /** The replica count at the last decision: a different one now means someone else scaled (the gateway, a user). */
  lastReplicas?: number;
}

export interface DecisionInput {
  policy: AutoscalingPolicy;
  /** spec.replicas now. */
  current: number;
  /** Ready pods now. */
  ready: number;
  /** Samples of the window, oldest first. */
  samples: readonly Sample[];
  now: number;
  memory: ScaleMemory;
}

export type DecisionReason = 'ScaledUp' | 'ScaledDown' | 'ScaledToZero' | 'OutOfBounds';

export interface Decision {
  /** The count to write; equal to current when nothing changes. */
  replicas: number;
  /** Set when replicas differs from current. */
  reason?: DecisionReason;
  message: string;
  memory: ScaleMemory;
}

const clamp = (p: AutoscalingPolicy, n: number) => Math.min(p.maxReplicas, Math.max(p.minReplicas, n));

/** Replicas the load asks for: the window's mean load over the per-replica target, rounded up. */
export function wantedReplicas(policy: AutoscalingPolicy, samples: readonly Sample[]): number {
  if (samples.length === 0) return 0;
  const mean = samples.reduce((s, x) => s + x.load, 0) / samples.length;
  return Math.max(0, Math.ceil(mean / policy.targetQueuePerReplica - 1e-9));
}

/**
 * Scales up at once to what the window's mean load asks for; scales down only once the wanted count has stayed below
 * the current one for scaleDownDelaySeconds, and never while pods are still starting (their queues are not seen yet,
 * and a gateway may be holding requests for them). A count set by someone else restarts the delay.
 */
export function decide(input: DecisionInput): Decision {
  const { policy, current, ready, samples, now } = input;
  const memory: ScaleMemory = input.memory.lastReplicas === current ? { ...input.memory } : { lastReplicas: current };
  memory.lastReplicas = current;
  const bounded = clamp(policy, current);
  if (bounded !== current) {
    return { replicas: bounded, reason: 'OutOfBounds', message: `replicas ${current} outside [${policy.minReplicas}, ${policy.maxReplicas}]: set to ${bounded}`, memory: { lastReplicas: bounded } };
  }
  const mean = samples.length ? samples.reduce((s, x) => s + x.load, 0) / samples.length : 0;
  const load = `mean load ${mean.toFixed(2)} over ${samples.length} samples, target ${policy.targetQueuePerReplica} per replica`;
  if (samples.length === 0) return { replicas: current, message: 'no load samples yet', memory };
  const wanted = clamp(policy, wantedReplicas(policy, samples));
  if (wanted > current) {
    return { replicas: wanted, reason: 'ScaledUp', message: `${load}: ${current} -> ${wanted} replicas`, memory: { lastReplicas: wanted } };
  }
  if (wanted === current) return { replicas: current, message: `${load}: ${current} replicas as wanted`, memory: { lastReplicas: current } };
  if (ready < current) return { replicas: current, message: `${ready}/${current} pods ready: not scaling down while pods start`, memory: { lastReplicas: current } };
  const since = memory.belowSince ?? now;
  const waitedS = (now - since) / 1000;
  if (waitedS < policy.scaleDownDelaySeconds) {
    return { replicas: current, message: `${load}: ${wanted} wanted, scaling down after ${policy.scaleDownDelaySeconds}s below (${waitedS.toFixed(1)}s so far)`, memory: { lastReplicas: current, belowSince: since } };
  }
  return {
    replicas: wanted,
    reason: wanted === 0 ? 'ScaledToZero' : 'ScaledDown',
    message: `${load}: ${current} -> ${wanted} replicas after ${waitedS.toFixed(0)}s below`,
    memory: { lastReplicas: wanted },
  };
}
