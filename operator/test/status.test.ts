import { describe, expect, it } from '@jest/globals';
import type { HyperGenModel } from '../src/api/types.js';
import { plan } from '../src/resources/plan.js';
import { computeStatus as computeStatusWith, podProblem, statusEqual, transitionEvents, type Observed, type ObservedPod } from '../src/status/status.js';
import { config, cr, fixedBytes } from './support/fixtures.js';

/** computeStatus given where the plan says the model is reached (Plan.access), as the reconciler calls it. */
const computeStatus = (c: HyperGenModel, observed: Observed, now: string) => computeStatusWith(c, plan(c, config, fixedBytes).access, observed, now);

const NOW = '2026-01-01T00:00:00Z';
const LATER = '2026-01-01T00:05:00Z';
const dep = (status: Record<string, number>, replicas = 1, generation = 1) => ({
  metadata: { generation },
  spec: { replicas },
  status: { observedGeneration: generation, ...status },
});
const pod = (status: ObservedPod['status'], name = 'demo-abc'): ObservedPod => ({ metadata: { name }, status });
const cond = (s: ReturnType<typeof computeStatus>, type: string) => s.conditions?.find((c) => c.type === type);

describe('status', () => {
  it('is Ready with url, selector, key secret and counts when a replica is ready', () => {
    const s = computeStatus(cr({ replicas: 1 }), { deployment: dep({ replicas: 1, readyReplicas: 1, updatedReplicas: 1 }), pods: [] }, NOW);
    expect(cond(s, 'Ready')).toMatchObject({ status: 'True', reason: 'Available', observedGeneration: 1, lastTransitionTime: NOW });
    expect(cond(s, 'Progressing')?.status).toBe('False');
    expect(cond(s, 'Degraded')?.status).toBe('False');
    expect(s).toMatchObject({
      observedGeneration: 1,
      replicas: 1,
      readyReplicas: 1,
      selector: 'app.kubernetes.io/name=hypergen,app.kubernetes.io/instance=demo',
      url: 'http://demo.ml.svc.cluster.local/v1',
      apiKeySecret: { name: 'demo-api-key', key: 'api-key' },
      model: 'org/model',
    });
    expect(s.ingressURL).toBeUndefined();
  });

  it('reports the ingress URL and a user Secret', () => {
    const s = computeStatus(cr({ ingress: { enabled: true, host: 'x.example' }, apiKey: { secretRef: { name: 'mine', key: 'k' } } }), { pods: [] }, NOW);
    expect(s.ingressURL).toBe('http://x.example/v1');
    expect(s.apiKeySecret).toEqual({ name: 'mine', key: 'k' });
  });

  it('is Degraded with the problem as Ready reason when a Secret is missing', () => {
    const s = computeStatus(cr(), { pods: [], problem: { reason: 'SecretNotFound', message: 'Secret mine not found' } }, NOW);
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'SecretNotFound', message: 'Secret mine not found' });
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'SecretNotFound' });
    expect(cond(s, 'Progressing')?.status).toBe('True');
  });

  it.each([
    ['Unschedulable', pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes: Insufficient nvidia.com/gpu' }] }), /Insufficient nvidia.com\/gpu/],
    ['ImagePullBackOff', pod({ containerStatuses: [{ name: 'server', state: { waiting: { reason: 'ImagePullBackOff' } } }] }), /cannot pull/],
    ['CrashLoopBackOff', pod({ containerStatuses: [{ name: 'server', state: { waiting: { reason: 'CrashLoopBackOff' } } }] }), /keeps crashing/],
    ['ModelDownloadFailed', pod({ initContainerStatuses: [{ name: 'pull-model', state: { waiting: { reason: 'CrashLoopBackOff' } } }] }), /model download/],
  ])('maps pods to %s', (reason, p, message) => {
    const s = computeStatus(cr(), { deployment: dep({ replicas: 1 }), pods: [p] }, NOW);
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason });
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'True', reason });
    expect(cond(s, 'Degraded')?.message).toMatch(message);
  });

  it('says the model is downloading, then loading', () => {
    const downloading = pod({ initContainerStatuses: [{ name: 'pull-model', state: { running: {} } }], containerStatuses: [{ name: 'server', state: { waiting: { reason: 'PodInitializing' } } }] });
    const loading = pod({ initContainerStatuses: [{ name: 'pull-model', state: { terminated: { exitCode: 0 } } }], containerStatuses: [{ name: 'server', ready: false, state: { running: {} } }] });
    expect(cond(computeStatus(cr(), { deployment: dep({ replicas: 1 }), pods: [downloading] }, NOW), 'Ready')?.reason).toBe('ModelDownloading');
    const s = computeStatus(cr(), { deployment: dep({ replicas: 1 }), pods: [loading] }, NOW);
    expect(cond(s, 'Ready')?.reason).toBe('ModelLoading');
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'True', reason: 'ModelLoading' });
    expect(cond(s, 'Degraded')?.status).toBe('False');
  });

  it('ignores terminating pods and reports MinimumReplicasUnavailable otherwise', () => {
    const gone = { ...pod({ containerStatuses: [{ name: 'server', state: { waiting: { reason: 'CrashLoopBackOff' } } }] }), metadata: { name: 'old', deletionTimestamp: NOW } };
    expect(podProblem([gone])).toBeUndefined();
    expect(cond(computeStatus(cr(), { deployment: dep({}), pods: [gone] }, NOW), 'Ready')?.reason).toBe('MinimumReplicasUnavailable');
  });

  it('is Progressing while a rollout is incomplete and ScaledToZero at zero replicas', () => {
    const rolling = computeStatus(cr({ replicas: 3 }), { deployment: dep({ replicas: 3, readyReplicas: 1, updatedReplicas: 1 }, 3), pods: [] }, NOW);
    expect(cond(rolling, 'Ready')?.status).toBe('True');
    expect(cond(rolling, 'Progressing')).toMatchObject({ status: 'True', reason: 'RolloutInProgress', message: '1/3 replicas ready' });
    const stale = computeStatus(cr({ replicas: 1 }), { deployment: { ...dep({ replicas: 1, readyReplicas: 1, updatedReplicas: 1 }, 1, 2), status: { observedGeneration: 1, replicas: 1, readyReplicas: 1, updatedReplicas: 1 } }, pods: [] }, NOW);
    expect(cond(stale, 'Progressing')?.status).toBe('True');
    const zero = computeStatus(cr({ replicas: 0 }), { deployment: dep({}, 0), pods: [] }, NOW);
    expect(cond(zero, 'Ready')).toMatchObject({ status: 'False', reason: 'ScaledToZero' });
  });

  it('keeps lastTransitionTime unless the status flips, so an unchanged world gives an equal status', () => {
    const observed = { deployment: dep({ replicas: 1, readyReplicas: 1, updatedReplicas: 1 }), pods: [] };
    const first = computeStatus(cr({ replicas: 1 }), observed, NOW);
    const withStatus = { ...cr({ replicas: 1 }), status: first };
    const second = computeStatus(withStatus, observed, LATER);
    expect(statusEqual(first, second)).toBe(true);
    const flipped = computeStatus(withStatus, { deployment: dep({ replicas: 1 }), pods: [] }, LATER);
    expect(cond(flipped, 'Ready')?.lastTransitionTime).toBe(LATER);
    expect(cond(flipped, 'Degraded')?.lastTransitionTime).toBe(NOW);
    expect(statusEqual(first, flipped)).toBe(false);
  });

  it('emits events on transitions only', () => {
    const bad = computeStatus(cr(), { pods: [], problem: { reason: 'SecretNotFound', message: 'm' } }, NOW);
    const good = computeStatus({ ...cr({ replicas: 1 }), status: bad }, { deployment: dep({ replicas: 1, readyReplicas: 1, updatedReplicas: 1 }), pods: [] }, LATER);
    expect(transitionEvents(undefined, bad.conditions ?? [])).toEqual([{ type: 'Warning', reason: 'SecretNotFound', message: 'm' }]);
    expect(transitionEvents(bad.conditions, bad.conditions ?? [])).toEqual([]);
    expect(transitionEvents(bad.conditions, good.conditions ?? []).map((e) => [e.type, e.reason])).toEqual([
      ['Normal', 'Available'],
      ['Normal', 'Recovered'],
    ]);
  });
});
