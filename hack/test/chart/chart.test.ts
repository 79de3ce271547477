// The HyperGen chart rendered with its defaults and the value sets the README documents.
import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { crdTemplateDir, expectedCrdTemplates } from '../../src/chart/crds.js';
import { currentRbacTemplate, expandRules, leaderElectionGrants, operatorGrants, rbacTemplate } from '../../src/chart/rbac.js';
import { parseConfig } from '@hypergen/operator/config.js';
import { chartDir, RenderError, renderChart, type KubeObject, type RenderResult } from '../../src/chart/render.js';

type Obj = KubeObject & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const NS = 'hypergen-system';
const all = (r: RenderResult, kind: string): Obj[] => r.manifests.filter((m) => m.object.kind === kind).map((m) => m.object as Obj);
const one = (r: RenderResult, kind: string): Obj => {
  const found = all(r, kind);
  expect(found).toHaveLength(1);
  return found[0]!;
};
const container = (r: RenderResult) => one(r, 'Deployment').spec.template.spec.containers[0];

describe('charts/hypergen with default values', () => {
  it('renders the operator, its RBAC, metrics Service and the CRD in Helm install order', async () => {
    const r = await renderChart({ namespace: NS });
    expect(r.manifests.map((m) => `${m.object.kind}/${m.object.metadata.name}`)).toEqual([
      'ServiceAccount/hypergen',
      'CustomResourceDefinition/hypergenmodels.hypergen.io',
      'ClusterRole/hypergen',
      'ClusterRoleBinding/hypergen',
      'Role/hypergen-leader-election',
      'RoleBinding/hypergen-leader-election',
      'Service/hypergen-metrics',
      'Deployment/hypergen',
    ]);
    for (const m of r.manifests) {
      if (!['CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding'].includes(m.object.kind)) {
        expect(m.object.metadata.namespace).toBe(NS);
      }
    }
  });

  it('runs the operator with leader election, probes, resources and the restricted security context', async () => {
    const r = await renderChart({ namespace: NS });
    const deploy = one(r, 'Deployment');
    const pod = deploy.spec.template.spec;
    const c = container(r);
    expect(c.image).toBe('ghcr.io/hypergen/hypergen-operator:0.1.0');
    expect(c.args).toEqual([
      '--default-image=ghcr.io/hypergen/hypergen:0.1.0',
      '--gpu-resource-name=nvidia.com/gpu',
      '--namespaces=',
      '--leader-elect=true',
      `--leader-election-namespace=${NS}`,
      '--leader-election-id=hypergen',
      '--metrics-port=8080',
      '--log-level=info',
    ]);
    expect(c.env).toEqual([{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(c.resources.requests).toEqual({ cpu: '50m', memory: '96Mi' });
    expect(c.resources.limits).toEqual({ memory: '256Mi' });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.serviceAccountName).toBe('hypergen');
    expect(deploy.spec.selector.matchLabels).toEqual(one(r, 'Service').spec.selector);
  });

  it('passes operator settings as flags that hypergen-operator parses into its config', async () => {
    const r = await renderChart({
      release: 'prod',
      namespace: 'ops',
      set: [
        'operator.defaultServerImage=registry.local/hg/server:1.2',
        'operator.gpuResourceName=amd.com/gpu',
        'operator.serverImagePullPolicy=Always',
        'operator.logLevel=debug',
        'watchNamespaces={a,b}',
        'image.tag=dev',
      ],
    });
    expect(container(r).image).toBe('ghcr.io/hypergen/hypergen-operator:dev');
    expect(one(r, 'Deployment').metadata.name).toBe('prod-hypergen');
    const config = parseConfig(container(r).args, { POD_NAME: 'prod-hypergen-abc' });
    expect(config).toMatchObject({
      defaultImage: 'registry.local/hg/server:1.2',
      gpuResourceName: 'amd.com/gpu',
      imagePullPolicy: 'Always',
      namespaces: ['a', 'b'],
      leaderElect: true,
      leaderElectionNamespace: 'ops',
      leaderElectionId: 'prod-hypergen',
      identity: 'prod-hypergen-abc',
      metricsPort: 8080,
      logLevel: 'debug',
    });
    expect(parseConfig(container(await renderChart()).args, {}).namespaces).toEqual([]);
  });

  it('keeps the CRD on uninstall and installs it only with crds.install', async () => {
    const crd = one(await renderChart(), 'CustomResourceDefinition');
    expect(crd.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
    expect(crd.spec.names.kind).toBe('HyperGenModel');
    const off = await renderChart({ set: ['crds.install=false'] });
    expect(all(off, 'CustomResourceDefinition')).toHaveLength(0);
    expect(off.notes).toContain('crds.install=false');
  });

  it('prints NOTES that apply a first model and read its generated key', async () => {
    const { notes } = await renderChart({ namespace: NS });
    expect(notes).toContain(`kubectl -n ${NS} rollout status deployment/hypergen`);
    expect(notes).toContain('kind: HyperGenModel');
    expect(notes).toContain("kubectl get secret sdxl-turbo-api-key -n default -o jsonpath='{.data.api-key}' | base64 -d");
    const model = notes.slice(notes.indexOf('apiVersion: hypergen.io'), notes.indexOf('  YAML'));
    expect(parse(model.replace(/^ {2}/gm, ''))).toMatchObject({ kind: 'HyperGenModel', spec: { gpu: { count: 1 } } });
  });
});

describe('charts/hypergen value sets', () => {
  it('watchNamespaces: namespaced Roles in each listed namespace, nothing cluster-wide but the CRD', async () => {
    const r = await renderChart({ namespace: NS, set: ['watchNamespaces={team-a,team-b}'] });
    expect(all(r, 'ClusterRole')).toHaveLength(0);
    expect(all(r, 'ClusterRoleBinding')).toHaveLength(0);
    const roles = all(r, 'Role');
    expect(roles.map((x) => `${x.metadata.namespace}/${x.metadata.name}`)).toEqual([
      'team-a/hypergen',
      'team-b/hypergen',
      `${NS}/hypergen-leader-election`,
    ]);
    for (const b of all(r, 'RoleBinding')) {
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: 'hypergen', namespace: NS }]);
      expect(b.roleRef.name).toBe(roles.find((x) => x.metadata.namespace === b.metadata.namespace && x.metadata.name === b.metadata.name)!.metadata.name);
    }
    expect(container(r).args).toContain('--namespaces=team-a,team-b');
    expect(r.notes).toContain('namespaces team-a, team-b');
  });

  it('ServiceMonitor: scrapes the metrics Service by its labels and port', async () => {
    const r = await renderChart({ namespace: NS, set: ['metrics.serviceMonitor.enabled=true', 'metrics.serviceMonitor.labels.release=prom'] });
    const sm = one(r, 'ServiceMonitor');
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.metadata.labels?.release).toBe('prom');
    const svc = one(r, 'Service');
    expect(svc.metadata.labels ?? {}).toMatchObject(sm.spec.selector.matchLabels);
    expect(sm.spec.endpoints).toEqual([{ port: svc.spec.ports[0].name, path: '/metrics', interval: '30s', scrapeTimeout: '10s' }]);
    expect(r.manifests.at(-1)!.object.kind).toBe('ServiceMonitor'); // unknown kinds go last, as in Helm
    await expect(renderChart({ set: ['metrics.serviceMonitor.enabled=true', 'metrics.service.enabled=false'] })).rejects.toThrow(
      'metrics.serviceMonitor.enabled needs metrics.service.enabled',
    );
  });

  it('PodDisruptionBudget: minAvailable by default, maxUnavailable when set', async () => {
    const r = await renderChart({ set: ['podDisruptionBudget.enabled=true', 'replicaCount=2'] });
    const pdb = one(r, 'PodDisruptionBudget');
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(one(r, 'Deployment').spec.selector.matchLabels);
    const pct = one(await renderChart({ set: ['podDisruptionBudget.enabled=true', 'podDisruptionBudget.maxUnavailable=50%'] }), 'PodDisruptionBudget');
    expect(pct.spec).toMatchObject({ maxUnavailable: '50%' });
    expect(pct.spec.minAvailable).toBeUndefined();
  });

  it('leader election off: no Lease permissions; more than one replica is refused', async () => {
    const r = await renderChart({ set: ['operator.leaderElection.enabled=false'] });
    expect(all(r, 'Role')).toHaveLength(0);
    expect(container(r).args).toContain('--leader-elect=false');
    await expect(renderChart({ set: ['operator.leaderElection.enabled=false', 'replicaCount=2'] })).rejects.toThrow(
      'replicaCount > 1 needs operator.leaderElection.enabled=true',
    );
  });

  it('refuses Kubernetes versions below Chart.yaml kubeVersion, as helm does', async () => {
    await expect(renderChart({ kubeVersion: 'v1.24.9' })).rejects.toThrow(
      'chart requires kubeVersion: >=1.25.0-0 which is incompatible with Kubernetes v1.24.9',
    );
    expect((await renderChart({ kubeVersion: 'v1.33.1-gke.100' })).manifests.length).toBeGreaterThan(0);
  });

  it('an existing ServiceAccount must be named', async () => {
    await expect(renderChart({ set: ['serviceAccount.create=false'] })).rejects.toThrow(
      'serviceAccount.name is required when serviceAccount.create is false',
    );
    const r = await renderChart({ set: ['serviceAccount.create=false', 'serviceAccount.name=ops'] });
    expect(all(r, 'ServiceAccount')).toHaveLength(0);
    expect(one(r, 'ClusterRoleBinding').subjects[0].name).toBe('ops');
  });
});

describe('charts/hypergen values.schema.json', () => {
  const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')) as object;
  const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);

  it('accepts values.yaml (ajv, strict mode)', () => {
    const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as unknown;
    const ok = validate(values);
    expect(validate.errors).toBeNull();
    expect(ok).toBe(true);
  });

  const bad: [string, string[], string][] = [
    ['a string replica count', ['replicaCount=two'], 'replicaCount: Invalid type. Expected: integer, given: string'],
    ['an invalid namespace name', ['watchNamespaces={Team_A}'], 'watchNamespaces.0: Does not match pattern'],
    ['a misspelt key', ['replicas=2'], 'Additional property replicas is not allowed'],
    ['an unknown pull policy', ['image.pullPolicy=Sometimes'], 'image.pullPolicy: image.pullPolicy must be one of the following'],
    ['a bad PDB budget', ['podDisruptionBudget.minAvailable=half'], 'podDisruptionBudget.minAvailable: Must validate at least one schema'],
    ['an out-of-range port', ['operator.metricsPort=70000'], 'operator.metricsPort: Must be less than or equal to 65535'],
    ['a malformed memory limit', ['resources.limits.memory=lots'], 'resources.limits.memory: Must validate at least one schema'],
  ];
  it.each(bad)('rejects %s with a clear message, as helm does', async (_what, set, message) => {
    const err = await renderChart({ set }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RenderError);
    expect((err as Error).message).toContain("values don't meet the specifications of the schema(s) in the following chart(s):\nhypergen:");
    expect((err as Error).message).toContain(message);
  });
});

describe('charts/hypergen is generated from its sources', () => {
  it('templates/crds matches crds/ (run `make manifests` after changing the CRD)', () => {
    const expected = expectedCrdTemplates();
    expect(expected.size).toBeGreaterThan(0);
    expect(readdirSync(crdTemplateDir).sort()).toEqual([...expected.keys()]);
    for (const [name, text] of expected) expect(readFileSync(join(crdTemplateDir, name), 'utf8')).toBe(text);
  });

  it('the rendered CRD is the crds/ object plus the keep annotation', async () => {
    const crd = one(await renderChart(), 'CustomResourceDefinition');
    const source = parse(readFileSync(join(chartDir, '..', '..', 'crds', 'hypergen.io_hypergenmodels.yaml'), 'utf8')) as Obj;
    source.metadata.annotations = { 'helm.sh/resource-policy': 'keep' };
    expect(crd).toEqual(source);
  });

  it('templates/_rbac.tpl matches operator/src/rbac.ts (run `make manifests` after changing it)', () => {
    expect(currentRbacTemplate()).toBe(rbacTemplate());
  });

  it('grants exactly the operator list cluster-wide, per watched namespace, and the Lease rules', async () => {
    const cluster = await renderChart({ namespace: NS });
    expect(expandRules(one(cluster, 'ClusterRole').rules)).toEqual(operatorGrants());
    const leader = all(cluster, 'Role');
    expect(leader).toHaveLength(1);
    expect(expandRules(leader[0]!.rules)).toEqual(leaderElectionGrants());
    const namespaced = await renderChart({ namespace: NS, set: ['watchNamespaces={a}'] });
    const [roleA, roleLeader] = all(namespaced, 'Role');
    expect(roleA!.metadata.namespace).toBe('a');
    expect(expandRules(roleA!.rules)).toEqual(operatorGrants());
    expect(expandRules(roleLeader!.rules)).toEqual(leaderElectionGrants());
  });
});
