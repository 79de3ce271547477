// The generic applier against a recording fake client: updates keep each kind's live fields, and what it cannot
// write comes back as typed failures (OwnershipConflict, ApplyRejected) instead of strings.
import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { Applier, ApplyRejected, OwnershipConflict, type Cache } from '../src/controller/apply.js';
import { ApiError, type KubeClient } from '../src/kube/client.js';
import { plan, type KubeObject } from '../src/resources/plan.js';
import { config, cr, fixedBytes } from './support/fixtures.js';

type Call = { method: string; path: string; body?: unknown };

function fakeClient(respond: (call: Call) => unknown = (c) => c.body): { client: KubeClient; calls: Call[] } {
  const calls: Call[] = [];
  const request = async (method: string, path: string, options: { body?: unknown } = {}) => {
    const call = { method, path, body: options.body };
    calls.push(call);
    return respond(call);
  };
  return { client: { request } as unknown as KubeClient, calls };
}

const cacheOf = (...objects: KubeObject[]): Cache<KubeObject> => ({
  get: (name, namespace) => objects.find((o) => o.metadata.name === name && o.metadata.namespace === namespace),
  list: () => objects,
});

const model = cr();
const planned = plan(model, config, fixedBytes).objects;
/** Ours as the API has it, with `spec` over the planned spec (drift, and fields the server or a scaler set). */
const ownedLive = (want: KubeObject, spec: Record<string, unknown>): KubeObject => ({
  ...want,
  metadata: { ...want.metadata, resourceVersion: '5' },
  spec: { ...(want.spec as object), ...spec },
});
const log = pino({ level: 'silent' });

describe('the applier', () => {
  it('updates drift keeping the live replica count the plan leaves unset, and the Service cluster IPs', async () => {
    const { client, calls } = fakeClient();
    const applier = new Applier({ client, log });
    const deployment = planned.get('Deployment')![0]! as KubeObject;
    const service = planned.get('Service')![0]! as KubeObject;
    const ips = { clusterIP: '10.0.0.7', clusterIPs: ['10.0.0.7'], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' };
    const d = await applier.applyKind(model.metadata, 'Deployment', planned.get('Deployment')!, {
      cache: cacheOf(ownedLive(deployment, { replicas: 4, template: {} })),
      names: ['demo'],
    });
    const s = await applier.applyKind(model.metadata, 'Service', planned.get('Service')!, { cache: cacheOf(ownedLive(service, { ...ips, ports: [] })), names: ['demo'] });
    expect(calls.map((c) => c.method)).toEqual(['PUT', 'PUT']);
    const [dBody, sBody] = calls.map((c) => c.body as { spec: Record<string, unknown>; metadata: { resourceVersion?: string } });
    expect(dBody!.spec.replicas).toBe(4);
    expect(dBody!.spec.template).toEqual((deployment.spec as { template: unknown }).template);
    expect(dBody!.metadata.resourceVersion).toBe('5');
    expect(sBody!.spec).toMatchObject({ ...ips, ports: (service.spec as { ports: unknown }).ports });
    expect(d).toMatchObject({ awaitingWatch: true, failures: [] });
    expect(s).toMatchObject({ awaitingWatch: true, failures: [] });
  });

  it('reports an object someone else owns as an OwnershipConflict and writes nothing', async () => {
    const { client, calls } = fakeClient();
    const service = planned.get('Service')![0]! as KubeObject;
    const foreign: KubeObject = { ...service, metadata: { name: 'demo', namespace: 'ml', labels: {}, resourceVersion: '1' } };
    const result = await new Applier({ client, log }).applyKind(model.metadata, 'Service', planned.get('Service')!, { cache: cacheOf(foreign), names: ['demo'] });
    expect(calls).toEqual([]);
    expect(result.objects).toEqual([]);
    expect(result.failures).toHaveLength(1);
    const failure = result.failures[0]!;
    expect(failure).toBeInstanceOf(OwnershipConflict);
    expect(failure).toMatchObject({ kind: 'Service', objectName: 'demo', message: 'Service demo exists and is not managed by this HyperGenModel' });
  });

  it('reports an object the API refuses as ApplyRejected, and throws what a retry may fix', async () => {
    const rejecting = fakeClient(() => {
      throw new ApiError(422, 'Invalid', 'spec.rules: Required value');
    });
    const ingress = plan(cr({ ingress: { enabled: true, host: 'h.example' } }), config, fixedBytes).objects.get('Ingress')!;
    const result = await new Applier({ client: rejecting.client, log }).applyKind(model.metadata, 'Ingress', ingress, { cache: cacheOf(), names: ['demo'] });
    expect(result.failures[0]).toBeInstanceOf(ApplyRejected);
    expect(result.failures[0]?.message).toBe('Ingress demo was rejected: spec.rules: Required value');
    const failing = fakeClient(() => {
      throw new ApiError(500, 'InternalError', 'etcd timeout');
    });
    await expect(new Applier({ client: failing.client, log }).applyKind(model.metadata, 'Service', planned.get('Service')!, { cache: cacheOf(), names: ['demo'] })).rejects.toThrow(
      'etcd timeout',
    );
  });
});
