// Pods of a HyperGenModel as serving endpoints: which are ready, where they listen (pod IP, the "http" container
// port), and how loaded each is (GET /health's queue_size: admitted generations, waiting or running). Pure except probeQueue.
import { INSTANCE_LABEL } from '../resources/meta.js';
import { SERVER_PORT } from '../resources/deployment.js';

/** The parts of a Pod that routing and autoscaling read (plain JSON as the API returns it). */
export interface EndpointPod {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec?: { containers?: { name: string; ports?: { name?: string; containerPort: number }[] }[] };
  status?: { podIP?: string; conditions?: { type: string; status: string }[] };
}

export interface Endpoint {
  /** namespace/pod */
  key: string;
  pod: string;
  /** The HyperGenModel the pod serves (its instance label). */
  model: string;
  host: string;
  port: number;
}

/** A pod that receives traffic: Ready, not terminating, with an IP (what an EndpointSlice lists as ready). */
export function isReadyPod(pod: EndpointPod): boolean {
  return (
    !pod.metadata.deletionTimestamp &&
    !!pod.status?.podIP &&
    (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

export function endpointOf(pod: EndpointPod): Endpoint | undefined {
  const model = pod.metadata.labels?.[INSTANCE_LABEL];
  if (!model || !isReadyPod(pod)) return undefined;
  const port = (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []).find((p) => p.name === 'http')?.containerPort ?? SERVER_PORT;
  return { key: `${pod.metadata.namespace ?? ''}/${pod.metadata.name}`, pod: pod.metadata.name, model, host: pod.status!.podIP!, port };
}

/** Host part of a URL: IPv6 addresses in brackets. */
export const urlHost = (host: string) => (host.includes(':') ? `[${host}]` : host);

/** Seam: how loaded a pod is. The HTTP implementation reads /health; tests substitute their own. */
export interface QueueProbe {
  /** Admitted, unfinished generations on the endpoint; undefined when it does not answer. */
  queueSize(endpoint: Endpoint): Promise<number | undefined>;
}

export class HealthQueueProbe implements QueueProbe {
  constructor(private readonly timeoutMs = 1000) {}

  async queueSize(endpoint: Endpoint): Promise<number | undefined> {
    try {
      const res = await fetch(`http://${urlHost(endpoint.host)}:${endpoint.port}/health`, { signal: AbortSignal.timeout(this.timeoutMs) });
      if (!res.ok) {
        await res.body?.cancel();
        return undefined;
      }
      const body = (await res.json()) as { queue_size?: unknown };
      return typeof body.queue_size === 'number' && body.queue_size >= 0 ? body.queue_size : undefined;
    } catch {
      return undefined;
    }
  }
}
