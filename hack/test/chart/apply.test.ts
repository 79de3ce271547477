// The rendered chart applied with real kubectl to the local test API server, and the real operator started with the
// chart's own Deployment arguments: every API call it makes must be allowed by the chart's RBAC.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { parse } from 'yaml';
import { authorized, requestAttributes, type BoundRules } from '../../src/chart/rbac.js';
import { renderChart, repoRoot, toYamlStream, type RenderResult } from '../../src/chart/render.js';
import { startTestCluster, type TestCluster } from '@hypergen/testcluster';
import { Kubectl } from '@hypergen/testcluster/kubectl';

const RELEASE_NS = 'hypergen-system';
let cluster: TestCluster;
let k: Kubectl;

const kubectl = (...args: string[]): Promise<string> => k.ok(args);

/** `kubectl apply -f FILE` of a render, kept as FILE in kubectl's private HOME. */
const applyRender = (result: RenderResult, name: string): Promise<string> => kubectl('apply', '-f', k.file(`${name}.yaml`, toYamlStream(result)));

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  cluster = await startTestCluster({ namespaces: [RELEASE_NS, 'team-a', 'team-b'] });
  k = new Kubectl(cluster);
});

afterAll(async () => {
  await k?.cleanup();
  await cluster?.stop();
});

describe('charts/hypergen applied with kubectl', () => {
  it('default values: every object is accepted and the CRD becomes Established', async () => {
    const r = await renderChart({ namespace: RELEASE_NS });
    const out = await applyRender(r, 'default');
    for (const m of r.manifests) {
      const kind = m.object.kind.toLowerCase();
      expect(out).toMatch(new RegExp(`^${kind}[.\\w]*/${m.object.metadata.name.replaceAll('.', '\\.')} created$`, 'm'));
    }
    await kubectl('wait', '--for=condition=Established', 'crd/hypergenmodels.hypergen.io', '--timeout=30s');
    const items = (JSON.parse(await kubectl('get', '-f', join(k.home, 'default.yaml'), '-o', 'json')) as { items: unknown[] }).items;
    expect(items).toHaveLength(r.manifests.length);
    // The CRD serves: a first model as in NOTES.txt is accepted, and a bad one is refused by its schema.
    await kubectl('apply', '-n', 'default', '-f', join(repoRoot, 'examples', 'tiny.yaml'));
    expect(await kubectl('get', 'hgm', 'tiny', '-n', 'default', '-o', 'jsonpath={.spec.model}')).toBe('hypergen/tiny-sd');
    // Applying the same render again (what `helm upgrade` does with an unchanged chart) changes nothing.
    expect(await applyRender(await renderChart({ namespace: RELEASE_NS, isUpgrade: true }), 'again')).not.toMatch(/created|configured/);
  });

  it('namespaced watch, ServiceMonitor, PodDisruptionBudget and no CRDs: accepted', async () => {
    // A Prometheus Operator stand-in so that monitoring.coreos.com/v1 exists, as on clusters that enable it.
    await kubectl('apply', '-f', join(repoRoot, 'hack', 'test', 'chart', 'fixtures', 'servicemonitor-crd.yaml'));
    await kubectl('wait', '--for=condition=Established', 'crd/servicemonitors.monitoring.coreos.com', '--timeout=30s');
    const r = await renderChart({
      release: 'scoped',
      namespace: 'team-b',
      apiVersions: ['monitoring.coreos.com/v1'],
      set: [
        'watchNamespaces={team-a,team-b}',
        'metrics.serviceMonitor.enabled=true',
        'podDisruptionBudget.enabled=true',
        'replicaCount=2',
        'crds.install=false',
      ],
    });
    const kinds = r.manifests.map((m) => m.object.kind);
    expect(kinds).toEqual(expect.arrayContaining(['ServiceMonitor', 'PodDisruptionBudget', 'Role', 'RoleBinding']));
    expect(kinds).not.toContain('CustomResourceDefinition');
    const out = await applyRender(r, 'scoped');
    expect(out.trim().split('\n')).toHaveLength(r.manifests.length);
    expect(out).toContain('servicemonitor.monitoring.coreos.com/scoped-hypergen created');
    expect(out).toContain('poddisruptionbudget.policy/scoped-hypergen created');
    expect(await kubectl('get', 'roles', '-n', 'team-a', '-o', 'name')).toBe('role.rbac.authorization.k8s.io/scoped-hypergen\n');
  });

  it('a change in values is applied as an update', async () => {
    const out = await applyRender(await renderChart({ namespace: RELEASE_NS, isUpgrade: true, set: ['replicaCount=2'] }), 'upgrade');
    expect(out).toMatch(/^deployment\.apps\/hypergen configured$/m);
    expect(await kubectl('get', 'deploy', 'hypergen', '-n', RELEASE_NS, '-o', 'jsonpath={.spec.replicas}')).toBe('2');
  });
});

/** Runs hypergen-operator as the chart's Deployment would, against the test server; resolves with its port. */
async function startOperator(result: RenderResult): Promise<{ proc: ChildProcess; port: number; logs: () => string }> {
  const deploy = result.manifests.find((m) => m.object.kind === 'Deployment')!.object as unknown as { spec: { template: { spec: { containers: { args: string[] }[] } } } };
  const args = [...deploy.spec.template.spec.containers[0]!.args, '--metrics-port=0', `--kubeconfig=${cluster.kubeconfigPath}`];
  const proc = spawn(process.execPath, [join(repoRoot, 'operator', 'dist', 'main.js'), ...args], {
    env: { ...process.env, POD_NAME: 'hypergen-test-0', KUBERNETES_SERVICE_HOST: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const port = await waitFor('the operator to start', () => {
    if (proc.exitCode !== null) throw new Error(`operator exited ${proc.exitCode}: ${output}`);
    const line = output.split('\n').find((l) => l.includes('hypergen-operator running'));
    return line ? (JSON.parse(line) as { port: number }).port : undefined;
  });
  return { proc, port, logs: () => output };
}

async function stopOperator(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}

/** The chart's RBAC as bound to the operator: ClusterRoles cluster-wide, Roles in their namespace. */
function bindings(result: RenderResult): BoundRules[] {
  return result.manifests
    .filter((m) => m.object.kind === 'ClusterRole' || m.object.kind === 'Role')
    .map((m) => ({ namespace: m.object.metadata.namespace, rules: (m.object as unknown as { rules: BoundRules['rules'] }).rules }));
}

/** Operator requests (kubectl's are the test's own) that the chart's RBAC would refuse. */
function denied(result: RenderResult): { checked: number; denied: string[] } {
  const b = bindings(result);
  const ops = cluster.requests().filter((r) => !r.userAgent.startsWith('kubectl'));
  const out: string[] = [];
  for (const r of ops) {
    const query = new URLSearchParams(r.query).toString();
    const a = requestAttributes(r.method, query ? `${r.path}?${query}` : r.path);
    if (a && !authorized(b, a)) out.push(`${r.method} ${r.path} (${a.verb} ${a.group}/${a.resource})`);
  }
  return { checked: ops.length, denied: out };
}

async function reconciled(ns: string, name: string): Promise<void> {
  await waitFor(`${ns}/${name} to be reconciled`, async () => {
    const hgm = parse(await kubectl('get', 'hgm', name, '-n', ns, '-o', 'yaml')) as { metadata: { generation: number }; status?: { observedGeneration?: number } };
    if (hgm.status?.observedGeneration !== hgm.metadata.generation) return undefined;
    const owned = await kubectl('get', 'deploy,svc,secret', '-n', ns, '-o', 'name');
    return owned.includes(`deployment.apps/${name}`) && owned.includes(`service/${name}`) && owned.includes(`secret/${name}-api-key`) ? true : undefined;
  });
}

describe('charts/hypergen RBAC against the operator it deploys', () => {
  it('all namespaces: the ClusterRole and the Lease Role cover every call, probes answer', async () => {
    const r = await renderChart({ namespace: RELEASE_NS });
    await applyRender(r, 'rbac'); // unchanged when the tests above ran
    await kubectl('wait', '--for=condition=Established', 'crd/hypergenmodels.hypergen.io', '--timeout=30s');
    await kubectl('apply', '-n', 'default', '-f', join(repoRoot, 'examples', 'tiny.yaml')); // exists before the operator starts
    cluster.clearRequests();
    const op = await startOperator(r);
    try {
      const probe = async (path: string) => (await fetch(`http://127.0.0.1:${op.port}${path}`)).status;
      expect(await probe('/healthz')).toBe(200);
      await waitFor('/readyz', async () => ((await probe('/readyz')) === 200 ? true : undefined));
      await reconciled('default', 'tiny');
      await kubectl('apply', '-n', 'team-a', '-f', join(repoRoot, 'examples', 'tiny.yaml'));
      await reconciled('team-a', 'tiny');
      await kubectl('delete', 'hgm', 'tiny', '-n', 'team-a', '--wait=true');
    } finally {
      await stopOperator(op.proc);
    }
    const verdict = denied(r);
    expect(verdict.denied).toEqual([]);
    expect(verdict.checked).toBeGreaterThan(5);
    const operatorCalls = cluster.requests().filter((x) => !x.userAgent.startsWith('kubectl'));
    // The traffic covered the operator's main paths: watching models, creating their objects, writing status.
    for (const call of ['watch hypergenmodels', 'create deployments', 'create services', 'create secrets', 'patch hypergenmodels/status']) {
      expect(operatorCalls.map((x) => `${x.verb} ${x.resource}${x.subresource ? `/${x.subresource}` : ''}`)).toContain(call);
    }
    const leases = cluster.requests({ resource: 'leases' }).filter((x) => !x.userAgent.startsWith('kubectl'));
    expect(leases.every((x) => x.namespace === RELEASE_NS)).toBe(true);
    expect(leases.length).toBeGreaterThan(0);
  });

  it('watchNamespaces: namespaced Roles cover every call (no cluster-wide list or watch)', async () => {
    const r = await renderChart({ namespace: RELEASE_NS, release: 'scoped-op', set: ['watchNamespaces={team-b}'] });
    await kubectl('apply', '-n', 'team-b', '-f', join(repoRoot, 'examples', 'tiny.yaml'));
    cluster.clearRequests();
    const op = await startOperator(r);
    try {
      await reconciled('team-b', 'tiny');
    } finally {
      await stopOperator(op.proc);
    }
    const verdict = denied(r);
    expect(verdict.denied).toEqual([]);
    expect(verdict.checked).toBeGreaterThan(5);
  });
});
