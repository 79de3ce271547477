// Pod trouble surfaces in the CR's conditions and Events: Unschedulable (no GPU capacity), CrashLoopBackOff.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HyperGenModel } from '../../src/api/types.js';
import { resourcePath, Types } from '../../src/kube/client.js';
import { createModel, get, model, startHarness, tryGet, waitFor, type Harness } from '../support/harness.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
let h: Harness;
const NS = 'ml';

beforeAll(async () => {
  h = await startHarness();
  await h.startOperator();
});
afterAll(async () => {
  await h?.stop();
});

/** A pod of the CR's Deployment with the status a scheduler/kubelet would report. */
async function podWithStatus(cr: string, name: string, status: Obj): Promise<void> {
  const dep = await get(h.kube, 'Deployment', NS, cr);
  const pod = await h.kube.request<Obj>('POST', resourcePath(Types.Pod, NS), {
    body: { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, labels: dep.spec.template.metadata.labels }, spec: dep.spec.template.spec },
  });
  await h.kube.request('PUT', resourcePath(Types.Pod, NS, name, 'status'), { body: { ...pod, status } });
}

const cond = (cr: HyperGenModel | undefined, type: string) => cr?.status?.conditions?.find((c) => c.type === type);
const eventsFor = async (name: string) =>
  (await h.kube.request<{ items: Obj[] }>('GET', resourcePath(Types.Event, NS))).items.filter((e) => e.involvedObject.name === name);

describe('pod problems', () => {
  it('reports Unschedulable pods as Ready False with reason Unschedulable and a Warning Event', async () => {
    await createModel(h.kube, model('gpu-hungry', { gpu: { count: 1 }, replicas: 1 }));
    await waitFor(() => tryGet(h.kube, 'Deployment', NS, 'gpu-hungry'), 'the Deployment');
    await podWithStatus('gpu-hungry', 'gpu-hungry-abc12', {
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient nvidia.com/gpu.' }],
    });
    const cr = await waitFor(async () => {
      const c = await tryGet<HyperGenModel>(h.kube, 'HyperGenModel', NS, 'gpu-hungry');
      return cond(c, 'Ready')?.reason === 'Unschedulable' && c;
    }, 'Ready=False Unschedulable');
    expect(cond(cr, 'Ready')?.status).toBe('False');
    expect(cond(cr, 'Degraded')).toMatchObject({ status: 'True', reason: 'Unschedulable' });
    expect(cond(cr, 'Degraded')?.message).toContain('Insufficient nvidia.com/gpu');
    const events = await waitFor(async () => {
      const e = await eventsFor('gpu-hungry');
      return e.some((x) => x.reason === 'Unschedulable') && e;
    }, 'the Unschedulable Event');
    expect(events.find((x) => x.reason === 'Unschedulable')).toMatchObject({ type: 'Warning', involvedObject: { kind: 'HyperGenModel' }, source: { component: 'hypergen-operator' } });
  });

  it('reports a crashing server as CrashLoopBackOff', async () => {
    await createModel(h.kube, model('crashy', { replicas: 1 }));
    await waitFor(() => tryGet(h.kube, 'Deployment', NS, 'crashy'), 'the Deployment');
    await podWithStatus('crashy', 'crashy-xyz34', {
      phase: 'Running',
      conditions: [{ type: 'PodScheduled', status: 'True' }],
      containerStatuses: [{ name: 'server', ready: false, restartCount: 5, image: 'x', imageID: '', state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 5m0s' } } }],
    });
    await waitFor(async () => cond(await tryGet<HyperGenModel>(h.kube, 'HyperGenModel', NS, 'crashy'), 'Ready')?.reason === 'CrashLoopBackOff', 'CrashLoopBackOff');
    await waitFor(async () => (await eventsFor('crashy')).some((x) => x.reason === 'CrashLoopBackOff' && x.type === 'Warning'), 'the Event');
  });
});
