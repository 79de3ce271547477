// Pod trouble surfaces in the CR's conditions and Events: Unschedulable (the test cluster's scheduler finds no GPU on
// its only node), CrashLoopBackOff (a kubelet reports a crashing container).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SimulatedPodRunner, crashLoopStatus } from '@hypergen/testcluster';
import type { HyperGenModel } from '../../src/api/types.js';
import { resourcePath, Types } from '../../src/kube/client.js';
import { createModel, model, startHarness, tryGet, waitFor, type Harness } from '../support/harness.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
let h: Harness;
const NS = 'ml';

beforeAll(async () => {
  h = await startHarness({
    podRunner: () => new SimulatedPodRunner(true),
    nodes: [{ name: 'cpu-only', capacity: { cpu: '16', memory: '64Gi', 'nvidia.com/gpu': '0', pods: '110' } }],
  });
  await h.startOperator();
});
afterAll(async () => {
  await h?.stop();
});

const podsOf = async (cr: string) =>
  (await h.kube.request<{ items: Obj[] }>('GET', `${resourcePath(Types.Pod, NS)}?labelSelector=${encodeURIComponent(`app.kubernetes.io/instance=${cr}`)}`)).items;

const cond = (cr: HyperGenModel | undefined, type: string) => cr?.status?.conditions?.find((c) => c.type === type);
const eventsFor = async (name: string) =>
  (await h.kube.request<{ items: Obj[] }>('GET', resourcePath(Types.Event, NS))).items.filter((e) => e.involvedObject.name === name);

describe('pod problems', () => {
  it('reports Unschedulable pods as Ready False with reason Unschedulable and a Warning Event', async () => {
    await createModel(h.kube, model('gpu-hungry', { gpu: { count: 1 }, replicas: 1 }));
    const pod = await waitFor(async () => (await podsOf('gpu-hungry'))[0], 'the pod of the Deployment');
    expect(pod.metadata.ownerReferences[0]).toMatchObject({ kind: 'Deployment', name: 'gpu-hungry', controller: true });
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
    await waitFor(async () => cond(await tryGet<HyperGenModel>(h.kube, 'HyperGenModel', NS, 'crashy'), 'Ready')?.status === 'True', 'Ready with the pod running');
    // What the kubelet reports when the server exits non-zero over and over.
    const [pod] = await podsOf('crashy');
    await h.kube.request('PUT', resourcePath(Types.Pod, NS, pod!.metadata.name, 'status'), { body: { ...pod, status: crashLoopStatus(pod!, { restartCount: 5 }) } });
    await waitFor(async () => cond(await tryGet<HyperGenModel>(h.kube, 'HyperGenModel', NS, 'crashy'), 'Ready')?.reason === 'CrashLoopBackOff', 'CrashLoopBackOff');
    await waitFor(async () => (await eventsFor('crashy')).some((x) => x.reason === 'CrashLoopBackOff' && x.type === 'Warning'), 'the Event');
  });
});
