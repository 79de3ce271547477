// The autoscaler's applier against the test API server through client-node: decisions reach spec.replicas through the
// scale subresource (and so the Deployment), with Events; models without spec.autoscaling are never written; a count
// someone else wrote is not overwritten. Pods are API objects with a pod IP; their queue sizes come from a QueueProbe double.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HyperGenModel } from '../../src/api/types.js';
import { allows, LEADER_ELECTION_RULES, RBAC_RULES } from '../../src/rbac.js';
import { resourcePath, Types } from '../../src/kube/client.js';
import type { Endpoint, QueueProbe } from '../../src/serving/endpoints.js';
import { createModel, FAST, get, model, startHarness, TEST_AGENT, waitFor, type Harness } from '../support/harness.js';

let h: Harness;
/** Queue size per pod name; pods absent here do not answer. */
const queues = new Map<string, number>();
const probe: QueueProbe = { queueSize: async (e: Endpoint) => queues.get(e.pod) };

beforeAll(async () => {
  h = await startHarness();
  await h.startOperator({ autoscaleIntervalMs: 50, autoscaleWindowS: 1 }, { ...FAST, queueProbe: probe });
});
afterAll(async () => {
  await h?.stop();
});

let ip = 10;
async function readyPod(cr: string, name: string): Promise<void> {
  const labels = { 'app.kubernetes.io/name': 'hypergen', 'app.kubernetes.io/instance': cr, 'app.kubernetes.io/managed-by': 'hypergen-operator' };
  await h.kube.request('POST', resourcePath(Types.Pod, 'ml'), { body: { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ml', labels }, spec: { containers: [{ name: 'server', image: 'x', ports: [{ name: 'http', containerPort: 8000 }] }] } } });
  const pod = await get(h.kube, 'Pod', 'ml', name);
  pod.status = { phase: 'Running', podIP: `10.0.0.${ip++}`, conditions: [{ type: 'Ready', status: 'True' }] };
  await h.kube.request('PUT', `${resourcePath(Types.Pod, 'ml', name)}/status`, { body: pod });
}

const replicas = async (name: string) => (await get<HyperGenModel>(h.kube, 'HyperGenModel', 'ml', name)).spec.replicas;
const scaleWrites = (name: string) => h.cluster.requests({ resource: 'hypergenmodels', subresource: 'scale', name }).filter((r) => r.userAgent !== TEST_AGENT && r.method === 'PUT');
async function reasons(name: string): Promise<string[]> {
  const list = await h.kube.request<{ items: { reason: string; involvedObject: { name: string } }[] }>('GET', resourcePath(Types.Event, 'ml'));
  return list.items.filter((e) => e.involvedObject.name === name).map((e) => e.reason);
}

describe('autoscaler applier', () => {
  it('scales up through the scale subresource when the queue grows, the Deployment follows, and an Event says why', async () => {
    await createModel(h.kube, model('up', { replicas: 1, autoscaling: { minReplicas: 1, maxReplicas: 3, targetQueuePerReplica: 2, scaleDownDelaySeconds: 3600 } }));
    await readyPod('up', 'up-a');
    queues.set('up-a', 5); // ceil(5 / 2) = 3
    await waitFor(async () => (await replicas('up')) === 3, 'up at 3 replicas');
    await waitFor(async () => (await get(h.kube, 'Deployment', 'ml', 'up')).spec.replicas === 3, 'the Deployment at 3');
    expect(scaleWrites('up').length).toBeGreaterThanOrEqual(1);
    await waitFor(async () => (await reasons('up')).includes('ScaledUp'), 'a ScaledUp Event');
  });

  it('scales an idle model to zero after scaleDownDelaySeconds: ScaledToZero Event and Ready reason', async () => {
    await createModel(h.kube, model('idle', { replicas: 1, autoscaling: { minReplicas: 0, maxReplicas: 2, scaleDownDelaySeconds: 0 } }));
    await readyPod('idle', 'idle-a');
    queues.set('idle-a', 0);
    await waitFor(async () => (await replicas('idle')) === 0, 'idle at 0');
    await waitFor(async () => (await reasons('idle')).includes('ScaledToZero'), 'a ScaledToZero Event');
    await waitFor(async () => (await get<HyperGenModel>(h.kube, 'HyperGenModel', 'ml', 'idle')).status?.conditions?.find((c) => c.type === 'Ready')?.reason === 'ScaledToZero', 'Ready reason ScaledToZero');
  });

  it('never writes the count of a model without spec.autoscaling (left to spec.replicas or a user HPA)', async () => {
    await createModel(h.kube, model('manual', { replicas: 1 }));
    await readyPod('manual', 'manual-a');
    queues.set('manual-a', 50);
    await createModel(h.kube, model('marker', { replicas: 1, autoscaling: { minReplicas: 1, maxReplicas: 2 } }));
    await readyPod('marker', 'marker-a');
    queues.set('marker-a', 50);
    // Once the autoscaler has acted on the marker created after it, it has had rounds with the manual one too.
    await waitFor(async () => (await replicas('marker')) === 2, 'marker scaled');
    expect(await replicas('manual')).toBe(1);
    expect(scaleWrites('manual')).toEqual([]);
  });

  it("the operator's requests, the autoscaler's included, are all in its RBAC rules", () => {
    const made = h.cluster.requests().filter((r) => r.userAgent !== TEST_AGENT && r.resource);
    const denied = made.filter((r) => {
      const resource = r.subresource ? `${r.resource}/${r.subresource}` : r.resource!;
      return !allows(RBAC_RULES, r.group ?? '', resource, r.verb) && !allows(LEADER_ELECTION_RULES, r.group ?? '', resource, r.verb);
    });
    expect(denied.map((r) => `${r.verb} ${r.path}`)).toEqual([]);
    expect(made.some((r) => r.subresource === 'scale' && r.verb === 'update')).toBe(true);
  });
});
