// The user's view with the real kubectl: apply the examples, `get hgm` columns, `scale`, `wait --for=condition=Ready`,
// `describe` Events, and CRD validation messages.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { Kubectl } from '@hypergen/testcluster/kubectl';
import { resourcePath, Types } from '../../src/kube/client.js';
import { REPO } from '../support/fixtures.js';
import { get, startHarness, tryGet, waitFor, type Harness } from '../support/harness.js';

let h: Harness;
let k: Kubectl;
const example = (f: string) => join(REPO, 'examples', f);

beforeAll(async () => {
  h = await startHarness();
  await h.startOperator();
  k = new Kubectl(h.cluster);
});
afterAll(async () => {
  await k?.cleanup();
  await h?.stop();
});

/** Plays the Deployment controller's part for the pods becoming ready: the status subresource it would write. */
async function markReady(ns: string, name: string, replicas: number): Promise<void> {
  await waitFor(async () => {
    const dep = await get(h.kube, 'Deployment', ns, name);
    dep.status = { observedGeneration: dep.metadata.generation, replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas };
    return h.kube.request('PUT', resourcePath(Types.Deployment, ns, name, 'status'), { body: dep });
  }, 'the Deployment status write');
}

describe('kubectl', () => {
  it('applies every example', async () => {
    for (const f of ['tiny.yaml', 'sd15.yaml', 'sdxl.yaml', 'sdxl-turbo.yaml', 'ingress-with-secret.yaml']) {
      const out = await k.ok(['apply', '-n', 'ml', '-f', example(f)]);
      expect(out).toMatch(/hypergenmodel\.hypergen\.io\/\S+ created/);
    }
    await waitFor(() => tryGet(h.kube, 'Ingress', 'ml', 'sd15-public'), 'the example Ingress');
    await waitFor(() => tryGet(h.kube, 'Deployment', 'ml', 'tiny'), 'the tiny Deployment');
    const tiny = await get(h.kube, 'Deployment', 'ml', 'tiny');
    expect(tiny.spec.template.spec.containers[0].args.slice(0, 4)).toEqual(['serve', '/models/models/tiny-sd', '--model-id', 'hypergen/tiny-sd']);
    expect(tiny.spec.template.spec.containers[0].resources.limits).toEqual({ memory: '1Gi' });
  });

  it('shows Model, Ready, Reason, Replicas, URL and Age in `get hgm` (short name and category)', async () => {
    await waitFor(async () => (await k.ok(['get', 'hgm', '-n', 'ml'])).includes('http://tiny.ml.svc.cluster.local/v1'), 'status in the table');
    const out = await k.ok(['get', 'hgm', '-n', 'ml']);
    const [header, ...rows] = out.trim().split('\n');
    expect(header?.split(/\s+/)).toEqual(['NAME', 'MODEL', 'READY', 'REASON', 'REPLICAS', 'URL', 'AGE']);
    const tiny = rows.find((r) => r.startsWith('tiny '))?.split(/\s+/);
    expect(tiny?.slice(0, 6)).toEqual(['tiny', 'hypergen/tiny-sd', 'False', 'MinimumReplicasUnavailable', '0', 'http://tiny.ml.svc.cluster.local/v1']);
    expect(await k.ok(['get', 'hypergen', '-n', 'ml', '-o', 'name'])).toContain('hypergenmodel.hypergen.io/tiny');
  });

  it('`kubectl scale hgm` reaches the Deployment', async () => {
    await k.ok(['scale', '-n', 'ml', 'hgm/tiny', '--replicas=3']);
    await waitFor(async () => (await get(h.kube, 'Deployment', 'ml', 'tiny')).spec.replicas === 3, 'replicas 3 on the Deployment');
  });

  it('`kubectl wait --for=condition=Ready` returns once the pods are ready', async () => {
    const waiting = k.run(['wait', '-n', 'ml', '--for=condition=Ready', 'hgm/tiny', '--timeout=60s']);
    await markReady('ml', 'tiny', 3);
    const r = await waiting;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('hypergenmodel.hypergen.io/tiny condition met');
    const row = (await k.ok(['get', 'hgm', 'tiny', '-n', 'ml', '--no-headers'])).split(/\s+/);
    expect(row.slice(2, 5)).toEqual(['True', 'Available', '3']);
  });

  it('`kubectl describe hgm` shows the Events of transitions', async () => {
    const out = await k.ok(['describe', 'hgm', 'tiny', '-n', 'ml']);
    expect(out).toMatch(/Normal\s+Available\s+.*3\/3 replicas ready/);
  });

  it('rejects invalid specs with the CRD messages (schema, then CEL)', async () => {
    const manifest = (spec: string) => `apiVersion: hypergen.io/v1alpha1
kind: HyperGenModel
metadata: {name: bad, namespace: ml}
spec: ${spec}
`;
    const range = await k.apply(manifest('{model: m, gpu: {count: 99}}'));
    expect(range.code).not.toBe(0);
    expect(range.stderr).toContain('spec.gpu.count: Invalid value: 99: spec.gpu.count in body should be less than or equal to 16');
    const cel = await k.apply(manifest('{model: m, ingress: {enabled: true}}'));
    expect(cel.code).not.toBe(0);
    expect(cel.stderr).toContain('ingress.host is required when ingress.enabled is true');
    expect(await tryGet(h.kube, 'HyperGenModel', 'ml', 'bad')).toBeUndefined();
  });

  it('`kubectl explain` documents the spec from the schema', async () => {
    const out = await k.ok(['explain', 'hgm.spec.gpu']);
    expect(out).toContain('GPUs per pod. count 0 runs on CPU.');
  });
});
