// The test API server through the real kubectl (v1.32 client): apply/get/describe/scale/wait/explain/delete,
// field validation and schema errors on a test CRD, built-in types, and the `npm run testcluster` CLI.
// Expected texts are what kube-apiserver v1.32 answers and kubectl v1.32 prints for the same requests.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { startTestCluster, type TestCluster } from '../src/index.js';
import { Kubectl, type KubectlResult } from '../src/kubectl.js';
import { raw, waitFor } from './support.js';

const CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.test
spec:
  group: example.test
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Color, type: string, jsonPath: .spec.color}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Phase, type: string, jsonPath: .status.phase}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        description: A Widget is a generic test object.
        type: object
        properties:
          spec:
            description: The desired state of the Widget.
            type: object
            x-kubernetes-validations:
            - {rule: "self.size <= 100", message: "size must be at most 100"}
            properties:
              size:
                description: How big the widget is.
                type: integer
                default: 1
                minimum: 1
              color:
                description: The paint colour.
                type: string
                enum: [red, green, blue]
              replicas:
                description: How many copies to keep.
                type: integer
                minimum: 0
          status:
            description: The observed state of the Widget.
            type: object
            properties:
              phase: {type: string}
              replicas: {type: integer}
              conditions:
                type: array
                items:
                  type: object
                  required: [type, status]
                  properties:
                    type: {type: string}
                    status: {type: string}
                    reason: {type: string}
                    message: {type: string}
                    lastTransitionTime: {type: string, format: date-time}
`;

/** A Widget manifest; `spec` and `metadata` are YAML flow mappings. */
const widget = (name: string, spec: string, metadata = '') => `apiVersion: example.test/v1
kind: Widget
metadata: {name: ${name}${metadata ? `, ${metadata}` : ''}}
spec: ${spec}
`;

let c: TestCluster;
let k: Kubectl;

/** kubectl's stderr, trimmed. */
const errText = (r: KubectlResult) => r.stderr.trim();

/** Resolves once a kubectl watch on `resource` is open on the server (so a change made now is seen by the watch). */
const watchOpened = (resource: string, before: number) =>
  waitFor(() => c.requests({ verb: 'watch', resource }).length > before, `a kubectl watch on ${resource}`);

/** Settles to 'pending' when `p` has not settled yet. */
const stateOf = (p: Promise<unknown>) => Promise.race([p.then(() => 'settled'), new Promise((r) => setImmediate(() => r('pending')))]);

beforeAll(async () => {
  c = await startTestCluster();
  k = new Kubectl(c);
});
afterAll(async () => {
  await k?.cleanup();
  await c?.stop();
});

describe('kubectl against the test API server', () => {
  it('applies the CRD, waits for Established, then applies a custom resource (created)', async () => {
    expect(await k.ok(['apply', '-f', '-'], { stdin: CRD })).toBe('customresourcedefinition.apiextensions.k8s.io/widgets.example.test created\n');
    expect(await k.ok(['wait', '--for=condition=Established', 'crd/widgets.example.test', '--timeout=30s'])).toBe('customresourcedefinition.apiextensions.k8s.io/widgets.example.test condition met\n');
    const r = await k.apply(widget('x', '{color: red, replicas: 1}'));
    expect([r.code, r.stdout, errText(r)]).toEqual([0, 'widget.example.test/x created\n', '']);
  });

  it('re-apply: a change is "configured", no change is "unchanged"; generation bumps only on spec changes', async () => {
    const gen = async () => Number(await k.ok(['get', 'widget', 'x', '-o', 'jsonpath={.metadata.generation}']));
    expect(await gen()).toBe(1);
    expect((await k.apply(widget('x', '{color: blue, replicas: 1}'))).stdout).toBe('widget.example.test/x configured\n');
    expect(await gen()).toBe(2);
    expect((await k.apply(widget('x', '{color: blue, replicas: 1}'))).stdout).toBe('widget.example.test/x unchanged\n');
    expect(await gen()).toBe(2);
    // A metadata-only change (a label in the manifest) is "configured" too but keeps the generation.
    expect((await k.apply(widget('x', '{color: blue, replicas: 1}', 'labels: {tier: front}'))).stdout).toBe('widget.example.test/x configured\n');
    expect(await gen()).toBe(2);
  });

  it('get: printer columns, -o yaml (defaults, no managedFields, metadata) and -o jsonpath', async () => {
    const table = await k.ok(['get', 'widgets']);
    const [header, ...rows] = table.trimEnd().split('\n');
    expect(header!.split(/\s+/)).toEqual(['NAME', 'SIZE', 'COLOR', 'REPLICAS', 'PHASE', 'AGE']);
    expect(rows).toHaveLength(1);
    // PHASE is empty (no status yet); AGE is relative (e.g. 0s).
    expect(rows[0]).toMatch(/^x\s+1\s+blue\s+1\s+\d+s$/);
    expect(await k.ok(['get', 'wd', '--no-headers', '-l', 'tier=front', '-o', 'name'])).toBe('widget.example.test/x\n');
    // -o wide and the short name go through the same Table.
    expect((await k.ok(['get', 'wd', 'x', '-o', 'wide'])).split('\n')[0]!.split(/\s+/)).toEqual(['NAME', 'SIZE', 'COLOR', 'REPLICAS', 'PHASE', 'AGE']);

    const y = parseYaml(await k.ok(['get', 'widget', 'x', '-o', 'yaml']));
    expect(y.apiVersion).toBe('example.test/v1');
    expect(y.kind).toBe('Widget');
    expect(y.spec).toEqual({ color: 'blue', replicas: 1, size: 1 });
    expect(y.metadata.managedFields).toBeUndefined();
    expect(y.metadata).toEqual(
      expect.objectContaining({ name: 'x', namespace: 'default', generation: 2, labels: { tier: 'front' }, uid: expect.stringMatching(/^[0-9a-f-]{36}$/), resourceVersion: expect.stringMatching(/^\d+$/), creationTimestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) }),
    );
    expect(JSON.parse(y.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).spec).toEqual({ color: 'blue', replicas: 1 });
    // --show-managed-fields brings them back: kubectl's client-side apply is an Update by kubectl-client-side-apply.
    const shown = parseYaml(await k.ok(['get', 'widget', 'x', '-o', 'yaml', '--show-managed-fields']));
    expect(shown.metadata.managedFields).toEqual([expect.objectContaining({ manager: 'kubectl-client-side-apply', operation: 'Update', apiVersion: 'example.test/v1', fieldsType: 'FieldsV1' })]);

    expect(await k.ok(['get', 'widget', 'x', '-o', 'jsonpath={.spec.size} {.spec.color} {.metadata.namespace}'])).toBe('1 blue default');
    expect(await k.ok(['get', 'widgets', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.spec.replicas}{"\\n"}{end}'])).toBe('x=1\n');
    const missing = await k.run(['get', 'widget', 'nope']);
    expect([missing.code, errText(missing)]).toEqual([1, 'Error from server (NotFound): widgets.example.test "nope" not found']);
  });

  it('describe: a custom resource (with its Events) and built-ins (ConfigMap, Namespace)', async () => {
    const uid = await k.ok(['get', 'widget', 'x', '-o', 'jsonpath={.metadata.uid}']);
    await k.ok(['create', '-f', '-'], {
      stdin: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: 'x.tested', namespace: 'default' },
        involvedObject: { apiVersion: 'example.test/v1', kind: 'Widget', name: 'x', namespace: 'default', uid },
        reason: 'Tested',
        message: 'the widget was looked at',
        type: 'Normal',
        source: { component: 'widget-controller' },
        count: 1,
        firstTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        lastTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      }),
    });
    const out = await k.ok(['describe', 'widget', 'x']);
    expect(out).toMatch(/^Name:\s+x\nNamespace:\s+default\nLabels:\s+tier=front\nAnnotations:\s+<none>\nAPI Version:\s+example\.test\/v1\nKind:\s+Widget\nMetadata:\n/);
    expect(out).toMatch(/\n {2}Generation:\s+2\n/);
    expect(out).toMatch(/\nSpec:\n {2}Color:\s+blue\n {2}Replicas:\s+1\n {2}Size:\s+1\n/);
    expect(out).toMatch(/\nEvents:\n {2}Type\s+Reason\s+Age\s+From\s+Message\n {2}----\s+------\s+----\s+----\s+-------\n {2}Normal\s+Tested\s+\S+\s+widget-controller\s+the widget was looked at\n$/);

    await k.ok(['create', '-f', '-'], { stdin: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'described' }, data: { greeting: 'hello' } }) });
    const cm = await k.ok(['describe', 'configmap', 'described']);
    expect(cm).toMatch(/^Name:\s+described\nNamespace:\s+default\nLabels:\s+<none>\nAnnotations:\s+<none>\n\nData\n====\ngreeting:\n----\nhello\n\n\nBinaryData\n====\n\nEvents:\s+<none>\n$/);
    const ns = await k.ok(['describe', 'namespace', 'default']);
    // No ResourceQuota or LimitRange kinds: kubectl leaves out their sections on a 404.
    expect(ns).toBe('Name:         default\nLabels:       kubernetes.io/metadata.name=default\nAnnotations:  <none>\nStatus:       Active\n');
  });

  it('scale --replicas=3 changes spec.replicas through the scale subresource', async () => {
    const before = c.requests({ resource: 'widgets', subresource: 'scale' }).length;
    expect(await k.ok(['scale', '--replicas=3', 'widget/x'])).toBe('widget.example.test/x scaled\n');
    expect(c.requests({ resource: 'widgets', subresource: 'scale', verb: 'patch' }).length).toBeGreaterThan(0);
    expect(c.requests({ resource: 'widgets', subresource: 'scale' }).length).toBeGreaterThan(before);
    expect(await k.ok(['get', 'widget', 'x', '-o', 'jsonpath={.spec.replicas} {.metadata.generation}'])).toBe('3 3');
    // --current-replicas is a precondition kubectl checks against the Scale it reads.
    const pre = await k.run(['scale', '--current-replicas=2', '--replicas=4', 'widget/x']);
    expect([pre.code, errText(pre)]).toEqual([1, 'error: Expected replicas to be 2, was 3']);
    expect(await k.ok(['scale', '--current-replicas=3', '--replicas=4', 'widget/x'])).toBe('widget.example.test/x scaled\n');
    expect(await k.ok(['get', 'widget', 'x', '-o', 'jsonpath={.spec.replicas}'])).toBe('4');
  });

  it('wait --for=condition=Ready returns once patch --subresource=status sets it; status and spec stay apart', async () => {
    const watches = c.requests({ verb: 'watch', resource: 'widgets' }).length;
    const waiting = k.run(['wait', '--for=condition=Ready', 'widget/x', '--timeout=30s']);
    await watchOpened('widgets', watches);
    expect(await stateOf(waiting)).toBe('pending');
    const status = { spec: { size: 50 }, status: { phase: 'Running', replicas: 4, conditions: [{ type: 'Ready', status: 'True', reason: 'Up', message: 'all good', lastTransitionTime: '2026-01-01T00:00:00Z' }] } };
    expect(await k.ok(['patch', 'widget', 'x', '--subresource=status', '--type=merge', '-p', JSON.stringify(status)])).toBe('widget.example.test/x patched\n');
    const r = await waiting;
    expect([r.code, r.stdout, errText(r)]).toEqual([0, 'widget.example.test/x condition met\n', '']);
    // The status write kept the spec (and so the generation).
    expect(await k.ok(['get', 'widget', 'x', '-o', 'jsonpath={.spec.size} {.metadata.generation} {.status.phase} {.status.replicas}'])).toBe('1 4 Running 4');
    // The main endpoint ignores status: the object is unchanged.
    expect(await k.ok(['patch', 'widget', 'x', '--type=merge', '-p', '{"status":{"phase":"Hacked"}}'])).toBe('widget.example.test/x patched (no change)\n');
    expect(await k.ok(['get', 'widget', 'x', '-o', 'jsonpath={.status.phase}'])).toBe('Running');
    // The Scale reads status.replicas; PHASE shows in the table.
    expect(JSON.parse(await k.ok(['get', '--raw', '/apis/example.test/v1/namespaces/default/widgets/x/scale'])).status).toEqual({ replicas: 4 });
    expect((await k.ok(['get', 'widget', 'x', '--no-headers'])).split(/\s+/).slice(0, 5)).toEqual(['x', '1', 'blue', '4', 'Running']);
    // --for=jsonpath reads the same watch.
    expect(await k.ok(['wait', '--for=jsonpath={.status.phase}=Running', 'widget/x', '--timeout=30s'])).toBe('widget.example.test/x condition met\n');
    // A condition that never comes: kubectl gives up after its timeout.
    const never = await k.run(['wait', '--for=condition=Broken', 'widget/x', '--timeout=1s']);
    expect([never.code, errText(never)]).toEqual([1, 'error: timed out waiting for the condition on widgets/x']);
  });

  it('explain widget.spec shows the schema descriptions', async () => {
    const spec = await k.ok(['explain', 'widget.spec']);
    expect(spec).toContain('GROUP:      example.test\nKIND:       Widget\nVERSION:    v1\n\nFIELD: spec <Object>\n');
    expect(spec).toContain('DESCRIPTION:\n    The desired state of the Widget.\n');
    expect(spec).toMatch(/\n {2}color\t<string>\n {2}enum: red, green, blue\n {4}The paint colour\.\n/);
    expect(spec).toMatch(/\n {2}replicas\t<integer>\n {4}How many copies to keep\.\n/);
    expect(spec).toMatch(/\n {2}size\t<integer>\n {4}How big the widget is\.\n/);
    const top = await k.ok(['explain', 'widgets']);
    expect(top).toContain('DESCRIPTION:\n    A Widget is a generic test object.\n');
    expect(top).toMatch(/\n {2}status\t<Object>\n {4}The observed state of the Widget\.\n/);
    const bad = await k.run(['explain', 'widget.spec.bogus']);
    expect([bad.code, errText(bad)]).toEqual([1, 'error: field "bogus" does not exist']);
  });

  it('delete returns when the object is gone, also after another client removes a finalizer', async () => {
    expect(await k.ok(['delete', 'widget', 'x'])).toBe('widget.example.test "x" deleted\n');
    expect((await k.run(['get', 'widget', 'x'])).code).toBe(1);
    // wait --for=delete on something already gone returns at once.
    expect((await k.run(['wait', '--for=delete', 'widget/x', '--timeout=10s'])).code).toBe(0);

    expect((await k.apply(widget('held', '{}', 'finalizers: [example.test/hold]'))).code).toBe(0);
    expect(await k.ok(['delete', 'widget', 'held', '--wait=false'])).toBe('widget.example.test "held" deleted\n');
    expect(await k.ok(['get', 'widget', 'held', '-o', 'jsonpath={.metadata.finalizers[0]} {.metadata.deletionTimestamp}'])).toMatch(/^example\.test\/hold \d{4}-\d\d-\d\dT/);
    // A waiting delete blocks while the finalizer is there...
    const watches = c.requests({ verb: 'watch', resource: 'widgets' }).length;
    const deleting = k.run(['delete', 'widget', 'held', '--timeout=30s']);
    await watchOpened('widgets', watches);
    expect(await stateOf(deleting)).toBe('pending');
    // ...and returns once another client takes it off.
    const off = await raw(c, 'PATCH', '/apis/example.test/v1/namespaces/default/widgets/held', { contentType: 'application/merge-patch+json', body: { metadata: { finalizers: null } } });
    expect(off.status).toBe(200);
    const r = await deleting;
    expect([r.code, r.stdout, errText(r)]).toEqual([0, 'widget.example.test "held" deleted\n', '']);
    const gone = await k.run(['get', 'widget', 'held']);
    expect(errText(gone)).toBe('Error from server (NotFound): widgets.example.test "held" not found');
  });

  it('field validation: unknown fields are errors by default, warnings with --validate=warn, dropped with --validate=false', async () => {
    const bogus = widget('v', '{size: 2, bogus: 1}');
    const strict = await k.apply(bogus);
    expect([strict.code, errText(strict)]).toEqual([1, 'Error from server (BadRequest): error when creating "STDIN": Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field "spec.bogus"']);
    const create = await k.run(['create', '-f', '-'], { stdin: bogus });
    expect(errText(create)).toBe('Error from server (BadRequest): error when creating "STDIN": Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field "spec.bogus"');
    expect((await k.run(['get', 'widget', 'v'])).code).toBe(1);

    const warn = await k.apply(bogus, ['--validate=warn']);
    expect([warn.code, warn.stdout, errText(warn)]).toEqual([0, 'widget.example.test/v created\n', 'Warning: unknown field "spec.bogus"']);
    expect(await k.ok(['get', 'widget', 'v', '-o', 'jsonpath={.spec}'])).toBe('{"size":2}');
    // An update is a patch: the server's strict decoding error names no type, kubectl adds the patch context.
    const patchStrict = await k.apply(widget('v', '{size: 3, bogus: 1}'));
    expect(patchStrict.code).toBe(1);
    expect(errText(patchStrict)).toMatch(/^Error from server \(BadRequest\): error when applying patch:\n.*\nto:\nResource: "example\.test\/v1, Resource=widgets", GroupVersionKind: "example\.test\/v1, Kind=Widget"\nName: "v", Namespace: "default"\nfor: "STDIN": error when patching "STDIN": strict decoding error: unknown field "spec\.bogus"$/s);
    const ignored = await k.apply(widget('v', '{size: 3, bogus: 1}'), ['--validate=false']);
    expect([ignored.code, ignored.stdout, errText(ignored)]).toEqual([0, 'widget.example.test/v configured\n', '']);
    expect(await k.ok(['get', 'widget', 'v', '-o', 'jsonpath={.spec}'])).toBe('{"size":3}');
  });

  it('schema violations: the usual 422 message from kubectl, and the CEL rule message', async () => {
    const min = await k.apply(widget('bad', '{size: 0}'));
    expect([min.code, errText(min)]).toEqual([1, 'The Widget "bad" is invalid: spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1']);
    const en = await k.apply(widget('bad', '{color: pink}'));
    // An enum violation blocks the CEL rules (apiextensions' hasBlockingErr), which says so in a cause of its own.
    expect(errText(en)).toBe(
      'The Widget "bad" is invalid: \n* spec.color: Unsupported value: "pink": supported values: "red", "green", "blue"\n* <nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
    );
    const cel = await k.apply(widget('bad', '{size: 101}'));
    expect(errText(cel)).toBe('The Widget "bad" is invalid: spec: Invalid value: "object": size must be at most 100');
    const two = await k.apply(widget('bad', '{size: 101, replicas: -1}'));
    expect(errText(two)).toBe(
      'The Widget "bad" is invalid: \n* spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0\n* spec: Invalid value: "object": size must be at most 100',
    );
    expect((await k.run(['get', 'widget', 'bad'])).code).toBe(1);
    // Updates are validated too: the CEL rule on a patch.
    const patch = await k.run(['patch', 'widget', 'v', '--type=merge', '-p', '{"spec":{"size":500}}']);
    expect([patch.code, errText(patch)]).toEqual([1, 'The Widget "v" is invalid: spec: Invalid value: "object": size must be at most 100']);
  });

  it('built-in types: namespace, secret, configmap, deployment, service, events, label/annotate, -l, --cascade=orphan', async () => {
    // JSON bodies (`create -f`): typed `kubectl create` sends protobuf, which the server does not decode.
    const create = (obj: object) => k.ok(['create', '-f', '-'], { stdin: JSON.stringify(obj) });
    const deployment = (name: string, replicas?: number) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: 'shop', labels: { app: name } },
      spec: { ...(replicas ? { replicas } : {}), selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] } } },
    });
    expect(await create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } })).toBe('namespace/shop created\n');
    expect(await create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: 'shop' }, data: { password: Buffer.from('s3cret').toString('base64') } })).toBe('secret/creds created\n');
    expect(await k.ok(['get', 'secret', 'creds', '-n', 'shop', '-o', 'jsonpath={.type} {.data.password}'])).toBe(`Opaque ${Buffer.from('s3cret').toString('base64')}`);
    expect(await create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'shop' }, data: { mode: 'fast' } })).toBe('configmap/settings created\n');
    expect(await create(deployment('web', 2))).toBe('deployment.apps/web created\n');
    const dep = JSON.parse(await k.ok(['get', 'deployment', 'web', '-n', 'shop', '-o', 'json']));
    expect(dep.spec.selector).toEqual({ matchLabels: { app: 'web' } });
    // Defaults the API server fills in, as kubectl shows them.
    expect(dep.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } });
    expect(dep.spec.template.spec.containers[0]).toEqual(expect.objectContaining({ name: 'nginx', image: 'nginx:1.27', imagePullPolicy: 'IfNotPresent', terminationMessagePolicy: 'File' }));
    // Service defaults: type ClusterIP, protocol TCP, an allocated cluster IP.
    expect(await create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { selector: { app: 'web' }, ports: [{ name: '80-8080', port: 80, targetPort: 8080 }] } })).toBe('service/web created\n');
    expect(JSON.parse(await k.ok(['get', 'service', 'web', '-n', 'shop', '-o', 'jsonpath={.spec}']))).toEqual(
      expect.objectContaining({ type: 'ClusterIP', selector: { app: 'web' }, ports: [{ name: '80-8080', port: 80, protocol: 'TCP', targetPort: 8080 }], clusterIP: expect.stringMatching(/^10\./) }),
    );
    expect(await k.ok(['describe', 'deployment', 'web', '-n', 'shop'])).toMatch(/\nReplicas:\s+2 desired \| 0 updated \| 0 total \| 0 available \| 0 unavailable\nStrategyType:\s+RollingUpdate\n/);
    const tbl = (await k.ok(['get', 'secrets,configmaps,deployments', '-n', 'shop'])).split('\n');
    expect(tbl).toEqual(expect.arrayContaining([expect.stringMatching(/^NAME\s+TYPE\s+DATA\s+AGE$/), expect.stringMatching(/^secret\/creds\s+Opaque\s+1\s+\d+s$/), expect.stringMatching(/^configmap\/settings\s+1\s+\d+s$/), expect.stringMatching(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/), expect.stringMatching(/^deployment\.apps\/web\s+0\/2\s+0\s+0\s+\d+s$/)]));

    await k.ok(['create', '-n', 'shop', '-f', '-'], {
      stdin: JSON.stringify({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'web.1' }, involvedObject: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop', uid: dep.metadata.uid }, reason: 'ScalingReplicaSet', message: 'Scaled up replica set web-1 to 2', type: 'Normal', source: { component: 'deployment-controller' }, count: 1, firstTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), lastTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }),
    });
    const events = (await k.ok(['get', 'events', '-n', 'shop'])).trimEnd().split('\n');
    expect(events[0]!.split(/\s{2,}/)).toEqual(['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']);
    expect(events[1]).toMatch(/^\d+s\s+Normal\s+ScalingReplicaSet\s+deployment\/web\s+Scaled up replica set web-1 to 2$/);
    const wide = (await k.ok(['get', 'events', '-n', 'shop', '-o', 'wide'])).trimEnd().split('\n');
    expect(wide[0]!.split(/\s{2,}/)).toEqual(['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'SUBOBJECT', 'SOURCE', 'MESSAGE', 'FIRST SEEN', 'COUNT', 'NAME']);
    expect(wide[1]).toMatch(/\sdeployment-controller\s+Scaled up replica set web-1 to 2\s+\d+s\s+1\s+web\.1$/);

    expect(await k.ok(['label', 'configmap', 'settings', '-n', 'shop', 'tier=backend'])).toBe('configmap/settings labeled\n');
    expect(await k.ok(['annotate', 'configmap', 'settings', '-n', 'shop', 'owner=team-a'])).toBe('configmap/settings annotated\n');
    expect(await k.ok(['get', 'configmaps', '-n', 'shop', '-l', 'tier=backend', '-o', 'name'])).toBe('configmap/settings\n');
    expect(await k.ok(['get', 'configmaps', '-n', 'shop', '-l', 'tier in (frontend)', '-o', 'name'])).toBe('');
    expect(await k.ok(['get', 'configmaps', '-n', 'shop', '-l', '!tier', '-o', 'name'])).toBe('');
    expect(await k.ok(['get', 'configmap', 'settings', '-n', 'shop', '-o', 'jsonpath={.metadata.labels.tier} {.metadata.annotations.owner}'])).toBe('backend team-a');
    const relabel = await k.run(['label', 'configmap', 'settings', '-n', 'shop', 'tier=frontend']);
    expect([relabel.code, errText(relabel)]).toEqual([1, "error: 'tier' already has a value (backend), and --overwrite is false"]);
    expect(await k.ok(['label', 'configmap', 'settings', '-n', 'shop', 'tier-'])).toBe('configmap/settings unlabeled\n');

    // A dependent of the Deployment: orphaned by --cascade=orphan (ownerReference removed), kept.
    const child = (name: string, owner: { name: string; uid: string }) =>
      JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'shop', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: owner.name, uid: owner.uid }] }, data: { a: 'b' } });
    await k.ok(['create', '-f', '-'], { stdin: child('web-child', { name: 'web', uid: dep.metadata.uid }) });
    expect(await k.ok(['delete', 'deployment', 'web', '-n', 'shop', '--cascade=orphan'])).toBe('deployment.apps "web" deleted\n');
    expect((await k.run(['get', 'deployment', 'web', '-n', 'shop'])).code).toBe(1);
    expect(await k.ok(['get', 'configmap', 'web-child', '-n', 'shop', '-o', 'jsonpath={.metadata.name} {.metadata.ownerReferences}'])).toBe('web-child ');
    // ...while the default (background) cascade collects it.
    await create(deployment('api'));
    const apiUid = await k.ok(['get', 'deployment', 'api', '-n', 'shop', '-o', 'jsonpath={.metadata.uid}']);
    await k.ok(['create', '-f', '-'], { stdin: child('api-child', { name: 'api', uid: apiUid }) });
    await k.ok(['delete', 'deployment', 'api', '-n', 'shop']);
    await waitFor(async () => (await k.run(['get', 'configmap', 'api-child', '-n', 'shop'])).code === 1, 'the garbage collector to delete api-child');
    // Deleting the namespace takes its contents along; kubectl waits until it is gone.
    expect(await k.ok(['delete', 'namespace', 'shop', '--timeout=30s'])).toBe('namespace "shop" deleted\n');
    expect((await raw(c, 'GET', '/api/v1/namespaces/shop/configmaps/settings')).status).toBe(404);
  });
});

describe('npm run testcluster', () => {
  let child: ChildProcess | undefined;
  let dir: string;
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'testcluster-cli-'));
  });
  afterAll(async () => {
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      process.kill(-child.pid, 'SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses unknown flags and bad values with exit code 2 and the usage', () => {
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 20000 });
    const bogus = run('--bogus');
    expect([bogus.status, bogus.stdout]).toEqual([2, '']);
    expect(bogus.stderr).toMatch(/^testcluster: Unknown option '--bogus'.*\nusage: testcluster /s);
    const port = run('--port', 'abc');
    expect([port.status, port.stderr]).toEqual([2, "testcluster: --port: expected an integer from 0 to 65535, got 'abc'\n"]);
  });

  it('prints a kubeconfig path kubectl can use, and stops cleanly on SIGTERM', async () => {
    // Its own process group (npm -> sh -> node), signalled as a whole like a terminal or a service manager does.
    child = spawn('npm', ['run', '--silent', 'testcluster', '--', '--dir', dir, '--namespace', 'cli-ns'], { cwd: fileURLToPath(new URL('../../..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    exited = new Promise((resolve) => child!.once('exit', (code, signal) => resolve({ code, signal })));
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const path = await waitFor(() => /\n/.test(stdout) && stdout.split('\n')[0], 'the kubeconfig path on stdout', 20000);
    expect(path).toBe(join(dir, 'kubeconfig'));
    // stderr is another pipe: its line may arrive after stdout's.
    await waitFor(() => /\n/.test(stderr), 'the line on stderr', 20000);
    expect(stderr).toMatch(/^testcluster: serving https:\/\/127\.0\.0\.1:\d+; export KUBECONFIG=/);
    const cli = new Kubectl({ kubeconfigPath: path });
    try {
      expect((await cli.ok(['get', 'namespaces', '-o', 'name'])).split('\n')).toEqual(expect.arrayContaining(['namespace/default', 'namespace/cli-ns']));
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
      // Every process of the group is gone (the server stopped rather than being orphaned), without an error.
      await waitFor(() => {
        try {
          process.kill(-child!.pid!, 0);
          return false;
        } catch (e) {
          return (e as NodeJS.ErrnoException).code === 'ESRCH';
        }
      }, 'the process group to end');
      expect(stderr).not.toMatch(/Error|error/);
      const after = await cli.run(['get', 'namespaces', '--request-timeout=5s']);
      expect(after.code).toBe(1);
      expect(after.stderr).toMatch(/^The connection to the server 127\.0\.0\.1:\d+ was refused - did you specify the right host or port\?/m);
    } finally {
      await cli.cleanup();
    }
  });
});
