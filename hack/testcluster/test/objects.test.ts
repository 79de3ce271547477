// The test API server's object semantics, checked through real client-node (and raw HTTPS where a header or content
// type matters) against what kube-apiserver v1.32 does. One `it` per behaviour; watches live in watch.test.ts and
// kubectl in kubectl.test.ts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PatchStrategy, Watch, setHeaderOptions, type V1ConfigMap, type V1Deployment } from '@kubernetes/client-node';
import { SimulatedPodRunner, crashLoopStatus, startTestCluster, type TestCluster } from '../src/index.js';
import {
  WIDGETS_PATH,
  WIDGET_API_VERSION,
  WIDGET_GROUP,
  WIDGET_PLURAL,
  WIDGET_VERSION,
  type Clients,
  type Json,
  clients,
  installWidgetCrd,
  raw,
  rejection,
  waitFor,
  widget,
  widgetCrd,
} from './support.js';

const NS = 'objs';
const W = { group: WIDGET_GROUP, version: WIDGET_VERSION, plural: WIDGET_PLURAL, namespace: NS };
const b64 = (s: string) => Buffer.from(s).toString('base64');
const names = (list: { items: Array<{ metadata?: { name?: string } }> }) => list.items.map((i) => i.metadata!.name!).sort();

function deployment(name: string, extra: Record<string, unknown> = {}, containers?: unknown[]): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: (containers ?? [{ name: 'app', image: 'registry.test/app:1' }]) as never } },
      ...extra,
    },
  };
}

/** Expects a metav1.Status failure with this code and reason (and returns it for more checks). */
function expectStatus(body: Json, code: number, reason: string): Json {
  expect(body).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason });
  expect(typeof body.message).toBe('string');
  return body;
}

describe('test API server: objects', () => {
  let c: TestCluster;
  let k: Clients;

  beforeAll(async () => {
    c = await startTestCluster({ namespaces: [NS, 'sel'] });
    k = clients(c);
    await installWidgetCrd(c);
  });
  afterAll(async () => c.stop());

  const getWidget = async (name: string): Promise<Json> => k.custom.getNamespacedCustomObject({ ...W, name });
  const createWidget = async (body: Record<string, unknown>): Promise<Json> => k.custom.createNamespacedCustomObject({ ...W, body });

  it('CRUD on ConfigMaps, Secrets, Services, Deployments and Widgets, with Status errors and a Content-Type on every response', async () => {
    // ConfigMap
    const cm = await k.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'crud' }, data: { a: '1' } } });
    expect(cm).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'crud', namespace: NS }, data: { a: '1' } });
    expect(cm.metadata!.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(cm.metadata!.creationTimestamp).toBeInstanceOf(Date);
    expect((await k.core.readNamespacedConfigMap({ name: 'crud', namespace: NS })).data).toEqual({ a: '1' });
    const replaced = await k.core.replaceNamespacedConfigMap({ name: 'crud', namespace: NS, body: { ...cm, data: { a: '2' } } });
    expect(replaced.data).toEqual({ a: '2' });
    expect(names(await k.core.listNamespacedConfigMap({ namespace: NS }))).toContain('crud');
    const dup = await rejection(k.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'crud' } } }));
    expect(dup.code).toBe(409);
    expect(expectStatus(dup.body, 409, 'AlreadyExists')).toMatchObject({ message: 'configmaps "crud" already exists', details: { name: 'crud', kind: 'configmaps' } });
    // Empty metadata maps and lists do not survive (ObjectMeta fields are omitempty), for custom resources too.
    const empty = await raw(c, 'POST', `/api/v1/namespaces/${NS}/configmaps`, { body: { metadata: { name: 'empty', labels: {}, annotations: {}, finalizers: [], ownerReferences: [], generateName: '' } } });
    expect(Object.keys(empty.body.metadata).filter((x) => ['labels', 'annotations', 'finalizers', 'ownerReferences', 'generateName'].includes(x))).toEqual([]);
    const emptyW = await raw(c, 'POST', WIDGETS_PATH(NS), { body: { ...widget('empty', { tags: [] }), metadata: { name: 'empty', labels: {}, finalizers: [] } } });
    expect([emptyW.body.metadata.labels, emptyW.body.metadata.finalizers, emptyW.body.spec.tags]).toEqual([undefined, undefined, []]);
    const noNs = await rejection(k.core.createNamespacedConfigMap({ namespace: 'nope', body: { metadata: { name: 'crud' } } }));
    expect(expectStatus(noNs.body, 404, 'NotFound')).toMatchObject({ message: 'namespaces "nope" not found', details: { name: 'nope', kind: 'namespaces' } });
    const otherNs = await raw(c, 'POST', `/api/v1/namespaces/${NS}/configmaps`, { body: { metadata: { name: 'x', namespace: 'default' } } });
    expect(expectStatus(otherNs.body, 400, 'BadRequest').message).toBe('the namespace of the provided object does not match the namespace sent on the request');
    const missing = await rejection(k.core.replaceNamespacedConfigMap({ name: 'missing', namespace: NS, body: { metadata: { name: 'missing' } } }));
    expect(expectStatus(missing.body, 404, 'NotFound').message).toBe('configmaps "missing" not found');
    const renamed = await raw(c, 'PUT', `/api/v1/namespaces/${NS}/configmaps/crud`, { body: { ...replaced, metadata: { ...replaced.metadata, name: 'other' } } });
    expect(expectStatus(renamed.body, 400, 'BadRequest').message).toBe('the name of the object (other) does not match the name on the URL (crud)');
    const deleted: Json = await k.core.deleteNamespacedConfigMap({ name: 'crud', namespace: NS });
    expect(deleted).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name: 'crud', kind: 'configmaps', uid: cm.metadata!.uid } });
    const gone = await rejection(k.core.readNamespacedConfigMap({ name: 'crud', namespace: NS }));
    expect(gone.code).toBe(404);
    expect(expectStatus(gone.body, 404, 'NotFound')).toMatchObject({ message: 'configmaps "crud" not found', details: { name: 'crud', kind: 'configmaps' } });

    // Secret: data is base64; stringData is merged into data (winning over data) and never stored.
    const secret = await k.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'crud' }, data: { a: b64('from-data'), b: b64('kept') }, stringData: { a: 'from-stringData', c: 'plain' } } });
    expect(secret.type).toBe('Opaque');
    expect(secret.data).toEqual({ a: b64('from-stringData'), b: b64('kept'), c: b64('plain') });
    expect(secret.stringData).toBeUndefined();
    expect((await k.core.readNamespacedSecret({ name: 'crud', namespace: NS })).data).toEqual(secret.data);
    const badB64 = await raw(c, 'POST', `/api/v1/namespaces/${NS}/secrets`, { body: { metadata: { name: 'bad' }, data: { a: 'not base64!' } } });
    expect(badB64.status).toBe(400);
    expectStatus(badB64.body, 400, 'BadRequest');

    // Service: a cluster IP is allocated and the usual defaults filled in.
    const svc = await k.core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'crud' }, spec: { selector: { app: 'x' }, ports: [{ name: 'http', port: 80 }] } } });
    expect(svc.spec).toMatchObject({ type: 'ClusterIP', sessionAffinity: 'None', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 80 }] });
    expect(svc.spec!.clusterIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(svc.spec!.clusterIPs).toEqual([svc.spec!.clusterIP]);
    const noPorts = await rejection(k.core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'noports' }, spec: { selector: { app: 'x' } } } }));
    expect(noPorts.code).toBe(422);
    expect(expectStatus(noPorts.body, 422, 'Invalid')).toMatchObject({
      message: 'Service "noports" is invalid: spec.ports: Required value',
      details: { name: 'noports', kind: 'Service', causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.ports' }] },
    });
    await k.core.deleteNamespacedService({ name: 'crud', namespace: NS });

    // Deployment: defaults, replace, delete.
    const dep = await k.apps.createNamespacedDeployment({ namespace: NS, body: deployment('crud') });
    expect(dep.metadata!.generation).toBe(1);
    expect(dep.spec).toMatchObject({ revisionHistoryLimit: 10, progressDeadlineSeconds: 600, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } } });
    expect(dep.spec!.template.spec!.containers[0]).toMatchObject({ imagePullPolicy: 'IfNotPresent', terminationMessagePath: '/dev/termination-log' });
    const dep2 = await k.apps.replaceNamespacedDeployment({ name: 'crud', namespace: NS, body: { ...dep, spec: { ...dep.spec!, replicas: 3 } } });
    expect(dep2.spec!.replicas).toBe(3);
    const badDep = await rejection(k.apps.createNamespacedDeployment({ namespace: NS, body: deployment('bad', { selector: { matchLabels: { app: 'other' } } }) }));
    expect(badDep.code).toBe(422);
    expect(expectStatus(badDep.body, 422, 'Invalid').details.causes).toContainEqual(expect.objectContaining({ field: 'spec.template.metadata.labels' }));
    await k.apps.deleteNamespacedDeployment({ name: 'crud', namespace: NS });
    expect((await rejection(k.apps.readNamespacedDeployment({ name: 'crud', namespace: NS }))).code).toBe(404);

    // Custom resource: DELETE returns the object (not a Status).
    const w = await createWidget(widget('crud', { size: 2 }));
    expect(w).toMatchObject({ apiVersion: WIDGET_API_VERSION, kind: 'Widget', metadata: { name: 'crud', namespace: NS, generation: 1 }, spec: { size: 2 } });
    expect((await getWidget('crud')).spec.size).toBe(2);
    const w2: Json = await k.custom.replaceNamespacedCustomObject({ ...W, name: 'crud', body: { ...w, spec: { size: 5 } } });
    expect(w2.spec.size).toBe(5);
    expect((await k.custom.listNamespacedCustomObject(W)).items.map((i: Json) => i.metadata.name)).toContain('crud');
    const wdel: Json = await k.custom.deleteNamespacedCustomObject({ ...W, name: 'crud' });
    expect(wdel).toMatchObject({ kind: 'Widget', metadata: { name: 'crud', uid: w.metadata.uid } });
    const wgone = await rejection(getWidget('crud'));
    expect(expectStatus(wgone.body, 404, 'NotFound')).toMatchObject({ message: 'widgets.example.test "crud" not found', details: { name: 'crud', group: WIDGET_GROUP, kind: 'widgets' } });

    // Every response carries a Content-Type, errors and unknown paths included.
    const checks: Array<[string, string, unknown?]> = [
      ['GET', `/api/v1/namespaces/${NS}/configmaps`],
      ['GET', `/api/v1/namespaces/${NS}/configmaps/missing`],
      ['GET', '/api/v1/nosuchresource'],
      ['GET', '/apis/nosuch.group/v1/things'],
      ['GET', '/no/such/path'],
      ['POST', `/api/v1/namespaces/${NS}/configmaps`, '{not json'],
      ['PUT', `/api/v1/namespaces/${NS}/configmaps`, {}],
      ['GET', '/api'],
      ['GET', '/apis'],
      ['GET', '/version'],
    ];
    for (const [method, path, body] of checks) {
      const r = await raw(c, method, path, body === undefined ? {} : { body });
      expect([path, String(r.headers['content-type'] ?? '')]).toEqual([path, expect.stringMatching(/^application\/json/)]);
      expect(r.body).toBeDefined();
      if (r.status >= 400) expect(r.body).toMatchObject({ kind: 'Status', status: 'Failure', code: r.status });
    }
    const unknown = await raw(c, 'GET', '/no/such/path');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ reason: 'NotFound', message: 'the server could not find the requested resource' });
    const unauth = await raw(c, 'GET', '/api/v1/namespaces', { headers: { authorization: 'Bearer wrong' } });
    expect(unauth.status).toBe(401);
    expect(unauth.headers['content-type']).toMatch(/^application\/json/);
    expectStatus(unauth.body, 401, 'Unauthorized');
    const health = await raw(c, 'GET', '/healthz');
    expect([health.status, health.text, health.headers['content-type']]).toEqual([200, 'ok', expect.stringMatching(/^text\/plain/)]);
  });

  it('built-in types decode as Go structs: a value of the wrong JSON type is a 400 naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ env: [{ name: 'PORT', value: 8080 }] }, 'json: cannot unmarshal number into Go struct field EnvVar.spec.template.spec.containers.env.value of type string'],
      [{ ports: [{ containerPort: '80' }] }, 'json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32'],
      [{ args: '--serve' }, 'json: cannot unmarshal string into Go struct field Container.spec.template.spec.containers.args of type []string'],
      [{ resources: { limits: { 'nvidia.com/gpu': 'one' } } }, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"],
    ];
    for (const [container, message] of cases) {
      const r = await raw(c, 'POST', `/apis/apps/v1/namespaces/${NS}/deployments`, { body: deployment('types', {}, [{ name: 'app', image: 'registry.test/app:1', ...(container as object) }]) });
      expect([r.status, r.body.reason, r.body.message]).toEqual([400, 'BadRequest', `Deployment in version "v1" cannot be handled as a Deployment: ${message}`]);
    }
    const replicas = await raw(c, 'POST', `/apis/apps/v1/namespaces/${NS}/deployments`, { body: deployment('types', { replicas: 1.5 }) });
    expect(replicas.body.message).toBe('Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32');
    const cmData = await raw(c, 'POST', `/api/v1/namespaces/${NS}/configmaps`, { body: { metadata: { name: 'types' }, data: { port: 8080 } } });
    expect([cmData.status, cmData.body.message]).toEqual([400, 'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string']);
    // Quantities and int-or-string fields take numbers or strings.
    const ok = await raw(c, 'POST', `/apis/apps/v1/namespaces/${NS}/deployments`, {
      body: deployment('types', { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: '0%' } } }, [{ name: 'app', image: 'registry.test/app:1', resources: { limits: { cpu: 2, memory: '1Gi', 'nvidia.com/gpu': 1 } } }]),
    });
    expect(ok.status).toBe(201);
    // Quantities come back in Go's canonical form (Quantity.String), numbers included.
    expect(ok.body.spec.template.spec.containers[0].resources.limits).toEqual({ cpu: '2', memory: '1Gi', 'nvidia.com/gpu': '1' });
    const canon = async (q: unknown) => {
      const r = await raw(c, 'POST', `/api/v1/namespaces/${NS}/pods?dryRun=All`, { body: { metadata: { name: 'q' }, spec: { containers: [{ name: 'c', image: 'registry.test/x:1', resources: { requests: { x: q } } }] } } });
      return r.body.spec.containers[0].resources.requests.x;
    };
    const forms: Array<[unknown, string]> = [['1024Mi', '1Gi'], ['1.5Gi', '1536Mi'], ['0.5Gi', '512Mi'], ['0.5Ki', '512'], [0.5, '500m'], ['2000m', '2'], ['1500m', '1500m'], ['1000', '1k'], ['1024', '1024'], ['120000', '120k'], ['1e3', '1e3'], ['0.0000000001', '1n'], ['0', '0']];
    for (const [q, want] of forms) expect([q, await canon(q)]).toEqual([q, want]);
    const badSuffix = await raw(c, 'POST', `/api/v1/namespaces/${NS}/pods?dryRun=All`, { body: { metadata: { name: 'q' }, spec: { containers: [{ name: 'c', image: 'i', resources: { limits: { memory: '1Gb' } } }] } } });
    expect([badSuffix.status, badSuffix.body.message]).toEqual([400, "Pod in version \"v1\" cannot be handled as a Pod: unable to parse quantity's suffix"]);
    // So writing a non-canonical spelling of the stored value changes nothing.
    const respelled = await raw(c, 'PATCH', `/apis/apps/v1/namespaces/${NS}/deployments/types`, { contentType: PatchStrategy.StrategicMergePatch, body: { spec: { template: { spec: { containers: [{ name: 'app', resources: { limits: { cpu: '2000m', memory: '1024Mi' } } }] } } } } });
    expect(respelled.body.metadata.resourceVersion).toBe(ok.body.metadata.resourceVersion);
    // Patches are decoded the same way.
    const patched = await raw(c, 'PATCH', `/apis/apps/v1/namespaces/${NS}/deployments/types`, { contentType: PatchStrategy.MergePatch, body: { spec: { paused: 'yes' } } });
    expect([patched.status, patched.body.message]).toEqual([400, 'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool']);
  });

  it('Ingress validation: hosts, path types, absolute paths, backends', async () => {
    const ingress = (rule: Record<string, unknown>, path: Record<string, unknown> = {}) => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'ing' },
      spec: { rules: [{ host: 'models.example.com', ...rule, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'svc', port: { name: 'http' } } }, ...path }] } }] },
    });
    const post = (body: unknown) => raw(c, 'POST', `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses?dryRun=All`, { body });
    expect((await post(ingress({}))).status).toBe(201);
    expect((await post(ingress({ host: '*.example.com' }))).status).toBe(201);
    const causes = async (body: unknown) => {
      const r = await post(body);
      return expectStatus(r.body, 422, 'Invalid').details.causes.map((x: Json) => [x.field, x.message]);
    };
    expect(await causes(ingress({}, { pathType: undefined }))).toEqual([['spec.rules[0].http.paths[0].pathType', 'Required value: pathType must be specified']]);
    expect(await causes(ingress({}, { pathType: 'Regex' }))).toEqual([['spec.rules[0].http.paths[0].pathType', 'Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"']]);
    expect(await causes(ingress({}, { path: 'v1' }))).toEqual([['spec.rules[0].http.paths[0].path', 'Invalid value: "v1": must be an absolute path']]);
    expect(await causes(ingress({}, { backend: { service: { name: 'svc' } } }))).toEqual([['spec.rules[0].http.paths[0].backend', 'Required value: port name or number is required']]);
    expect(await causes(ingress({ host: 'Models.Example.com' }))).toEqual([['spec.rules[0].host', expect.stringMatching(/^Invalid value: "Models.Example.com": a lowercase RFC 1123 subdomain must consist of/)]]);
    expect(await causes(ingress({ host: '10.0.0.1' }))).toEqual([['spec.rules[0].host', 'Invalid value: "10.0.0.1": must be a DNS name, not an IP address']]);
    expect(await causes({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'ing' }, spec: {} })).toEqual([['spec', expect.stringMatching(/^Invalid value: .*: either `defaultBackend` or `rules` must be specified$/)]]);
  });

  it('pod spec validation (templates too): names, volume mounts, requests against limits; requests default from limits on Pods only', async () => {
    const container = (extra: Record<string, unknown>) => ({ name: 'app', image: 'registry.test/app:1', ...extra });
    const causes = async (c0: Record<string, unknown>, volumes?: unknown[]) => {
      const body = deployment('podspec', {}, [container(c0)]) as Json;
      if (volumes) body.spec.template.spec.volumes = volumes;
      const r = await raw(c, 'POST', `/apis/apps/v1/namespaces/${NS}/deployments?dryRun=All`, { body });
      return r.status === 201 ? [] : expectStatus(r.body, 422, 'Invalid').details.causes.map((x: Json) => [x.field, x.message]);
    };
    const at = 'spec.template.spec.containers[0]';
    expect(await causes({ name: 'My_App' })).toEqual([[`${at}.name`, expect.stringMatching(/^Invalid value: "My_App": a lowercase RFC 1123 label must consist of/)]]);
    expect(await causes({ ports: [{ name: 'http-metrics-port', containerPort: 9090 }] })).toEqual([[`${at}.ports[0].name`, 'Invalid value: "http-metrics-port": must be no more than 15 characters']]);
    expect(await causes({ env: [{ name: '1PORT', value: '1' }] })).toEqual([[`${at}.env[0].name`, expect.stringMatching(/^Invalid value: "1PORT": a valid environment variable name must consist of/)]]);
    expect(await causes({ volumeMounts: [{ name: 'models', mountPath: '/models' }] })).toEqual([[`${at}.volumeMounts[0].name`, 'Not found: "models"']]);
    expect(await causes({ volumeMounts: [{ name: 'models', mountPath: '/models' }] }, [{ name: 'models', emptyDir: {} }])).toEqual([]);
    expect(await causes({ resources: { requests: { cpu: '2' }, limits: { cpu: '1' } } })).toEqual([[`${at}.resources.requests`, 'Invalid value: "2": must be less than or equal to cpu limit of 1']]);
    // Extended resources (GPUs) cannot be overcommitted: a request needs an equal limit.
    expect(await causes({ resources: { requests: { 'nvidia.com/gpu': '1' } } })).toEqual([[`${at}.resources.limits`, 'Required value: Limit must be set for non overcommitable resources']]);
    expect(await causes({ resources: { requests: { 'nvidia.com/gpu': '1' }, limits: { 'nvidia.com/gpu': '2' } } })).toEqual([[`${at}.resources.requests`, 'Invalid value: "1": must be equal to nvidia.com/gpu limit of 2']]);
    // Deployment-level rules: pods restart Always; a rolling update must be able to move.
    const depCauses = async (extra: Record<string, unknown>, restartPolicy?: string) => {
      const body = deployment('podspec', extra) as Json;
      if (restartPolicy) body.spec.template.spec.restartPolicy = restartPolicy;
      const r = await raw(c, 'POST', `/apis/apps/v1/namespaces/${NS}/deployments?dryRun=All`, { body });
      return expectStatus(r.body, 422, 'Invalid').details.causes.map((x: Json) => [x.field, x.message]);
    };
    expect(await depCauses({}, 'Never')).toEqual([['spec.template.spec.restartPolicy', 'Unsupported value: "Never": supported values: "Always"']]);
    expect(await depCauses({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '0%' } } })).toEqual([['spec.strategy.rollingUpdate.maxUnavailable', expect.stringMatching(/may not be 0 when `maxSurge` is 0$/)]]);
    // Service ports: names are DNS labels, named target ports IANA service names.
    const svc = await raw(c, 'POST', `/api/v1/namespaces/${NS}/services?dryRun=All`, { body: { metadata: { name: 'podspec' }, spec: { ports: [{ name: 'HTTP', port: 80, targetPort: 'http-metrics-port' }] } } });
    expect(expectStatus(svc.body, 422, 'Invalid').details.causes.map((x: Json) => [x.field, x.message])).toEqual([
      ['spec.ports[0].name', expect.stringMatching(/^Invalid value: "HTTP": a lowercase RFC 1123 label must consist of/)],
      ['spec.ports[0].targetPort', 'Invalid value: "http-metrics-port": must be no more than 15 characters'],
    ]);
    // Limits alone: the template keeps them as given; a Pod gets requests equal to its limits.
    const limitsOnly = { limits: { cpu: '1', 'nvidia.com/gpu': '1' } };
    const dep = await raw(c, 'POST', `/apis/apps/v1/namespaces/${NS}/deployments?dryRun=All`, { body: deployment('podspec', {}, [container({ resources: limitsOnly })]) });
    expect(dep.body.spec.template.spec.containers[0].resources).toEqual(limitsOnly);
    const pod = await raw(c, 'POST', `/api/v1/namespaces/${NS}/pods?dryRun=All`, { body: { metadata: { name: 'podspec' }, spec: { containers: [container({ resources: limitsOnly })] } } });
    expect(pod.body.spec.containers[0].resources).toEqual({ ...limitsOnly, requests: limitsOnly.limits });
  });

  it('immutability: immutable ConfigMaps/Secrets, a Deployment selector, a PersistentVolumeClaim spec', async () => {
    // immutable: true freezes data (and the flag); metadata may still change.
    const frozen = await k.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'frozen' }, data: { a: '1' }, immutable: true } });
    const dataChange = await rejection(k.core.replaceNamespacedConfigMap({ name: 'frozen', namespace: NS, body: { ...frozen, data: { a: '2' }, immutable: false } }));
    expect(expectStatus(dataChange.body, 422, 'Invalid')).toMatchObject({
      message: 'ConfigMap "frozen" is invalid: [immutable: Forbidden: field is immutable when `immutable` is set, data: Forbidden: field is immutable when `immutable` is set]',
      details: { causes: [{ reason: 'FieldValueForbidden', field: 'immutable' }, { reason: 'FieldValueForbidden', field: 'data' }] },
    });
    expect((await k.core.replaceNamespacedConfigMap({ name: 'frozen', namespace: NS, body: { ...frozen, metadata: { ...frozen.metadata, labels: { l: 'v' } } } })).metadata!.labels).toEqual({ l: 'v' });
    const frozenSecret = await k.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'frozen' }, stringData: { a: '1' }, immutable: true } });
    expect((await rejection(k.core.replaceNamespacedSecret({ name: 'frozen', namespace: NS, body: { ...frozenSecret, stringData: { a: '2' } } }))).code).toBe(422);

    // A Deployment's selector never changes.
    const dep = await k.apps.createNamespacedDeployment({ namespace: NS, body: deployment('frozen') });
    const selectorChange = await rejection(k.apps.replaceNamespacedDeployment({ name: 'frozen', namespace: NS, body: { ...dep, spec: { ...dep.spec!, selector: { matchLabels: { app: 'frozen', v: '2' } }, template: { ...dep.spec!.template, metadata: { labels: { app: 'frozen', v: '2' } } } } } }));
    expect(expectStatus(selectorChange.body, 422, 'Invalid').details.causes).toEqual([expect.objectContaining({ reason: 'FieldValueInvalid', field: 'spec.selector' })]);
    expect(selectorChange.body.message).toMatch(/^Deployment\.apps "frozen" is invalid: spec\.selector: Invalid value: .*: field is immutable$/);

    // PersistentVolumeClaim: defaults, required fields, a spec frozen after creation.
    const pvc = await k.core.createNamespacedPersistentVolumeClaim({ namespace: NS, body: { metadata: { name: 'crud' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } });
    expect([pvc.spec!.volumeMode, pvc.status!.phase]).toEqual(['Filesystem', 'Pending']);
    const badPvc = await rejection(k.core.createNamespacedPersistentVolumeClaim({ namespace: NS, body: { metadata: { name: 'bad' }, spec: {} } }));
    expect(expectStatus(badPvc.body, 422, 'Invalid').message).toBe('PersistentVolumeClaim "bad" is invalid: [spec.accessModes: Required value: at least 1 access mode is required, spec.resources[storage]: Required value]');
    const grown = await rejection(k.core.replaceNamespacedPersistentVolumeClaim({ name: 'crud', namespace: NS, body: { ...pvc, spec: { ...pvc.spec, resources: { requests: { storage: '2Gi' } } } } }));
    expect(expectStatus(grown.body, 422, 'Invalid').details.causes).toEqual([{ reason: 'FieldValueForbidden', field: 'spec', message: expect.stringMatching(/^Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims/) }]);
    const labelled = await k.core.replaceNamespacedPersistentVolumeClaim({ name: 'crud', namespace: NS, body: { ...pvc, metadata: { ...pvc.metadata, labels: { a: 'b' } } } });
    expect(labelled.metadata!.labels).toEqual({ a: 'b' });
    // Its registry returns the deleted object rather than a Status (ReturnDeletedObject), as for pods.
    const pvcDel = await raw(c, 'DELETE', `/api/v1/namespaces/${NS}/persistentvolumeclaims/crud`);
    expect([pvcDel.status, pvcDel.body.kind, pvcDel.body.metadata.name]).toEqual([200, 'PersistentVolumeClaim', 'crud']);
  });

  it('one global resourceVersion increases across types; a stale resourceVersion gets 409 Conflict', async () => {
    const start = c.api.store.currentRv();
    const cm = await k.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'rv' }, data: { a: '1' } } });
    const w = await createWidget(widget('rv'));
    const s = await k.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'rv' }, stringData: { a: '1' } } });
    const rvs = [cm.metadata!.resourceVersion, w.metadata.resourceVersion, s.metadata!.resourceVersion].map(Number);
    expect(rvs[0]).toBeGreaterThan(start);
    expect(rvs[1]).toBeGreaterThan(rvs[0]!);
    expect(rvs[2]).toBeGreaterThan(rvs[1]!);
    expect(c.api.store.currentRv()).toBe(rvs[2]);
    const list = await k.core.listNamespacedConfigMap({ namespace: NS });
    expect(Number(list.metadata!.resourceVersion)).toBe(rvs[2]);

    const updated = await k.core.replaceNamespacedConfigMap({ name: 'rv', namespace: NS, body: { ...cm, data: { a: '2' } } });
    expect(Number(updated.metadata!.resourceVersion)).toBeGreaterThan(rvs[2]!);
    const stale = await rejection(k.core.replaceNamespacedConfigMap({ name: 'rv', namespace: NS, body: { ...cm, data: { a: '3' } } }));
    expect(stale.code).toBe(409);
    expect(expectStatus(stale.body, 409, 'Conflict')).toMatchObject({
      message: 'Operation cannot be fulfilled on configmaps "rv": the object has been modified; please apply your changes to the latest version and try again',
      details: { name: 'rv', kind: 'configmaps' },
    });
    const staleW = await rejection(k.custom.replaceNamespacedCustomObject({ ...W, name: 'rv', body: { ...w, spec: { size: 9 } } }).then(() => k.custom.replaceNamespacedCustomObject({ ...W, name: 'rv', body: { ...w, spec: { size: 8 } } })));
    expect(expectStatus(staleW.body, 409, 'Conflict').message).toBe('Operation cannot be fulfilled on widgets.example.test "rv": the object has been modified; please apply your changes to the latest version and try again');
    // A merge patch carrying a stale resourceVersion conflicts too.
    const stalePatch = await raw(c, 'PATCH', `/api/v1/namespaces/${NS}/configmaps/rv`, { contentType: PatchStrategy.MergePatch, body: { metadata: { resourceVersion: cm.metadata!.resourceVersion }, data: { a: '4' } } });
    expect(stalePatch.status).toBe(409);
    // A copy of an object that was deleted and recreated conflicts on its uid, even without a resourceVersion.
    await k.core.deleteNamespacedConfigMap({ name: 'rv', namespace: NS });
    const recreated = await k.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'rv' } } });
    const { resourceVersion: _stale, ...staleMeta } = updated.metadata!;
    const oldUid = await rejection(k.core.replaceNamespacedConfigMap({ name: 'rv', namespace: NS, body: { ...updated, metadata: staleMeta } }));
    expect(expectStatus(oldUid.body, 409, 'Conflict').message).toBe(`Operation cannot be fulfilled on configmaps "rv": Precondition failed: UID in precondition: ${updated.metadata!.uid}, UID in object meta: ${recreated.metadata!.uid}`);
    // An update without a resourceVersion is unconditional for built-ins ...
    const { resourceVersion: _rv, ...metaNoRv } = recreated.metadata!;
    expect((await k.core.replaceNamespacedConfigMap({ name: 'rv', namespace: NS, body: { ...recreated, metadata: metaNoRv, data: { a: '5' } } })).data).toEqual({ a: '5' });
    // ... but custom resources require one.
    const noRv = await raw(c, 'PUT', `${WIDGETS_PATH(NS)}/rv`, { body: widget('rv', { size: 4 }) });
    expect(expectStatus(noRv.body, 422, 'Invalid')).toMatchObject({
      message: 'widgets.example.test "rv" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
      details: { name: 'rv', group: WIDGET_GROUP, kind: 'widgets', causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: 0x0: must be specified for an update', field: 'metadata.resourceVersion' }] },
    });
  });

  it('a no-op update or patch bumps nothing and emits no watch event', async () => {
    const cm = await k.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'noop', labels: { x: 'y' } }, data: { a: '1' } } });
    const w = await createWidget(widget('noop', { size: 3 }));
    const rv = c.api.store.currentRv();
    const events: Array<[string, string]> = [];
    const ac = await new Watch(k.kc).watch(`/api/v1/namespaces/${NS}/configmaps`, { resourceVersion: cm.metadata!.resourceVersion, fieldSelector: 'metadata.name=noop' }, (type, obj) => events.push([type, obj.metadata.resourceVersion]), () => {});
    try {
      const same = await k.core.replaceNamespacedConfigMap({ name: 'noop', namespace: NS, body: cm });
      expect(same.metadata!.resourceVersion).toBe(cm.metadata!.resourceVersion);
      const patched = await k.objects.patch<V1ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'noop', namespace: NS, labels: { x: 'y' } }, data: { a: '1' } }, undefined, undefined, undefined, undefined, PatchStrategy.MergePatch);
      expect(patched.metadata!.resourceVersion).toBe(cm.metadata!.resourceVersion);
      const sameW: Json = await k.custom.replaceNamespacedCustomObject({ ...W, name: 'noop', body: w });
      expect([sameW.metadata.resourceVersion, sameW.metadata.generation]).toEqual([w.metadata.resourceVersion, 1]);
      const sameStatus: Json = await k.custom.replaceNamespacedCustomObjectStatus({ ...W, name: 'noop', body: w });
      expect(sameStatus.metadata.resourceVersion).toBe(w.metadata.resourceVersion);
      // A manager that changes nothing owns nothing: still no write.
      const otherManager = await raw(c, 'PUT', `/api/v1/namespaces/${NS}/configmaps/noop?fieldManager=someone-else`, { body: cm });
      expect([otherManager.status, otherManager.body.metadata.resourceVersion]).toEqual([200, cm.metadata!.resourceVersion]);
      expect(c.api.store.currentRv()).toBe(rv);
      // A real change now: it must be the first event the watch sees.
      const changed = await k.core.replaceNamespacedConfigMap({ name: 'noop', namespace: NS, body: { ...cm, data: { a: '2' } } });
      await waitFor(() => events.length > 0, 'the MODIFIED event');
      expect(events[0]).toEqual(['MODIFIED', changed.metadata!.resourceVersion]);
    } finally {
      ac.abort();
    }
  });

  it('generation moves only on spec changes (custom resources and Deployments)', async () => {
    const w = await createWidget(widget('gen', { size: 1 }));
    expect(w.metadata.generation).toBe(1);
    const merge = (path: string, body: unknown) => raw(c, 'PATCH', path, { contentType: PatchStrategy.MergePatch, body });
    const wpath = `${WIDGETS_PATH(NS)}/gen`;
    let r = await merge(wpath, { metadata: { labels: { a: 'b' }, annotations: { c: 'd' } } });
    expect([r.status, r.body.metadata.generation]).toEqual([200, 1]);
    r = await merge(`${wpath}/status`, { status: { phase: 'Ready' } });
    expect([r.status, r.body.metadata.generation, r.body.status.phase]).toEqual([200, 1, 'Ready']);
    r = await merge(wpath, { spec: { size: 2 } });
    expect(r.body.metadata.generation).toBe(2);
    r = await merge(wpath, { spec: { size: 3 } });
    expect(r.body.metadata.generation).toBe(3);

    const dpath = `/apis/apps/v1/namespaces/${NS}/deployments/gen`;
    await k.apps.createNamespacedDeployment({ namespace: NS, body: deployment('gen') });
    r = await merge(dpath, { metadata: { labels: { a: 'b' } } });
    expect(r.body.metadata.generation).toBe(1);
    r = await merge(`${dpath}/status`, { status: { observedGeneration: 1, replicas: 0 } });
    expect(r.body.metadata.generation).toBe(1);
    r = await merge(dpath, { spec: { replicas: 2 } });
    expect(r.body.metadata.generation).toBe(2);
    // Deployments (apps strategy) also count annotation changes.
    r = await merge(dpath, { metadata: { annotations: { note: 'x' } } });
    expect(r.body.metadata.generation).toBe(3);
    // Objects without generation (ConfigMaps) never get one.
    const cm = await k.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'gen', generation: 7 } as never } });
    expect(cm.metadata!.generation).toBeUndefined();
  });

  it('a cluster-scoped custom resource without subresources: status is ordinary content (generation moves); metadata field selectors only', async () => {
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'gadgets.example.test' },
      spec: {
        group: WIDGET_GROUP,
        scope: 'Cluster',
        names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget', listKind: 'GadgetList' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { a: { type: 'integer' } }, 'x-kubernetes-preserve-unknown-fields': true }, status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } },
          },
        ],
      },
    };
    expect((await raw(c, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd })).status).toBe(201);
    const path = `/apis/${WIDGET_GROUP}/v1/gadgets`;
    await waitFor(async () => (await raw(c, 'GET', path)).status === 200, 'gadgets to be served');
    const G = { group: WIDGET_GROUP, version: 'v1', plural: 'gadgets' };
    const g: Json = await k.custom.createClusterCustomObject({ ...G, body: { apiVersion: WIDGET_API_VERSION, kind: 'Gadget', metadata: { name: 'g', namespace: 'ignored' }, spec: { a: 1 }, status: { ok: true } } });
    expect(g.metadata.namespace).toBeUndefined();
    expect([g.status, g.metadata.generation]).toEqual([{ ok: true }, 1]);
    expect((await raw(c, 'GET', `/apis/${WIDGET_GROUP}/v1/namespaces/default/gadgets/g`)).status).toBe(404);
    expect((await raw(c, 'GET', `${path}/g/status`)).status).toBe(404);
    const st: Json = await k.custom.patchClusterCustomObject({ ...G, name: 'g', body: { status: { ok: false } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    expect([st.status, st.metadata.generation]).toEqual([{ ok: false }, 2]);
    const labelled: Json = await k.custom.patchClusterCustomObject({ ...G, name: 'g', body: { metadata: { labels: { a: 'b' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    expect(labelled.metadata.generation).toBe(2);
    expect((await k.custom.listClusterCustomObject(G)).items.map((i: Json) => i.metadata.name)).toEqual(['g']);
    // Custom resources select on metadata fields only (no selectableFields).
    const byField = async (fieldSelector: string) => (await k.custom.listClusterCustomObject({ ...G, fieldSelector })).items.map((i: Json) => i.metadata.name);
    expect([await byField('metadata.name=g'), await byField('metadata.name!=g')]).toEqual([['g'], []]);
    const unsupported = await rejection(k.custom.listClusterCustomObject({ ...G, fieldSelector: 'spec.a=1' }));
    expect(expectStatus(unsupported.body, 400, 'BadRequest').message).toBe('field label not supported: spec.a');
  });

  it('CRD deletion: Terminating, no new custom resources (405), instances deleted first, then the CRD and its endpoint', async () => {
    const crd = { ...widgetCrd(), metadata: { name: 'gizmos.example.test' } } as Json;
    crd.spec.names = { plural: 'gizmos', singular: 'gizmo', kind: 'Gizmo', listKind: 'GizmoList' };
    expect((await raw(c, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd })).status).toBe(201);
    const path = `/apis/${WIDGET_GROUP}/v1/namespaces/${NS}/gizmos`;
    await waitFor(async () => (await raw(c, 'GET', path)).status === 200, 'gizmos to be served');
    const gizmo = (name: string, finalizers?: string[]) => ({ apiVersion: WIDGET_API_VERSION, kind: 'Gizmo', metadata: { name, ...(finalizers ? { finalizers } : {}) }, spec: {} });
    expect((await raw(c, 'POST', path, { body: gizmo('plain') })).status).toBe(201);
    expect((await raw(c, 'POST', path, { body: gizmo('held', ['example.test/hold']) })).status).toBe(201);
    const del = await raw(c, 'DELETE', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.example.test');
    expect([del.status, del.body.metadata.finalizers]).toEqual([200, ['customresourcecleanup.apiextensions.k8s.io']]);
    const terminating = await waitFor(async () => {
      const r = await raw(c, 'GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.example.test');
      return r.body.status?.conditions?.find((x: Json) => x.type === 'Terminating');
    }, 'the Terminating condition');
    expect(terminating).toMatchObject({ status: 'True', reason: 'InstanceDeletionInProgress', message: 'CustomResource deletion is in progress' });
    const late = await raw(c, 'POST', path, { body: gizmo('late') });
    expect(expectStatus(late.body, 405, 'MethodNotAllowed')).toMatchObject({ message: 'create not allowed while custom resource definition is terminating', details: { group: WIDGET_GROUP, kind: 'gizmos' } });
    await waitFor(async () => (await raw(c, 'GET', path)).body.items?.map((i: Json) => i.metadata.name).join() === 'held', 'the instances without finalizers to go');
    expect((await raw(c, 'GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.example.test')).status).toBe(200);
    await raw(c, 'PATCH', `${path}/held`, { contentType: PatchStrategy.MergePatch, body: { metadata: { finalizers: null } } });
    await waitFor(async () => (await raw(c, 'GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.example.test')).status === 404, 'the CRD to go');
    expect((await raw(c, 'GET', path)).status).toBe(404);
  });

  it('status and scale subresources', async () => {
    const created = await createWidget(widget('sub', { size: 2, replicas: 1 }, { status: { phase: 'Made-up' } }));
    expect(created.status).toBeUndefined();
    // The main endpoint ignores status.
    const main: Json = await k.custom.replaceNamespacedCustomObject({ ...W, name: 'sub', body: { ...created, spec: { size: 4, replicas: 1 }, status: { phase: 'Ignored' } } });
    expect([main.spec.size, main.status]).toEqual([4, undefined]);
    // /status ignores spec and metadata for custom resources.
    const st: Json = await k.custom.replaceNamespacedCustomObjectStatus({
      ...W,
      name: 'sub',
      body: { ...main, metadata: { ...main.metadata, labels: { via: 'status' }, finalizers: ['example.test/x'] }, spec: { size: 99, replicas: 1 }, status: { phase: 'Ready', replicas: 1, selector: 'app=sub' } },
    });
    expect(st.status).toEqual({ phase: 'Ready', replicas: 1, selector: 'app=sub' });
    expect(st.spec.size).toBe(4);
    expect(st.metadata.labels).toBeUndefined();
    expect(st.metadata.finalizers).toBeUndefined();
    expect(st.metadata.generation).toBe(main.metadata.generation);
    // ... and status survives later main-endpoint writes.
    const later: Json = await k.custom.patchNamespacedCustomObject({ ...W, name: 'sub', body: { spec: { size: 5 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    expect(later.status.phase).toBe('Ready');

    // scale: autoscaling/v1 Scale from specReplicasPath/statusReplicasPath/labelSelectorPath.
    const scale: Json = await k.custom.getNamespacedCustomObjectScale({ ...W, name: 'sub' });
    expect(scale).toMatchObject({ kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name: 'sub', namespace: NS, resourceVersion: later.metadata.resourceVersion }, spec: { replicas: 1 }, status: { replicas: 1, selector: 'app=sub' } });
    const scaled: Json = await k.custom.replaceNamespacedCustomObjectScale({ ...W, name: 'sub', body: { ...scale, spec: { replicas: 4 } } });
    expect(scaled).toMatchObject({ kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 4 } });
    const after = await getWidget('sub');
    expect(after.spec.replicas).toBe(4);
    expect(after.metadata.generation).toBe(later.metadata.generation + 1);
    expect(scaled.metadata.resourceVersion).toBe(after.metadata.resourceVersion);
    const staleScale = await rejection(k.custom.replaceNamespacedCustomObjectScale({ ...W, name: 'sub', body: { ...scale, spec: { replicas: 2 } } }));
    expect(expectStatus(staleScale.body, 409, 'Conflict').code).toBe(409);
    const negative = await raw(c, 'PATCH', `${WIDGETS_PATH(NS)}/sub/scale`, { contentType: PatchStrategy.MergePatch, body: { spec: { replicas: -1 } } });
    expect(negative.status).toBe(422);
    expectStatus(negative.body, 422, 'Invalid');

    // Deployments: scale through apps/v1 deployments/scale; /status ignores spec and labels.
    await k.apps.createNamespacedDeployment({ namespace: NS, body: deployment('sub') });
    const dscale = await k.apps.readNamespacedDeploymentScale({ name: 'sub', namespace: NS });
    expect(dscale).toMatchObject({ kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 1 }, status: { replicas: 0, selector: 'app=sub' } });
    await k.apps.replaceNamespacedDeploymentScale({ name: 'sub', namespace: NS, body: { ...dscale, spec: { replicas: 3 } } });
    const dep = await k.apps.readNamespacedDeployment({ name: 'sub', namespace: NS });
    expect([dep.spec!.replicas, dep.metadata!.generation]).toEqual([3, 2]);
    // deployments/status resets spec and labels but takes other metadata (annotations) from the request.
    const dst = await k.apps.replaceNamespacedDeploymentStatus({ name: 'sub', namespace: NS, body: { ...dep, metadata: { ...dep.metadata, labels: { via: 'status' }, annotations: { via: 'status' } }, spec: { ...dep.spec!, replicas: 9 }, status: { replicas: 3, observedGeneration: 2 } } });
    expect([dst.spec!.replicas, dst.metadata!.labels, dst.metadata!.annotations, dst.status!.replicas]).toEqual([3, undefined, { via: 'status' }, 3]);
    // pods/status resets spec and ownerReferences, and takes labels.
    const pod = await k.core.createNamespacedPod({ namespace: NS, body: { metadata: { name: 'sub' }, spec: { containers: [{ name: 'c', image: 'registry.test/x:1' }] } } });
    const pst = await k.core.replaceNamespacedPodStatus({
      name: 'sub',
      namespace: NS,
      body: { ...pod, metadata: { ...pod.metadata, labels: { via: 'status' }, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: dep.metadata!.uid! }] }, spec: { ...pod.spec!, nodeName: 'elsewhere' }, status: { ...pod.status, phase: 'Running' } },
    });
    expect([pst.metadata!.labels, pst.metadata!.ownerReferences, pst.spec!.nodeName, pst.status!.phase]).toEqual([{ via: 'status' }, undefined, undefined, 'Running']);
    // No status/scale subresource on ConfigMaps.
    expect((await raw(c, 'GET', `/api/v1/namespaces/${NS}/configmaps/rv/scale`)).status).toBe(404);
  });

  it('finalizers: delete sets deletionTimestamp, removing the last finalizer deletes, no new finalizers while deleting', async () => {
    const w = await createWidget(widget('fin', { size: 1 }, { metadata: { name: 'fin', finalizers: ['example.test/hold'] } }));
    const del = await raw(c, 'DELETE', `${WIDGETS_PATH(NS)}/fin`);
    expect(del.status).toBe(200);
    expect(del.body.metadata.deletionTimestamp).toEqual(expect.any(String));
    expect(del.body.metadata.deletionGracePeriodSeconds).toBe(0);
    const deleting = await getWidget('fin');
    expect(deleting.metadata).toMatchObject({ finalizers: ['example.test/hold'], generation: w.metadata.generation + 1, deletionTimestamp: del.body.metadata.deletionTimestamp });
    // Deleting again changes nothing.
    const again = await raw(c, 'DELETE', `${WIDGETS_PATH(NS)}/fin`);
    expect(again.body.metadata.resourceVersion).toBe(deleting.metadata.resourceVersion);
    // Spec can still change, but no finalizer may be added.
    const added = await rejection(k.custom.patchNamespacedCustomObject({ ...W, name: 'fin', body: { metadata: { finalizers: ['example.test/hold', 'example.test/late'] } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)));
    expect(added.code).toBe(422);
    expect(expectStatus(added.body, 422, 'Invalid').details.causes).toEqual([
      { reason: 'FieldValueForbidden', field: 'metadata.finalizers', message: 'Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.test/late"}' },
    ]);
    // deletionTimestamp cannot be cleared by an update.
    const cleared: Json = await k.custom.replaceNamespacedCustomObject({ ...W, name: 'fin', body: { ...deleting, metadata: { ...deleting.metadata, deletionTimestamp: undefined }, spec: { size: 2 } } });
    expect(cleared.metadata.deletionTimestamp).toBe(deleting.metadata.deletionTimestamp);
    await k.custom.patchNamespacedCustomObject({ ...W, name: 'fin', body: { metadata: { finalizers: null } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    expect((await rejection(getWidget('fin'))).code).toBe(404);

    // Built-in types too; their pending DELETE returns the object.
    await k.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'fin', finalizers: ['example.test/hold'] } } });
    const cmDel = await raw(c, 'DELETE', `/api/v1/namespaces/${NS}/configmaps/fin`);
    expect([cmDel.status, cmDel.body.kind]).toEqual([200, 'ConfigMap']);
    expect(cmDel.body.metadata.deletionTimestamp).toEqual(expect.any(String));
    await k.core.patchNamespacedConfigMap({ name: 'fin', namespace: NS, body: { metadata: { finalizers: null } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    expect((await rejection(k.core.readNamespacedConfigMap({ name: 'fin', namespace: NS }))).code).toBe(404);
  });

  it('namespace deletion: Terminating, no new content (403), content deleted, the namespace goes last', async () => {
    const ns = 'doomed';
    await k.core.createNamespace({ body: { metadata: { name: ns } } });
    await k.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'plain' } } });
    await k.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'held', finalizers: ['example.test/hold'] } } });
    await k.custom.createNamespacedCustomObject({ ...W, namespace: ns, body: widget('w') });
    const del = await raw(c, 'DELETE', `/api/v1/namespaces/${ns}`);
    expect([del.status, del.body.kind, del.body.status.phase]).toEqual([200, 'Namespace', 'Terminating']);
    expect(del.body.metadata.deletionTimestamp).toEqual(expect.any(String));
    const blocked = await rejection(k.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'late' } } }));
    expect(expectStatus(blocked.body, 403, 'Forbidden')).toMatchObject({
      message: `configmaps "late" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
      details: { causes: [{ reason: 'NamespaceTerminating', field: 'metadata.namespace' }] },
    });
    const list = async () => names(await k.core.listNamespacedConfigMap({ namespace: ns }));
    await waitFor(async () => (await list()).join() === 'held', 'the namespace content to be deleted');
    expect((await k.custom.listNamespacedCustomObject({ ...W, namespace: ns })).items).toEqual([]);
    expect((await k.core.readNamespacedConfigMap({ name: 'held', namespace: ns })).metadata!.deletionTimestamp).toBeInstanceOf(Date);
    expect((await k.core.readNamespace({ name: ns })).status!.phase).toBe('Terminating');
    await k.core.patchNamespacedConfigMap({ name: 'held', namespace: ns, body: { metadata: { finalizers: null } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await waitFor(async () => k.core.readNamespace({ name: ns }).then(() => false, (e) => e.code === 404), 'the namespace to go');
  });

  it('ownerReference garbage collection: background and orphan (foreground is not served: 400)', async () => {
    const owner = async (name: string) => k.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name } } });
    const child = async (name: string, o: V1ConfigMap, extra: Record<string, unknown> = {}, block = true) =>
      k.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: o.metadata!.name!, uid: o.metadata!.uid!, ...(block ? { blockOwnerDeletion: true } : {}) }], ...extra } } });
    const exists = async (name: string) => k.core.readNamespacedConfigMap({ name, namespace: NS }).then(() => true, (e) => (e.code === 404 ? false : Promise.reject(e)));

    // Background: the owner goes at once, the collector then deletes its dependents.
    const bg = await owner('gc-bg');
    await child('gc-bg-1', bg);
    await k.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'gc-bg-2', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'gc-bg', uid: bg.metadata!.uid! }] } } });
    await k.core.deleteNamespacedConfigMap({ name: 'gc-bg', namespace: NS, propagationPolicy: 'Background' });
    expect(await exists('gc-bg')).toBe(false);
    await waitFor(async () => !(await exists('gc-bg-1')), 'the background dependent to be collected');
    await waitFor(async () => k.core.readNamespacedSecret({ name: 'gc-bg-2', namespace: NS }).then(() => false, (e) => e.code === 404), 'the secret dependent to be collected');

    // Foreground is not served: an unsupported propagationPolicy, and the owner stays as it was.
    const fg = await owner('gc-fg');
    const fgDel = await raw(c, 'DELETE', `/api/v1/namespaces/${NS}/configmaps/gc-fg`, { body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Foreground' } });
    expect(expectStatus(fgDel.body, 400, 'BadRequest').message).toBe('propagationPolicy: Unsupported value: "Foreground": supported values: "Background", "Orphan"');
    expect((await k.core.readNamespacedConfigMap({ name: 'gc-fg', namespace: NS })).metadata!.deletionTimestamp).toBeUndefined();

    // Only one owner may be the controller.
    const twoControllers = await rejection(child('gc-two', fg, { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'a', uid: 'u1', controller: true }, { apiVersion: 'v1', kind: 'ConfigMap', name: 'b', uid: 'u2', controller: true }] }));
    expect(expectStatus(twoControllers.body, 422, 'Invalid').details.causes).toEqual([
      { reason: 'FieldValueInvalid', field: 'metadata.ownerReferences', message: expect.stringMatching(/: Only one reference can have Controller set to true\. Found "true" in references for ConfigMap\/a and ConfigMap\/b$/) },
    ]);

    // Orphan: dependents stay, without the owner reference.
    const or = await owner('gc-or');
    const keep = await owner('gc-keep');
    const keepRef = { apiVersion: 'v1', kind: 'ConfigMap', name: 'gc-keep', uid: keep.metadata!.uid! };
    await child('gc-or-1', or, { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'gc-or', uid: or.metadata!.uid! }, keepRef] });
    await child('gc-or-2', or);
    await k.core.deleteNamespacedConfigMap({ name: 'gc-or', namespace: NS, propagationPolicy: 'Orphan' });
    await waitFor(async () => !(await exists('gc-or')), 'the orphaning owner to go');
    const orphan = await k.core.readNamespacedConfigMap({ name: 'gc-or-2', namespace: NS });
    expect(orphan.metadata!.ownerReferences).toBeUndefined();
    expect(orphan.metadata!.deletionTimestamp).toBeUndefined();
    // gc-or-1 loses only the orphaning owner's reference.
    expect((await k.core.readNamespacedConfigMap({ name: 'gc-or-1', namespace: NS })).metadata!.ownerReferences).toEqual([keepRef]);
  });

  it('generateName', async () => {
    const a = await k.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { generateName: 'gen-' } } });
    const b = await k.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { generateName: 'gen-' } } });
    expect(a.metadata!.name).toMatch(/^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(b.metadata!.name).not.toBe(a.metadata!.name);
    expect(a.metadata!.generateName).toBe('gen-');
    const named = await k.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'explicit', generateName: 'gen-' } } });
    expect(named.metadata!.name).toBe('explicit');
    const w = await createWidget({ apiVersion: WIDGET_API_VERSION, kind: 'Widget', metadata: { generateName: 'wg-' }, spec: {} });
    expect(w.metadata.name).toMatch(/^wg-.{5}$/);
    const none = await rejection(k.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: {} } }));
    expect(none.code).toBe(422);
    expect(expectStatus(none.body, 422, 'Invalid').details.causes).toEqual([{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }]);
  });

  it('label and field selectors on list; a bad selector is 400', async () => {
    const mk = (name: string, labels: Record<string, string>) => k.core.createNamespacedConfigMap({ namespace: 'sel', body: { metadata: { name, labels } } });
    await mk('a', { env: 'prod', tier: 'web' });
    await mk('b', { env: 'dev', tier: 'web' });
    await mk('c', { env: 'prod' });
    await mk('d', {});
    const sel = async (labelSelector?: string, fieldSelector?: string) => names(await k.core.listNamespacedConfigMap({ namespace: 'sel', labelSelector, fieldSelector })).filter((n) => n !== 'kube-root-ca.crt');
    expect(await sel('env=prod')).toEqual(['a', 'c']);
    expect(await sel('env==prod')).toEqual(['a', 'c']);
    expect(await sel('env!=prod')).toEqual(['b', 'd']);
    expect(await sel('env in (prod, dev)')).toEqual(['a', 'b', 'c']);
    expect(await sel('env notin (prod)')).toEqual(['b', 'd']);
    expect(await sel('tier')).toEqual(['a', 'b']);
    expect(await sel('!tier')).toEqual(['c', 'd']);
    expect(await sel('env=prod,tier=web')).toEqual(['a']);
    expect(await sel(undefined, 'metadata.name=b')).toEqual(['b']);
    expect(await sel(undefined, 'metadata.name!=b')).toEqual(['a', 'c', 'd']);
    expect(await sel('env=prod', 'metadata.name!=a')).toEqual(['c']);
    expect(names(await k.core.listConfigMapForAllNamespaces({ fieldSelector: 'metadata.namespace=sel', labelSelector: 'tier' }))).toEqual(['a', 'b']);

    // Pods: status.phase and spec.nodeName.
    const pod = (name: string) => ({ metadata: { name }, spec: { containers: [{ name: 'c', image: 'registry.test/x:1' }] } });
    const p1 = await k.core.createNamespacedPod({ namespace: 'sel', body: pod('p1') });
    await k.core.createNamespacedPod({ namespace: 'sel', body: pod('p2') });
    expect(p1.status!.phase).toBe('Pending');
    await k.core.replaceNamespacedPodStatus({ name: 'p1', namespace: 'sel', body: { ...p1, status: { ...p1.status, phase: 'Running' } } });
    expect(names(await k.core.listNamespacedPod({ namespace: 'sel', fieldSelector: 'status.phase=Running' }))).toEqual(['p1']);
    expect(names(await k.core.listNamespacedPod({ namespace: 'sel', fieldSelector: 'status.phase!=Running' }))).toEqual(['p2']);
    expect(names(await k.core.listNamespacedPod({ namespace: 'sel', fieldSelector: 'spec.nodeName=' }))).toEqual(['p1', 'p2']);

    for (const [labelSelector, fieldSelector] of [
      ['env in prod', undefined],
      ['env=prod!', undefined],
      ['-bad=x', undefined],
      [undefined, 'spec.foo=bar'],
      [undefined, 'metadata.name'],
    ] as const) {
      const r = await rejection(k.core.listNamespacedConfigMap({ namespace: 'sel', labelSelector, fieldSelector }));
      expect([labelSelector ?? fieldSelector, r.code]).toEqual([labelSelector ?? fieldSelector, 400]);
      expectStatus(r.body, 400, 'BadRequest');
    }
    const unsupported = await rejection(k.core.listNamespacedConfigMap({ namespace: 'sel', fieldSelector: 'spec.foo=bar' }));
    expect(unsupported.body.message).toBe('field label not supported: spec.foo');
  });

  it('lists come whole (limit ignored, no continue), deletecollection by selector, dryRun, delete preconditions', async () => {
    const ns = 'pages';
    await k.core.createNamespace({ body: { metadata: { name: ns } } });
    for (const n of ['p1', 'p2', 'p3', 'p4', 'p5']) await k.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: n, labels: { odd: String(Number(n[1]) % 2 === 1) } } } });
    const limited = await k.core.listNamespacedConfigMap({ namespace: ns, limit: 2 });
    expect([names(limited), limited.metadata!._continue, limited.metadata!.remainingItemCount]).toEqual([['p1', 'p2', 'p3', 'p4', 'p5'], undefined, undefined]);
    await k.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'p0' } } });
    await k.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'p2a', labels: { odd: 'false' } } } });
    await k.core.deleteNamespacedConfigMap({ name: 'p4', namespace: ns });
    expect(names(await k.core.listNamespacedConfigMap({ namespace: ns }))).toEqual(['p0', 'p1', 'p2', 'p2a', 'p3', 'p5']);
    const bad = await rejection(k.core.listNamespacedConfigMap({ namespace: ns, _continue: '%%%' }));
    expectStatus(bad.body, 400, 'BadRequest');

    // deletecollection removes just what the selector picks.
    await k.core.deleteCollectionNamespacedConfigMap({ namespace: ns, labelSelector: 'odd=true' });
    expect(names(await k.core.listNamespacedConfigMap({ namespace: ns }))).toEqual(['p0', 'p2', 'p2a']);

    // dryRun=All: validated, defaulted and answered, never stored.
    const rv = c.api.store.currentRv();
    const dry = await raw(c, 'POST', `/api/v1/namespaces/${ns}/configmaps?dryRun=All`, { body: { metadata: { generateName: 'dry-' } } });
    expect(dry.status).toBe(201);
    expect(dry.body.metadata.name).toMatch(/^dry-/);
    const dryW = await raw(c, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/p0?dryRun=All`, { contentType: PatchStrategy.MergePatch, body: { data: { a: '1' } } });
    expect([dryW.status, dryW.body.data]).toEqual([200, { a: '1' }]);
    expect((await raw(c, 'DELETE', `/api/v1/namespaces/${ns}/configmaps/p0?dryRun=All`)).status).toBe(200);
    expect((await raw(c, 'POST', `/api/v1/namespaces/${ns}/configmaps?dryRun=All`, { body: { metadata: { name: 'Bad_Name' } } })).status).toBe(422);
    expect((await raw(c, 'POST', `/api/v1/namespaces/${ns}/configmaps?dryRun=Some`, { body: { metadata: { name: 'x' } } })).status).toBe(400);
    expect(c.api.store.currentRv()).toBe(rv);
    expect((await k.core.readNamespacedConfigMap({ name: 'p0', namespace: ns })).data).toBeUndefined();

    // Delete preconditions.
    const p2 = await k.core.readNamespacedConfigMap({ name: 'p2', namespace: ns });
    const wrongUid = await rejection(k.core.deleteNamespacedConfigMap({ name: 'p2', namespace: ns, body: { preconditions: { uid: '00000000-0000-0000-0000-000000000000' } } }));
    expect(expectStatus(wrongUid.body, 409, 'Conflict').message).toBe(`Operation cannot be fulfilled on configmaps "p2": Precondition failed: UID in precondition: 00000000-0000-0000-0000-000000000000, UID in object meta: ${p2.metadata!.uid}`);
    const wrongRv = await rejection(k.core.deleteNamespacedConfigMap({ name: 'p2', namespace: ns, body: { preconditions: { resourceVersion: '1' } } }));
    expect(expectStatus(wrongRv.body, 409, 'Conflict').message).toMatch(/Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: \d+$/);
    await k.core.deleteNamespacedConfigMap({ name: 'p2', namespace: ns, body: { preconditions: { uid: p2.metadata!.uid, resourceVersion: p2.metadata!.resourceVersion } } });
    expect(names(await k.core.listNamespacedConfigMap({ namespace: ns }))).toEqual(['p0', 'p2a']);
  });

  it('merge patch, strategic merge patch, and 415 for JSON patch and for SMP on custom resources', async () => {
    const path = `/api/v1/namespaces/${NS}/configmaps/patch`;
    await k.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'patch', labels: { a: '1', b: '2' } }, data: { x: '1', y: '2' } } });
    const mp = await raw(c, 'PATCH', path, { contentType: PatchStrategy.MergePatch, body: { metadata: { labels: { b: null, c: '3' } }, data: { y: null, z: '3' } } });
    expect([mp.status, mp.body.metadata.labels, mp.body.data]).toEqual([200, { a: '1', c: '3' }, { x: '1', z: '3' }]);
    // No JSON patch (nothing of ours sends one): 415, naming the types served, and the object is unchanged.
    const jp = await raw(c, 'PATCH', path, { contentType: PatchStrategy.JsonPatch, body: [{ op: 'replace', path: '/data/x', value: 'one' }] });
    expect(expectStatus(jp.body, 415, 'UnsupportedMediaType').message).toBe(
      'the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json',
    );
    expect((await k.core.readNamespacedConfigMap({ name: 'patch', namespace: NS })).data!.x).toBe('1');
    const badType = await raw(c, 'PATCH', path, { contentType: 'application/xml', body: '<x/>' });
    expect(badType.status).toBe(415);
    expectStatus(badType.body, 415, 'UnsupportedMediaType');
    expect((await raw(c, 'PATCH', `/api/v1/namespaces/${NS}/configmaps/nothere`, { contentType: PatchStrategy.MergePatch, body: {} })).status).toBe(404);

    // Strategic merge patch: containers merge by name; $patch: delete removes one.
    await k.apps.createNamespacedDeployment({ namespace: NS, body: deployment('smp', {}, [{ name: 'app', image: 'registry.test/app:1', env: [{ name: 'A', value: '1' }] }, { name: 'sidecar', image: 'registry.test/side:1' }]) });
    const dpath = `/apis/apps/v1/namespaces/${NS}/deployments/smp`;
    const smp = await raw(c, 'PATCH', dpath, { contentType: PatchStrategy.StrategicMergePatch, body: { spec: { template: { spec: { containers: [{ name: 'sidecar', image: 'registry.test/side:2' }, { name: 'app', env: [{ name: 'B', value: '2' }] }] } } } } });
    expect(smp.status).toBe(200);
    const cs = smp.body.spec.template.spec.containers;
    expect(cs.map((x: Json) => [x.name, x.image])).toEqual([
      ['app', 'registry.test/app:1'],
      ['sidecar', 'registry.test/side:2'],
    ]);
    expect(cs[0].env).toEqual([{ name: 'A', value: '1' }, { name: 'B', value: '2' }]);
    const del = await raw(c, 'PATCH', dpath, { contentType: PatchStrategy.StrategicMergePatch, body: { spec: { template: { spec: { containers: [{ name: 'sidecar', $patch: 'delete' }] } } } } });
    expect(del.body.spec.template.spec.containers.map((x: Json) => x.name)).toEqual(['app']);
    // $patch: replace swaps the whole list; tolerations (no patch strategy) are replaced atomically.
    const replacedList = await raw(c, 'PATCH', dpath, { contentType: PatchStrategy.StrategicMergePatch, body: { spec: { template: { spec: { containers: [{ name: 'solo', image: 'registry.test/solo:1' }, { $patch: 'replace' }], tolerations: [{ key: 'a', operator: 'Exists' }] } } } } });
    expect(replacedList.body.spec.template.spec.containers.map((x: Json) => x.name)).toEqual(['solo']);
    const tol = await raw(c, 'PATCH', dpath, { contentType: PatchStrategy.StrategicMergePatch, body: { spec: { template: { spec: { tolerations: [{ key: 'b', operator: 'Exists' }] } } } } });
    expect(tol.body.spec.template.spec.tolerations).toEqual([{ key: 'b', operator: 'Exists' }]);
    // Primitive lists with the merge strategy (finalizers) are unions; $deleteFromPrimitiveList removes.
    const fin = await raw(c, 'PATCH', path, { contentType: PatchStrategy.StrategicMergePatch, body: { metadata: { finalizers: ['example.test/a'] } } });
    const fin2 = await raw(c, 'PATCH', path, { contentType: PatchStrategy.StrategicMergePatch, body: { metadata: { finalizers: ['example.test/b'] } } });
    expect([fin.body.metadata.finalizers, fin2.body.metadata.finalizers]).toEqual([['example.test/a'], ['example.test/a', 'example.test/b']]);
    const fin3 = await raw(c, 'PATCH', path, { contentType: PatchStrategy.StrategicMergePatch, body: { metadata: { $deleteFromPrimitiveList: undefined, '$deleteFromPrimitiveList/finalizers': ['example.test/a', 'example.test/b'] } } });
    expect(fin3.body.metadata.finalizers).toBeUndefined();
    // Service ports merge by port.
    await k.core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'smp' }, spec: { ports: [{ name: 'http', port: 80 }, { name: 'metrics', port: 9090 }] } } });
    const svc = await raw(c, 'PATCH', `/api/v1/namespaces/${NS}/services/smp`, { contentType: PatchStrategy.StrategicMergePatch, body: { spec: { ports: [{ port: 9090, targetPort: 9091 }] } } });
    expect(svc.body.spec.ports.map((x: Json) => [x.name, x.port, x.targetPort])).toEqual([
      ['http', 80, 80],
      ['metrics', 9090, 9091],
    ]);
    // $setElementOrder reorders a merged list; $retainKeys drops the keys it does not name (kubectl apply sends both).
    await raw(c, 'PATCH', dpath, { contentType: PatchStrategy.StrategicMergePatch, body: { spec: { template: { spec: { containers: [{ name: 'two', image: 'registry.test/two:1' }] } } } } });
    const reordered = await raw(c, 'PATCH', dpath, { contentType: PatchStrategy.StrategicMergePatch, body: { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'two' }, { name: 'solo' }] } } } } });
    expect(reordered.body.spec.template.spec.containers.map((x: Json) => x.name)).toEqual(['two', 'solo']);
    const recreate = await raw(c, 'PATCH', dpath, { contentType: PatchStrategy.StrategicMergePatch, body: { spec: { strategy: { type: 'Recreate' } } } });
    expect(expectStatus(recreate.body, 422, 'Invalid').details.causes).toEqual([{ reason: 'FieldValueForbidden', field: 'spec.strategy.rollingUpdate', message: "Forbidden: may not be specified when strategy `type` is 'Recreate'" }]);
    const retained = await raw(c, 'PATCH', dpath, { contentType: PatchStrategy.StrategicMergePatch, body: { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } } });
    expect([retained.status, retained.body.spec.strategy]).toEqual([200, { type: 'Recreate' }]);
    // A merge patch replaces the list instead.
    const mpDep = await raw(c, 'PATCH', dpath, { contentType: PatchStrategy.MergePatch, body: { spec: { template: { spec: { containers: [{ name: 'only', image: 'registry.test/only:1' }] } } } } });
    expect(mpDep.body.spec.template.spec.containers.map((x: Json) => x.name)).toEqual(['only']);

    // Custom resources have no strategic merge patch.
    await createWidget(widget('patch', { size: 1, tags: ['a'] }));
    const smpCr = await raw(c, 'PATCH', `${WIDGETS_PATH(NS)}/patch`, { contentType: PatchStrategy.StrategicMergePatch, body: { spec: { size: 2 } } });
    expect(smpCr.status).toBe(415);
    expect(expectStatus(smpCr.body, 415, 'UnsupportedMediaType').message).toBe(
      'the body of the request was in an unknown format - accepted media types include: application/merge-patch+json',
    );
    const mpCr = await raw(c, 'PATCH', `${WIDGETS_PATH(NS)}/patch`, { contentType: PatchStrategy.MergePatch, body: { spec: { tags: ['b'] } } });
    expect(mpCr.body.spec).toEqual({ size: 1, tags: ['b'] });
  });

  it('request bodies are JSON: protobuf (typed kubectl create) and YAML are 415, nothing is stored', async () => {
    const before = c.api.store.list('/configmaps', NS).length;
    for (const contentType of ['application/vnd.kubernetes.protobuf', 'application/yaml']) {
      const r = await raw(c, 'POST', `/api/v1/namespaces/${NS}/configmaps`, { contentType, body: 'k8s\u0000\n\u000f\n\u0002v1\u0012\tConfigMap' });
      expect(expectStatus(r.body, 415, 'UnsupportedMediaType').message).toBe('the body of the request was in an unknown format - accepted media types include: application/json, application/yaml');
    }
    expect(c.api.store.list('/configmaps', NS)).toHaveLength(before);
  });

  it('server-side apply is not served: the apply patch type is 415 and nothing is created', async () => {
    const r = await raw(c, 'PATCH', `${WIDGETS_PATH(NS)}/ssa?fieldManager=applier`, { contentType: PatchStrategy.ServerSideApply, body: widget('ssa', { size: 3 }) });
    expect(expectStatus(r.body, 415, 'UnsupportedMediaType').message).toBe(
      'the body of the request was in an unknown format - accepted media types include: application/merge-patch+json',
    );
    expect((await raw(c, 'GET', `${WIDGETS_PATH(NS)}/ssa`)).status).toBe(404);
  });

  it('CRD schemas: pruning, defaulting, validation with causes, CEL messages, fieldValidation Strict/Warn/Ignore', async () => {
    const created = await raw(c, 'POST', WIDGETS_PATH(NS), { body: { ...widget('schema', { color: 'red', bogus: 1, extra: { anything: { goes: [1, 2] } } }), topLevel: true } });
    expect(created.status).toBe(201);
    expect(created.body.spec).toEqual({ size: 1, color: 'red', extra: { anything: { goes: [1, 2] } } });
    expect(created.body.topLevel).toBeUndefined();
    expect(created.headers.warning).toEqual(expect.stringContaining('299 - "unknown field \\"spec.bogus\\""'));
    expect(created.headers.warning).toEqual(expect.stringContaining('unknown field \\"topLevel\\"'));

    // Defaults apply only inside objects that exist; nulls (not nullable) are dropped before defaulting.
    const noSpec = await raw(c, 'POST', WIDGETS_PATH(NS), { body: { apiVersion: WIDGET_API_VERSION, kind: 'Widget', metadata: { name: 'nospec' } } });
    expect([noSpec.status, noSpec.body.spec]).toEqual([201, undefined]);
    const nulls = await raw(c, 'POST', WIDGETS_PATH(NS), { body: widget('nulls', { size: null, color: null, tags: null }) });
    expect([nulls.status, nulls.body.spec]).toEqual([201, { size: 1 }]);

    const invalid = async (spec: Record<string, unknown>) => {
      const r = await raw(c, 'POST', WIDGETS_PATH(NS), { body: widget('invalid', spec) });
      expect(r.status).toBe(422);
      return expectStatus(r.body, 422, 'Invalid');
    };
    expect(await invalid({ replicas: -1 })).toMatchObject({
      message: 'Widget.example.test "invalid" is invalid: spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0',
      details: { name: 'invalid', group: WIDGET_GROUP, kind: 'Widget', causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: -1: spec.replicas in body should be greater than or equal to 0', field: 'spec.replicas' }] },
    });
    // Enum and type errors keep the CEL rules from running (apiextensions' hasBlockingErr), with a note saying so.
    const notChecked = { reason: 'FieldValueInvalid', message: 'Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation', field: '<nil>' };
    expect((await invalid({ color: 'purple' })).details.causes).toEqual([{ reason: 'FieldValueNotSupported', message: 'Unsupported value: "purple": supported values: "red", "green", "blue"', field: 'spec.color' }, notChecked]);
    expect((await invalid({ size: 'big' })).details.causes).toEqual([{ reason: 'FieldValueTypeInvalid', message: 'Invalid value: "string": spec.size in body must be of type integer: "string"', field: 'spec.size' }, notChecked]);
    expect((await invalid({ size: 101 })).details.causes).toEqual([{ reason: 'FieldValueInvalid', message: 'Invalid value: "object": size must be at most 100', field: 'spec' }]);
    // A minimum violation does not keep CEL rules from running: both errors are reported.
    const two = await invalid({ replicas: -2, size: 101 });
    expect(two.details.causes.map((x: Json) => x.field).sort()).toEqual(['spec', 'spec.replicas']);
    expect(two.message).toMatch(/^Widget\.example\.test "invalid" is invalid: \[spec/);
    // ... while an enum error does: the CEL violation is not reported.
    expect((await invalid({ color: 'pink', size: 101 })).details.causes).toEqual([
      { reason: 'FieldValueNotSupported', message: 'Unsupported value: "pink": supported values: "red", "green", "blue"', field: 'spec.color' },
      notChecked,
    ]);
    // Updates are validated too (CEL included).
    const upd = await raw(c, 'PATCH', `${WIDGETS_PATH(NS)}/schema`, { contentType: PatchStrategy.MergePatch, body: { spec: { size: 500 } } });
    expect(upd.status).toBe(422);
    expect(upd.body.details.causes).toEqual([expect.objectContaining({ field: 'spec', message: 'Invalid value: "object": size must be at most 100' })]);

    const strict = await raw(c, 'POST', `${WIDGETS_PATH(NS)}?fieldValidation=Strict`, { body: widget('strict', { bogus: 1 }) });
    expect(strict.status).toBe(400);
    expect(expectStatus(strict.body, 400, 'BadRequest').message).toBe('Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field "spec.bogus"');
    expect((await raw(c, 'GET', `${WIDGETS_PATH(NS)}/strict`)).status).toBe(404);
    const warn = await raw(c, 'POST', `${WIDGETS_PATH(NS)}?fieldValidation=Warn`, { body: widget('warn', { bogus: 1 }) });
    expect([warn.status, warn.headers.warning]).toEqual([201, '299 - "unknown field \\"spec.bogus\\""']);
    const ignore = await raw(c, 'POST', `${WIDGETS_PATH(NS)}?fieldValidation=Ignore`, { body: widget('ignore', { bogus: 1 }) });
    expect([ignore.status, ignore.headers.warning, ignore.body.spec]).toEqual([201, undefined, { size: 1 }]);
    expect((await raw(c, 'POST', `${WIDGETS_PATH(NS)}?fieldValidation=Loose`, { body: widget('loose') })).status).toBe(400);
    // Built-in types: unknown fields too.
    const cmStrict = await raw(c, 'POST', `/api/v1/namespaces/${NS}/configmaps?fieldValidation=Strict`, { body: { metadata: { name: 'strict' }, dta: {} } });
    expect([cmStrict.status, cmStrict.body.message]).toEqual([400, 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "dta"']);
  });

  it('Table responses with the CRD printer columns', async () => {
    await createWidget(widget('table-a', { size: 7, replicas: 2 }));
    await k.custom.patchNamespacedCustomObjectStatus({ ...W, name: 'table-a', body: { status: { phase: 'Ready' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await createWidget(widget('table-b', {}));
    const accept = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
    const list = await raw(c, 'GET', `${WIDGETS_PATH(NS)}?labelSelector=`, { accept });
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion: expect.any(String) } });
    expect(list.body.columnDefinitions.map((d: Json) => [d.name, d.type, d.format])).toEqual([
      ['Name', 'string', 'name'],
      ['Size', 'integer', ''],
      ['Replicas', 'integer', ''],
      ['Phase', 'string', ''],
      ['Age', 'date', ''],
    ]);
    const rows = Object.fromEntries(list.body.rows.map((r: Json) => [r.cells[0], r]));
    expect(rows['table-a'].cells.slice(0, 4)).toEqual(['table-a', 7, 2, 'Ready']);
    expect(rows['table-a'].cells[4]).toMatch(/^\d+s$/);
    expect(rows['table-b'].cells.slice(0, 4)).toEqual(['table-b', 1, null, null]);
    expect(rows['table-a'].object).toMatchObject({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: { name: 'table-a', namespace: NS } });
    const one = await raw(c, 'GET', `${WIDGETS_PATH(NS)}/table-a?includeObject=Object`, { accept });
    expect(one.body.kind).toBe('Table');
    expect(one.body.rows).toHaveLength(1);
    expect(one.body.rows[0].object).toMatchObject({ kind: 'Widget', spec: { size: 7 } });
    // Built-in: ConfigMaps' Name, Data, Age.
    const cms = await raw(c, 'GET', `/api/v1/namespaces/sel/configmaps`, { accept });
    expect(cms.body.columnDefinitions.map((d: Json) => d.name)).toEqual(['Name', 'Data', 'Age']);
    // PartialObjectMetadata (metadata-only clients and informers).
    const meta = await raw(c, 'GET', WIDGETS_PATH(NS), { accept: 'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json' });
    expect(meta.body.kind).toBe('PartialObjectMetadataList');
    expect(meta.body.items.find((i: Json) => i.metadata.name === 'table-a')).toEqual({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: expect.objectContaining({ name: 'table-a' }) });
    // Plain JSON when the client asks for it.
    expect((await raw(c, 'GET', WIDGETS_PATH(NS))).body.kind).toBe('WidgetList');
  });

  it('test hooks: injectFault answers matching requests `times` times; requests() logs method, path, verb and user agent', async () => {
    await k.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'hooks' } } });
    c.clearRequests();
    c.injectFault({ verb: 'get', resource: 'configmaps', status: 503, times: 2, message: 'try later' });
    const path = `/api/v1/namespaces/${NS}/configmaps/hooks`;
    const first = await raw(c, 'GET', path);
    expect([first.status, first.headers['content-type']]).toEqual([503, 'application/json']);
    expect(expectStatus(first.body, 503, 'ServiceUnavailable').message).toBe('try later');
    // A request that doesn't match passes untouched.
    expect((await raw(c, 'GET', `/api/v1/namespaces/${NS}/configmaps`)).status).toBe(200);
    expect((await rejection(k.core.readNamespacedConfigMap({ name: 'hooks', namespace: NS }))).code).toBe(503);
    expect((await k.core.readNamespacedConfigMap({ name: 'hooks', namespace: NS })).metadata!.name).toBe('hooks');

    c.injectFault({ method: 'PUT', path: /\/configmaps\/hooks$/, status: 409 });
    c.injectFault({ verb: 'create', resource: 'widgets', status: 429 });
    expect((await rejection(k.core.replaceNamespacedConfigMap({ name: 'hooks', namespace: NS, body: { metadata: { name: 'hooks' }, data: { a: '1' } } }))).code).toBe(409);
    const tooMany = await raw(c, 'POST', WIDGETS_PATH(NS), { body: widget('hooks') });
    expect([tooMany.status, tooMany.headers['retry-after'], tooMany.body.reason]).toEqual([429, '1', 'TooManyRequests']);
    expect((await raw(c, 'POST', WIDGETS_PATH(NS), { body: widget('hooks') })).status).toBe(201);
    c.injectFault({ verb: 'list', status: 500, times: Infinity });
    expect((await raw(c, 'GET', '/api/v1/namespaces')).status).toBe(500);
    expect((await raw(c, 'GET', '/api/v1/namespaces')).status).toBe(500);
    c.clearFaults();
    expect((await raw(c, 'GET', '/api/v1/namespaces')).status).toBe(200);

    const gets = c.requests({ verb: 'get', resource: 'configmaps', name: 'hooks' });
    expect(gets.map((r) => [r.method, r.path, r.namespace, r.status])).toEqual([
      ['GET', path, NS, 503],
      ['GET', path, NS, 503],
      ['GET', path, NS, 200],
    ]);
    expect(gets[0]!.userAgent).toBe('testcluster-raw');
    expect(gets[1]!.userAgent).not.toBe('testcluster-raw');
    expect(c.requests({ verb: 'list', resource: 'configmaps' })[0]).toMatchObject({ method: 'GET', path: `/api/v1/namespaces/${NS}/configmaps`, group: '', version: 'v1' });
    const writes = c.writes();
    expect(writes.map((r) => [r.verb, r.resource, r.status])).toEqual([
      ['update', 'configmaps', 409],
      ['create', 'widgets', 429],
      ['create', 'widgets', 201],
    ]);
    expect(writes[1]).toMatchObject({ method: 'POST', group: WIDGET_GROUP, version: WIDGET_VERSION, namespace: NS });
    await raw(c, 'GET', `${path}/status?watch=false`);
    expect(c.requests().at(-1)).toMatchObject({ verb: 'get', subresource: 'status', query: { watch: 'false' } });
  });
});

describe('test API server: Deployment controller and scheduler', () => {
  let c: TestCluster;
  let k: Clients;
  const ns = 'work';

  beforeAll(async () => {
    c = await startTestCluster({
      namespaces: [ns],
      nodes: [{ name: 'gpu-node', capacity: { cpu: '8', memory: '32Gi', 'nvidia.com/gpu': '1', pods: '110' } }],
      // The simulated kubelet, except that pods labelled crash=true crash-loop.
      podRunner: () => {
        const sim = new SimulatedPodRunner(true);
        return {
          start: (pod, kubelet) => (pod.metadata.labels?.crash === 'true' ? kubelet.updateStatus(pod.metadata.namespace, pod.metadata.name, (p) => crashLoopStatus(p, { restartCount: 3 })) : sim.start(pod, kubelet)),
          stop: () => {},
        };
      },
    });
    k = clients(c);
  });
  afterAll(async () => c.stop());

  const dep = (name: string, replicas: number, container: Record<string, unknown> = {}, labels: Record<string, string> = {}): V1Deployment => ({
    metadata: { name },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name, ...labels } }, spec: { containers: [{ name: 'main', image: 'registry.test/app:1', ...container }] } } },
  });
  const podsOf = async (name: string) => (await k.core.listNamespacedPod({ namespace: ns, labelSelector: `app=${name}` })).items;

  it('Deployments get pods from their template, scheduled and ready, and report status; unschedulable and crashing pods show as in Kubernetes', async () => {
    const d = await k.apps.createNamespacedDeployment({ namespace: ns, body: dep('web', 2, { env: [{ name: 'A', value: '1' }] }, { tier: 'front' }) });
    const ready = await waitFor(async () => {
      const x = await k.apps.readNamespacedDeployment({ name: 'web', namespace: ns });
      return x.status?.readyReplicas === 2 ? x : undefined;
    }, 'web to be ready');
    expect(ready.status).toMatchObject({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 });
    const conds = Object.fromEntries(ready.status!.conditions!.map((x) => [x.type, x]));
    expect(conds.Available).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable' });
    expect(conds.Progressing).toMatchObject({ status: 'True', reason: 'NewReplicaSetAvailable' });
    const pods = await podsOf('web');
    expect(pods).toHaveLength(2);
    for (const p of pods) {
      expect(p.metadata!.labels).toMatchObject({ app: 'web', tier: 'front', 'pod-template-hash': expect.any(String) });
      expect(p.metadata!.name).toMatch(new RegExp(`^web-${p.metadata!.labels!['pod-template-hash']}-[a-z0-9]{5}$`));
      expect(p.metadata!.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: d.metadata!.uid, controller: true, blockOwnerDeletion: true }]);
      expect(p.spec!.containers[0]).toMatchObject({ name: 'main', image: 'registry.test/app:1', env: [{ name: 'A', value: '1' }] });
      expect(p.spec!.nodeName).toBe('gpu-node');
      expect(p.status!.phase).toBe('Running');
      expect(p.status!.conditions!.find((x) => x.type === 'Ready')!.status).toBe('True');
    }
    // Scaling down removes a pod.
    await k.apps.patchNamespacedDeploymentScale({ name: 'web', namespace: ns, body: { spec: { replicas: 1 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await waitFor(async () => (await podsOf('web')).length === 1, 'web to scale to 1');
    // A template change rolls the pods: a new pod-template-hash replaces the old pods, and status follows.
    const oldHash = pods[0]!.metadata!.labels!['pod-template-hash'];
    await k.apps.patchNamespacedDeployment({ name: 'web', namespace: ns, body: { spec: { template: { spec: { containers: [{ name: 'main', env: [{ name: 'A', value: '2' }] }] } } } } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
    const rolled = await waitFor(async () => {
      const ps = await podsOf('web');
      return ps.length === 1 && ps[0]!.metadata!.labels!['pod-template-hash'] !== oldHash && !ps[0]!.metadata!.deletionTimestamp ? ps[0] : undefined;
    }, 'web to roll to the new template');
    expect(rolled.spec!.containers[0]!.env).toEqual([{ name: 'A', value: '2' }]);
    const afterRoll = await waitFor(async () => {
      const x = await k.apps.readNamespacedDeployment({ name: 'web', namespace: ns });
      return x.status?.observedGeneration === x.metadata!.generation && x.status?.updatedReplicas === 1 && x.status.readyReplicas === 1 ? x : undefined;
    }, 'web status to catch up with the rollout');
    expect(afterRoll.metadata!.generation).toBe(3);

    // More GPUs than Json node has: PodScheduled=False, Unschedulable, with the scheduler's message.
    await k.apps.createNamespacedDeployment({ namespace: ns, body: dep('big', 1, { resources: { limits: { 'nvidia.com/gpu': '2' } } }) });
    const big = await waitFor(async () => {
      const [p] = await podsOf('big');
      return p?.status?.conditions?.find((x) => x.type === 'PodScheduled') ? p : undefined;
    }, 'the big pod to be considered by the scheduler');
    expect(big.spec!.nodeName).toBeUndefined();
    expect(big.status!.phase).toBe('Pending');
    expect(big.status!.conditions!.find((x) => x.type === 'PodScheduled')).toMatchObject({
      status: 'False',
      reason: 'Unschedulable',
      message: '0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.',
    });
    const events = await waitFor(async () => {
      const ev = await k.core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${big.metadata!.name}` });
      return ev.items.length ? ev.items : undefined;
    }, 'a FailedScheduling event');
    expect(events[0]).toMatchObject({ type: 'Warning', reason: 'FailedScheduling', involvedObject: { kind: 'Pod', name: big.metadata!.name } });
    const bigDep = await k.apps.readNamespacedDeployment({ name: 'big', namespace: ns });
    expect(bigDep.status?.availableReplicas ?? 0).toBe(0);

    // A crashing container: CrashLoopBackOff, not ready; the Deployment is not available.
    await k.apps.createNamespacedDeployment({ namespace: ns, body: dep('crashy', 1, {}, { crash: 'true' }) });
    const crashing = await waitFor(async () => {
      const [p] = await podsOf('crashy');
      return p?.status?.containerStatuses?.[0]?.state?.waiting ? p : undefined;
    }, 'the crashy pod to report its container');
    const cst = crashing.status!.containerStatuses![0]!;
    expect(cst).toMatchObject({ name: 'main', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1, reason: 'Error' } } });
    expect(cst.state!.waiting!.message).toMatch(/^back-off \d+s restarting failed container=main pod=crashy-/);
    expect(crashing.status!.conditions!.find((x) => x.type === 'Ready')).toMatchObject({ status: 'False', reason: 'ContainersNotReady' });
    const crashDep = await waitFor(async () => {
      const x = await k.apps.readNamespacedDeployment({ name: 'crashy', namespace: ns });
      return x.status?.replicas === 1 ? x : undefined;
    }, 'crashy status');
    expect(crashDep.status!.availableReplicas ?? 0).toBe(0);
    expect(crashDep.status!.conditions!.find((x) => x.type === 'Available')).toMatchObject({ status: 'False', reason: 'MinimumReplicasUnavailable' });

    // Deleting a Deployment collects its pods (ownerReference GC).
    await k.apps.deleteNamespacedDeployment({ name: 'web', namespace: ns });
    await waitFor(async () => (await podsOf('web')).length === 0, 'web pods to be collected');
  });
});
