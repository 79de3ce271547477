// The operator against the test API server: objects, drift, pruning, status, Secrets, replicas, faults, RBAC.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HyperGenModel } from '../../src/api/types.js';
import { resourcePath, Types } from '../../src/kube/client.js';
import { allows, LEADER_ELECTION_RULES, RBAC_RULES } from '../../src/rbac.js';
import type { RunningOperator } from '../../src/operator.js';
import { createModel, get, model, settle, startHarness, TEST_AGENT, tryGet, updateSpec, waitFor, type Harness } from '../support/harness.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let h: Harness;
let op: RunningOperator;
const NS = 'ml';

const operatorWrites = () => h.cluster.writes().filter((r) => r.userAgent !== TEST_AGENT);
const condition = (cr: HyperGenModel | undefined, type: string) => cr?.status?.conditions?.find((c) => c.type === type);
const getModel = (name: string) => tryGet<HyperGenModel>(h.kube, 'HyperGenModel', NS, name);
const total = async (metric: { get(): Promise<{ values: { value: number }[] }> }) => (await metric.get()).values.reduce((a, v) => a + v.value, 0);

beforeAll(async () => {
  h = await startHarness();
  op = await h.startOperator();
});
afterAll(async () => {
  await h?.stop();
});

describe('operator: owned objects', () => {
  it('creates the key Secret, Deployment and Service with owner references, and status', async () => {
    const created = await createModel(h.kube, model('basic', { replicas: 1 }));
    const dep = await waitFor(() => tryGet(h.kube, 'Deployment', NS, 'basic'), 'the Deployment');
    const svc = await waitFor(() => tryGet(h.kube, 'Service', NS, 'basic'), 'the Service');
    const secret = await waitFor(() => tryGet(h.kube, 'Secret', NS, 'basic-api-key'), 'the Secret');
    for (const obj of [dep, svc, secret]) {
      expect(obj.metadata.ownerReferences).toEqual([
        { apiVersion: 'hypergen.io/v1alpha1', kind: 'HyperGenModel', name: 'basic', uid: created.metadata.uid, controller: true, blockOwnerDeletion: true },
      ]);
      expect(obj.metadata.labels['app.kubernetes.io/managed-by']).toBe('hypergen-operator');
    }
    expect(Buffer.from(secret.data['api-key'], 'base64').toString()).toMatch(/^sk-hg-[A-Za-z0-9_-]{43}$/);
    expect(dep.spec.template.spec.containers[0].image).toBe('registry.test/hypergen:test');
    expect(dep.metadata.managedFields.map((m: Obj) => m.manager)).toEqual(['hypergen-operator']);
    expect(svc.spec.ports[0]).toMatchObject({ name: 'http', port: 80, targetPort: 'http' });
    const cr = await waitFor(async () => {
      const c = await getModel('basic');
      return c?.status?.observedGeneration === 1 && c;
    }, 'status');
    expect(cr.status).toMatchObject({
      url: 'http://basic.ml.svc.cluster.local/v1',
      apiKeySecret: { name: 'basic-api-key', key: 'api-key' },
      selector: 'app.kubernetes.io/name=hypergen,app.kubernetes.io/instance=basic',
      model: 'org/model',
    });
    expect(condition(cr, 'Ready')?.status).toBe('False');
    // Secrets never reach status or events.
    expect(JSON.stringify(cr.status)).not.toContain('sk-hg-');
  });

  it('follows a spec change to the Deployment, and observedGeneration follows the generation', async () => {
    await settle(op);
    const before = await get(h.kube, 'Secret', NS, 'basic-api-key');
    const updated = await updateSpec(h.kube, NS, 'basic', (s) => (s.serving = { maxBatchSize: 7 }));
    expect(updated.metadata.generation).toBe(2);
    await waitFor(async () => {
      const dep = await get(h.kube, 'Deployment', NS, 'basic');
      return dep.spec.template.spec.containers[0].args.join(' ').includes('--max-batch-size 7');
    }, 'the Deployment to get the new flag');
    await waitFor(async () => (await getModel('basic'))?.status?.observedGeneration === 2, 'observedGeneration 2');
    const cr = await getModel('basic');
    expect(cr?.status?.conditions?.every((c) => c.observedGeneration === 2)).toBe(true);
    // The generated key is never overwritten.
    expect((await get(h.kube, 'Secret', NS, 'basic-api-key')).data).toEqual(before.data);
  });

  it('makes zero writes on a full resync of unchanged CRs', async () => {
    // Quantities in other spellings than the ones the API server stores (500m, 1Gi, "2", 10Gi) are not drift.
    await createModel(h.kube, model('spelled', { resources: { requests: { cpu: '0.5', memory: '1024Mi' }, limits: { cpu: 2 } }, cache: { pvc: { size: '10240Mi' } } }));
    const spelled = await waitFor(() => tryGet(h.kube, 'Deployment', NS, 'spelled'), 'the Deployment');
    expect(spelled.spec.template.spec.containers[0].resources).toMatchObject({ requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2' } });
    expect((await waitFor(() => tryGet(h.kube, 'PersistentVolumeClaim', NS, 'spelled-model-cache'), 'the cache claim')).spec.resources.requests.storage).toBe('10Gi');
    await settle(op);
    h.cluster.clearRequests();
    const before = await total(op.metrics.reconciles);
    op.controller.resyncAll();
    await settle(op);
    expect(operatorWrites()).toEqual([]);
    // It did look: every CR was reconciled again.
    expect((await total(op.metrics.reconciles)) - before).toBeGreaterThanOrEqual(1);
  });

  it('reverts a manual edit of the Deployment', async () => {
    await settle(op);
    const dep = await get(h.kube, 'Deployment', NS, 'basic');
    dep.spec.template.spec.containers[0].image = 'evil:latest';
    dep.spec.template.spec.containers[0].env.push({ name: 'INJECTED', value: '1' });
    await h.kube.request('PUT', resourcePath(Types.Deployment, NS, 'basic'), { body: dep });
    await waitFor(async () => {
      const now = await get(h.kube, 'Deployment', NS, 'basic');
      const c = now.spec.template.spec.containers[0];
      return c.image === 'registry.test/hypergen:test' && !c.env.some((e: Obj) => e.name === 'INJECTED');
    }, 'the edit to be reverted');
  });

  it('recreates a deleted owned object', async () => {
    await settle(op);
    const old = await get(h.kube, 'Service', NS, 'basic');
    await h.kube.request('DELETE', resourcePath(Types.Service, NS, 'basic'));
    const again = await waitFor(async () => {
      const s = await tryGet(h.kube, 'Service', NS, 'basic');
      return s && s.metadata.uid !== old.metadata.uid && s;
    }, 'the Service to come back');
    expect(again.spec.ports[0].port).toBe(80);
  });

  it('recreates a deleted generated Secret at the next reconcile (Secrets have no informer: a resync or any event)', async () => {
    await settle(op);
    const old = await get(h.kube, 'Secret', NS, 'basic-peer-key');
    await h.kube.request('DELETE', resourcePath(Types.Secret, NS, 'basic-peer-key'));
    op.controller.resyncAll();
    const again = await waitFor(async () => {
      const s = await tryGet(h.kube, 'Secret', NS, 'basic-peer-key');
      return s && s.metadata.uid !== old.metadata.uid && s;
    }, 'the peer key Secret to come back');
    expect(Buffer.from(again.data['peer-key'], 'base64').toString()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('creates an Ingress when enabled and prunes it when disabled', async () => {
    await updateSpec(h.kube, NS, 'basic', (s) => (s.ingress = { enabled: true, host: 'basic.example.com', tls: { secretName: 'tls' } }));
    const ing = await waitFor(() => tryGet(h.kube, 'Ingress', NS, 'basic'), 'the Ingress');
    expect(ing.spec.rules[0].host).toBe('basic.example.com');
    await waitFor(async () => (await getModel('basic'))?.status?.ingressURL === 'https://basic.example.com/v1', 'ingressURL');
    await updateSpec(h.kube, NS, 'basic', (s) => (s.ingress = { enabled: false }));
    await waitFor(async () => !(await tryGet(h.kube, 'Ingress', NS, 'basic')), 'the Ingress to be pruned');
    await waitFor(async () => (await getModel('basic'))?.status?.ingressURL === undefined, 'ingressURL to be cleared');
  });

  it('garbage-collects the children when the CR is deleted', async () => {
    await createModel(h.kube, model('doomed'));
    await waitFor(() => tryGet(h.kube, 'Deployment', NS, 'doomed'), 'the Deployment');
    await h.kube.request('DELETE', resourcePath(Types.HyperGenModel, NS, 'doomed'));
    await waitFor(async () => {
      const left = await Promise.all([tryGet(h.kube, 'Deployment', NS, 'doomed'), tryGet(h.kube, 'Service', NS, 'doomed'), tryGet(h.kube, 'Secret', NS, 'doomed-api-key')]);
      return left.every((o) => o === undefined);
    }, 'the children to be collected');
  });

  it('does not take over an object it does not manage', async () => {
    await h.kube.request('POST', resourcePath(Types.Service, NS), {
      body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'squatter', namespace: NS }, spec: { ports: [{ port: 1234 }] } },
    });
    await createModel(h.kube, model('squatter'));
    const cr = await waitFor(async () => {
      const c = await getModel('squatter');
      return condition(c, 'Degraded')?.reason === 'ResourceConflict' && c;
    }, 'a ResourceConflict');
    expect(condition(cr, 'Degraded')?.message).toContain('Service squatter');
    expect((await get(h.kube, 'Service', NS, 'squatter')).spec.ports[0].port).toBe(1234);
    await h.kube.request('DELETE', resourcePath(Types.HyperGenModel, NS, 'squatter'));
  });
});

describe('operator: adoption', () => {
  it('adopts the children orphaned by an earlier CR of the same name, keeping the generated key', async () => {
    const first = await createModel(h.kube, model('phoenix'));
    const secret = await waitFor(() => tryGet(h.kube, 'Secret', NS, 'phoenix-api-key'), 'the Secret');
    await waitFor(() => tryGet(h.kube, 'Deployment', NS, 'phoenix'), 'the Deployment');
    await h.kube.request('DELETE', resourcePath(Types.HyperGenModel, NS, 'phoenix'), { body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Orphan' } });
    await waitFor(async () => !(await getModel('phoenix')) && (await get(h.kube, 'Secret', NS, 'phoenix-api-key')).metadata.ownerReferences === undefined, 'the orphaning');
    const second = await createModel(h.kube, model('phoenix'));
    expect(second.metadata.uid).not.toBe(first.metadata.uid);
    for (const [type, name] of [['Secret', 'phoenix-api-key'], ['Deployment', 'phoenix'], ['Service', 'phoenix']] as const) {
      await waitFor(async () => (await get(h.kube, type, NS, name)).metadata.ownerReferences?.[0]?.uid === second.metadata.uid, `${type} adopted`);
    }
    expect((await get(h.kube, 'Secret', NS, 'phoenix-api-key')).data).toEqual(secret.data);
  });
});

describe('operator: referenced Secrets', () => {
  it('is Degraded while a referenced Secret is missing, then proceeds once it exists', async () => {
    await createModel(h.kube, model('byo', { apiKey: { secretRef: { name: 'byo-key', key: 'k' } } }));
    const cr = await waitFor(async () => {
      const c = await getModel('byo');
      return condition(c, 'Degraded')?.status === 'True' && c;
    }, 'Degraded');
    expect(condition(cr, 'Degraded')).toMatchObject({ reason: 'SecretNotFound', message: 'Secret byo-key (spec.apiKey.secretRef) not found in namespace ml' });
    expect(condition(cr, 'Ready')).toMatchObject({ status: 'False', reason: 'SecretNotFound' });
    expect(await tryGet(h.kube, 'Deployment', NS, 'byo')).toBeUndefined();
    expect(await tryGet(h.kube, 'Secret', NS, 'byo-api-key')).toBeUndefined();
    const events = await h.kube.request<{ items: Obj[] }>('GET', resourcePath(Types.Event, NS));
    expect(events.items.some((e) => e.involvedObject.name === 'byo' && e.reason === 'SecretNotFound' && e.type === 'Warning')).toBe(true);

    await h.kube.request('POST', resourcePath(Types.Secret, NS), {
      body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'byo-key', namespace: NS }, stringData: { k: 'sk-hg-user-provided' } },
    });
    const dep = await waitFor(() => tryGet(h.kube, 'Deployment', NS, 'byo'), 'the Deployment once the Secret exists');
    expect(dep.spec.template.spec.volumes.find((v: Obj) => v.name === 'api-key').secret.secretName).toBe('byo-key');
    await waitFor(async () => condition(await getModel('byo'), 'Degraded')?.status === 'False', 'Degraded to clear');
    expect((await getModel('byo'))?.status?.apiKeySecret).toEqual({ name: 'byo-key', key: 'k' });
  });
});

describe('operator: replicas', () => {
  it('propagates spec.replicas (the scale subresource) to the Deployment', async () => {
    await createModel(h.kube, model('scaled', { replicas: 1 }));
    await waitFor(() => tryGet(h.kube, 'Deployment', NS, 'scaled'), 'the Deployment');
    await h.kube.request('PATCH', resourcePath(Types.HyperGenModel, NS, 'scaled', 'scale'), {
      body: { spec: { replicas: 3 } },
      contentType: 'application/merge-patch+json',
    });
    await waitFor(async () => (await get(h.kube, 'Deployment', NS, 'scaled')).spec.replicas === 3, 'replicas 3 on the Deployment');
  });

  it('leaves the Deployment replicas alone when spec.replicas is unset (an autoscaler owns them)', async () => {
    await createModel(h.kube, model('autoscaled'));
    await waitFor(() => tryGet(h.kube, 'Deployment', NS, 'autoscaled'), 'the Deployment');
    await settle(op);
    await h.kube.request('PATCH', resourcePath(Types.Deployment, NS, 'autoscaled', 'scale'), {
      body: { spec: { replicas: 4 } },
      contentType: 'application/merge-patch+json',
    });
    // A spec change forces a Deployment update: replicas must survive it.
    await updateSpec(h.kube, NS, 'autoscaled', (s) => (s.serving = { defaultSteps: 3 }));
    await waitFor(async () => (await get(h.kube, 'Deployment', NS, 'autoscaled')).spec.template.spec.containers[0].args.includes('--default-steps'), 'the update');
    await settle(op);
    h.cluster.clearRequests();
    op.controller.resyncAll();
    await settle(op);
    expect((await get(h.kube, 'Deployment', NS, 'autoscaled')).spec.replicas).toBe(4);
    expect(operatorWrites().filter((w) => w.resource === 'deployments')).toEqual([]);
  });
});

describe('operator: API faults', () => {
  it('converges through 500s on creates and 409 conflicts on updates', async () => {
    h.cluster.injectFault({ verb: 'create', resource: 'deployments', status: 500, times: 2 });
    h.cluster.injectFault({ verb: 'create', resource: 'services', status: 503, times: 1 });
    await createModel(h.kube, model('flaky', { replicas: 1 }));
    await waitFor(() => tryGet(h.kube, 'Deployment', NS, 'flaky'), 'the Deployment despite 500s');
    await waitFor(() => tryGet(h.kube, 'Service', NS, 'flaky'), 'the Service despite a 503');
    h.cluster.injectFault({ verb: 'update', resource: 'deployments', status: 409, times: 2 });
    h.cluster.injectFault({ verb: 'patch', resource: 'hypergenmodels', subresource: 'status', status: 500, times: 1 });
    await updateSpec(h.kube, NS, 'flaky', (s) => (s.replicas = 2));
    await waitFor(async () => (await get(h.kube, 'Deployment', NS, 'flaky')).spec.replicas === 2, 'the update despite conflicts');
    await waitFor(async () => (await getModel('flaky'))?.status?.observedGeneration === 2, 'status despite a 500');
    expect(await total(op.metrics.reconcileErrors)).toBeGreaterThanOrEqual(4);
    h.cluster.clearFaults();
  });

  it('reports an object the API server rejects as Degraded ApplyFailed, and recovers', async () => {
    h.cluster.injectFault({ verb: 'create', resource: 'deployments', status: 422, times: Infinity, message: 'Deployment.apps "rejected" is invalid: spec.template.spec.affinity: Invalid value' });
    await createModel(h.kube, model('rejected'));
    const cr = await waitFor(async () => {
      const c = await getModel('rejected');
      return condition(c, 'Degraded')?.reason === 'ApplyFailed' && c;
    }, 'ApplyFailed');
    expect(condition(cr, 'Degraded')?.message).toContain('Deployment rejected was rejected');
    expect(condition(cr, 'Ready')?.reason).toBe('ApplyFailed');
    h.cluster.clearFaults();
    await waitFor(() => tryGet(h.kube, 'Deployment', NS, 'rejected'), 'the Deployment once accepted');
    await waitFor(async () => condition(await getModel('rejected'), 'Degraded')?.status === 'False', 'Degraded to clear');
  });

  it('restarts watches that are cut (socket reset) and keeps reconciling', async () => {
    await settle(op);
    const restartsBefore = await total(op.metrics.watchRestarts);
    // HyperGenModels, pods and the cached owned kinds (PVC, Deployment, Service, Ingress); Secrets are never watched.
    const WATCHES = 6;
    expect(h.cluster.dropWatches({ abrupt: true })).toBeGreaterThanOrEqual(WATCHES);
    await waitFor(async () => (await total(op.metrics.watchRestarts)) >= restartsBefore + WATCHES, 'every watch to restart');
    await waitFor(() => h.cluster.openWatches() >= WATCHES, 'the watches to be re-established');
    await updateSpec(h.kube, NS, 'basic', (s) => (s.serving = { maxBatchSize: 9 }));
    await waitFor(async () => (await get(h.kube, 'Deployment', NS, 'basic')).spec.template.spec.containers[0].args.join(' ').includes('--max-batch-size 9'), 'a change after the reset');
  });

  it('relists after 410 Expired and notices what changed meanwhile', async () => {
    await settle(op);
    // Watches end (gracefully), the history is compacted, and objects change before the operator re-watches.
    h.cluster.injectFault({ verb: 'watch', status: 500, times: 20 });
    h.cluster.dropWatches();
    await h.kube.request('DELETE', resourcePath(Types.Service, NS, 'scaled'));
    h.cluster.compact();
    h.cluster.clearRequests();
    h.cluster.clearFaults();
    await waitFor(async () => !!(await tryGet(h.kube, 'Service', NS, 'scaled')), 'the Service deleted during the outage to be recreated');
    // The old resourceVersion was compacted away: the informer had to list again.
    expect(h.cluster.requests({ verb: 'list', resource: 'services' }).filter((r) => r.userAgent !== TEST_AGENT).length).toBeGreaterThanOrEqual(1);
    await updateSpec(h.kube, NS, 'basic', (s) => (s.serving = { maxBatchSize: 10 }));
    await waitFor(async () => (await get(h.kube, 'Deployment', NS, 'basic')).spec.template.spec.containers[0].args.join(' ').includes('--max-batch-size 10'), 'a change after the relist');
  });
});

describe('operator: CRD validation on the server', () => {
  it('rejects an enabled ingress without host (CEL) and a bad replica count', async () => {
    await expect(createModel(h.kube, model('bad1', { ingress: { enabled: true } }))).rejects.toMatchObject({ code: 422 });
    await expect(createModel(h.kube, model('bad2', { replicas: -2 }))).rejects.toMatchObject({ code: 422 });
  });
});

describe('operator: namespaces and RBAC', () => {
  it('watches only the listed namespaces when given', async () => {
    const scoped = await h.startOperator({ namespaces: ['other'], identity: 'scoped' });
    await createModel(h.kube, model('elsewhere', {}, 'other'));
    await waitFor(() => tryGet(h.kube, 'Deployment', 'other', 'elsewhere'), 'the Deployment in the listed namespace');
    // The all-namespaces operator also reconciles it; the scoped one must not list or watch outside "other".
    const outside = h.cluster
      .requests()
      .filter((r) => r.userAgent !== TEST_AGENT && (r.verb === 'list' || r.verb === 'watch') && r.namespace !== undefined && r.namespace !== 'other');
    expect(outside).toEqual([]);
    await scoped.stop();
    h.operators.splice(h.operators.indexOf(scoped), 1);
  });

  it('makes only the API calls rbac.ts declares', () => {
    const calls = new Set(
      h.cluster
        .requests()
        .filter((r) => r.userAgent !== TEST_AGENT && r.resource)
        .map((r) => `${r.group ?? ''}|${r.resource}${r.subresource ? `/${r.subresource}` : ''}|${r.verb}`),
    );
    expect(calls.size).toBeGreaterThan(10);
    const undeclared = [...calls].filter((c) => {
      const [group = '', resource = '', verb = ''] = c.split('|');
      return !allows(RBAC_RULES, group, resource, verb) && !allows(LEADER_ELECTION_RULES, group, resource, verb);
    });
    expect(undeclared).toEqual([]);
  });

  // Issue 13: the operator reads Secrets by name only, so its role needs (and has) no list or watch on them.
  it('never lists or watches Secrets, and its rules do not allow it', () => {
    const secretVerbs = new Set(h.cluster.requests().filter((r) => r.userAgent !== TEST_AGENT && r.resource === 'secrets').map((r) => r.verb));
    expect(secretVerbs.has('get')).toBe(true);
    expect(secretVerbs.has('list') || secretVerbs.has('watch')).toBe(false);
    expect(allows(RBAC_RULES, '', 'secrets', 'list') || allows(RBAC_RULES, '', 'secrets', 'watch')).toBe(false);
  });
});
