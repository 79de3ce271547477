// Least-queue choice of a pod for one request. Pure: the caller passes what it knows of each pod's load.
import type { Endpoint } from '../serving/endpoints.js';

export interface Load {
  /** Requests this gateway has sent to the pod and not seen finish. */
  inflight: number;
  /** The pod's last reported queue_size, and how many of ours were in flight when it was read. */
  reported?: { queue: number; ownInflight: number };
}

/**
 * The pod's queue as best known: ours in flight now, plus the others' share of its last report (what was queued
 * there beyond our own requests at the time: other gateways, direct clients). Our own part is always current.
 */
export function estimatedQueue(load: Load): number {
  const foreign = load.reported ? Math.max(0, load.reported.queue - load.reported.ownInflight) : 0;
  return load.inflight + foreign;
}

/**
 * The endpoint with the shortest estimated queue; ties go round robin (`turn` increments per request), so equal
 * pods share the traffic instead of the first one taking it all.
 */
export function pickEndpoint<E extends Endpoint>(endpoints: readonly E[], loadOf: (e: E) => Load, turn: number): E | undefined {
  if (endpoints.length === 0) return undefined;
  const sorted = [...endpoints].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const queues = sorted.map((e) => estimatedQueue(loadOf(e)));
  const best = Math.min(...queues);
  const tied = sorted.filter((_, i) => queues[i] === best);
  return tied[turn % tied.length];
}
