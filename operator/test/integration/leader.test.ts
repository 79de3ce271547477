// Two operator instances with leader election on one Lease: one reconciles, the other stands by and takes over.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { resourcePath, Types } from '../../src/kube/client.js';
import { CACHED_KINDS } from '../../src/resources/plan.js';
import { createModel, FAST, get, model, startHarness, TEST_AGENT, tryGet, unfinishedWork, waitFor, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

describe('leader election', () => {
  it('lets exactly one instance act, and hands over when the leader stops', async () => {
    const config = { leaderElect: true, leaderElectionNamespace: 'default', leaderElectionId: 'hypergen-operator' };
    const a = await h.startOperator({ ...config, identity: 'op-a' }, FAST);
    await waitFor(async () => (await a.metrics.leader.get()).values[0]?.value === 1, 'op-a to lead');
    const b = await h.startOperator({ ...config, identity: 'op-b' }, FAST);
    const lease = await get(h.kube, 'Lease', 'default', 'hypergen-operator');
    expect(lease.spec).toMatchObject({ holderIdentity: 'op-a', leaseDurationSeconds: 2 });
    expect(lease.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    await createModel(h.kube, model('elected'));
    await waitFor(() => tryGet(h.kube, 'Deployment', 'ml', 'elected'), 'the leader to reconcile');
    // Let several renew periods pass: the standby never starts its controller, so it never lists or writes.
    await new Promise((r) => setTimeout(r, 600));
    expect((await b.metrics.leader.get()).values[0]?.value ?? 0).toBe(0);
    expect(await unfinishedWork(b)).toBe(0);
    const lists = h.cluster.requests().filter((r) => r.userAgent !== TEST_AGENT && r.resource !== 'leases' && r.verb === 'list');
    // Only op-a's informers listed: one list per watched kind (HyperGenModels, Pods and the cached owned kinds;
    // Secrets are read by name, never listed).
    expect(lists.length).toBe(CACHED_KINDS.length + 2);
    expect(lists.some((r) => r.resource === 'secrets')).toBe(false);

    await a.stop(); // releases the lease
    h.operators.splice(h.operators.indexOf(a), 1);
    await waitFor(async () => (await b.metrics.leader.get()).values[0]?.value === 1, 'op-b to take over');
    expect((await get(h.kube, 'Lease', 'default', 'hypergen-operator')).spec).toMatchObject({ holderIdentity: 'op-b', leaseTransitions: 1 });
    await createModel(h.kube, model('after-handover'));
    await waitFor(() => tryGet(h.kube, 'Deployment', 'ml', 'after-handover'), 'the new leader to reconcile');
    await h.kube.request('DELETE', resourcePath(Types.HyperGenModel, 'ml', 'after-handover'));
  });
});
