// The built-in resources the test cluster serves (core, apps, networking, coordination, rbac, events, ...): their
// ResourceDefs with upstream's defaulting, the validation clients trip over, field selectors and printer tables.
import { type BuiltinSchemas, buildBuiltinSchemas } from './builtin-schemas.js';
import { type FieldError, badRequest } from './errors.js';
import { age } from './humanize.js';
import { parseQuantity } from './quantity.js';
import { hostErrors, labelNameErrors } from './validation.js';
import { type ResourceDef, type TableColumn, metaFieldSelectors } from './resource.js';
import { type FieldGetter, labelSelectorString, labelSelectorFromObject, matchesLabels } from './selectors.js';
import { type JsonObject, type JsonValue, type KubeObject, type Schema, arrayOr, asObject, asString, at, deepEqual, getPath, isPlainObject, objectAt, objectOr, objectsOf, stringMapOrUndefined } from './types.js';

type J = JsonValue | undefined;

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const NAME_COL: TableColumn = { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.' };
const AGE_COL: TableColumn = { name: 'Age', type: 'string', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' };

interface BuiltinSpec {
  group: string;
  version: string;
  resource: string;
  kind: string;
  cls: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  status?: boolean;
  scale?: ResourceDef['scale'];
  generation?: boolean;
  storage?: string;
  storageVersion?: string;
  fieldSelectors?: Record<string, FieldGetter>;
  columns?: Array<{ col: TableColumn; cell: (o: KubeObject) => J }>;
  /** false: no leading Name column (the columns list their own) */
  nameColumn?: false;
  defaults?: ResourceDef['defaults'];
  validate?: ResourceDef['validate'];
}

// ---- defaulting (the subset of upstream SetDefaults_* that shows up in objects clients read back) ----

function defaultProbe(p: J): void {
  if (!isPlainObject(p)) return;
  p.timeoutSeconds ??= 1;
  p.periodSeconds ??= 10;
  p.successThreshold ??= 1;
  p.failureThreshold ??= 3;
  const httpGet = asObject(p.httpGet);
  if (httpGet) httpGet.scheme ??= 'HTTP';
}

function defaultContainer(c: JsonObject): void {
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  if (!c.imagePullPolicy && typeof c.image === 'string') {
    const tag = /:([^/:@]+)$/.exec(c.image.split('@')[0] ?? '')?.[1];
    c.imagePullPolicy = c.image.includes('@') || (tag && tag !== 'latest') ? 'IfNotPresent' : 'Always';
  }
  c.resources ??= {};
  for (const p of objectsOf(c.ports)) p.protocol ??= 'TCP';
  for (const e of objectsOf(c.env)) {
    const fieldRef = asObject(at(e, 'valueFrom', 'fieldRef'));
    if (fieldRef) fieldRef.apiVersion ??= 'v1';
  }
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
}

export function defaultPodSpec(s: J): void {
  if (!isPlainObject(s)) return;
  s.restartPolicy ??= 'Always';
  s.terminationGracePeriodSeconds ??= 30;
  s.dnsPolicy ??= 'ClusterFirst';
  s.securityContext ??= {};
  s.schedulerName ??= 'default-scheduler';
  for (const c of [...objectsOf(s.containers), ...objectsOf(s.initContainers)]) defaultContainer(c);
  for (const v of objectsOf(s.volumes)) {
    for (const source of [v.secret, v.configMap, v.projected]) if (isPlainObject(source)) source.defaultMode ??= 420;
  }
}

function defaultDeployment(d: KubeObject): void {
  const s = objectAt(d, 'spec');
  s.replicas ??= 1;
  s.revisionHistoryLimit ??= 10;
  s.progressDeadlineSeconds ??= 600;
  const strategy = objectAt(s, 'strategy');
  strategy.type ??= 'RollingUpdate';
  if (strategy.type === 'RollingUpdate') {
    const rollingUpdate = objectAt(strategy, 'rollingUpdate');
    rollingUpdate.maxSurge ??= '25%';
    rollingUpdate.maxUnavailable ??= '25%';
  }
  const template = objectAt(s, 'template');
  template.metadata ??= {};
  defaultPodSpec(objectAt(template, 'spec'));
}

function defaultPod(p: KubeObject): void {
  const s = objectAt(p, 'spec');
  defaultPodSpec(s);
  // Upstream fills limits into missing requests on Pods only (SetDefaults_Pod), never on pod templates.
  for (const c of [...objectsOf(s.containers), ...objectsOf(s.initContainers)]) {
    const resources = asObject(c.resources);
    const limits = asObject(resources?.limits);
    if (!resources || !limits) continue;
    const requests = objectAt(resources, 'requests');
    for (const [k, v] of Object.entries(limits)) requests[k] ??= v;
  }
  s.serviceAccountName ??= s.serviceAccount ?? 'default';
  s.serviceAccount ??= s.serviceAccountName;
  s.enableServiceLinks ??= true;
  s.priority ??= 0;
  s.preemptionPolicy ??= 'PreemptLowerPriority';
  s.tolerations ??= [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  ];
  const status = objectAt(p, 'status');
  status.phase ??= 'Pending';
  status.qosClass ??= qosClass(s);
}

function qosClass(spec: JsonObject): string {
  const cs = objectsOf(spec.containers);
  const res = (c: JsonObject, k: 'requests' | 'limits') => objectOr(at(c, 'resources', k));
  const has = (c: JsonObject, k: 'requests' | 'limits') => Object.keys(res(c, k)).some((r) => r === 'cpu' || r === 'memory');
  if (!cs.some((c) => has(c, 'requests') || has(c, 'limits'))) return 'BestEffort';
  const guaranteed = cs.every((c) => ['cpu', 'memory'].every((r) => res(c, 'limits')[r] !== undefined && String(res(c, 'requests')[r] ?? res(c, 'limits')[r]) === String(res(c, 'limits')[r])));
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function makeServiceDefaults(allocateIP: () => string): ResourceDef['defaults'] {
  return (svc, old) => {
    const s = objectAt(svc, 'spec');
    s.type ??= 'ClusterIP';
    s.sessionAffinity ??= 'None';
    if (s.type !== 'ExternalName') {
      const clusterIP = (s.clusterIP ??= at(old, 'spec', 'clusterIP') ?? allocateIP());
      s.clusterIPs ??= clusterIP === 'None' ? ['None'] : [clusterIP];
      s.ipFamilies ??= ['IPv4'];
      s.ipFamilyPolicy ??= 'SingleStack';
      s.internalTrafficPolicy ??= 'Cluster';
    }
    for (const p of objectsOf(s.ports)) {
      p.protocol ??= 'TCP';
      p.targetPort ??= p.port;
    }
    svc.status ??= { loadBalancer: {} };
  };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function defaultSecret(s: KubeObject): void {
  // data is []byte in Go: JSON decoding rejects values that are not standard base64.
  for (const v of Object.values(isPlainObject(s.data) ? s.data : {})) {
    const why = typeof v !== 'string' ? `json: cannot unmarshal ${typeof v} into Go struct field Secret.data of type []uint8` : BASE64.test(v) ? '' : `illegal base64 data at input byte ${v.search(/[^A-Za-z0-9+/=]/) < 0 ? v.length : v.search(/[^A-Za-z0-9+/=]/)}`;
    if (why) throw badRequest(`Secret in version "v1" cannot be handled as a Secret: ${why}`);
  }
  s.type ??= 'Opaque';
  if (isPlainObject(s.stringData)) {
    const data = objectAt(s, 'data');
    for (const [k, v] of Object.entries(s.stringData)) data[k] = Buffer.from(String(v)).toString('base64');
  }
  delete s.stringData;
}

function defaultNamespace(ns: KubeObject): void {
  ns.metadata.labels = { ...(ns.metadata.labels ?? {}), 'kubernetes.io/metadata.name': ns.metadata.name };
  objectAt(ns, 'spec').finalizers ??= ['kubernetes'];
  objectAt(ns, 'status').phase ??= 'Active';
}

function defaultCrd(crd: KubeObject): void {
  const spec = objectAt(crd, 'spec');
  spec.conversion ??= { strategy: 'None' };
  for (const v of objectsOf(spec.versions)) {
    for (const c of objectsOf(v.additionalPrinterColumns)) c.priority ??= undefined;
  }
}

// ---- validation (what clients are likely to trip over) ----

function defaultPvc(pvc: KubeObject): void {
  objectAt(pvc, 'spec').volumeMode ??= 'Filesystem';
  objectAt(pvc, 'status').phase ??= 'Pending';
}

/** Access modes and a storage request are required; the spec is frozen after creation (but what binding and resizing touch). */
function validatePvc(pvc: KubeObject, old: KubeObject | undefined): FieldError[] {
  const s = objectOr(pvc.spec);
  const errs: FieldError[] = [];
  if (!arrayOr(s.accessModes).length) errs.push({ type: 'FieldValueRequired', field: 'spec.accessModes', detail: 'at least 1 access mode is required' });
  if (at(s, 'resources', 'requests', 'storage') === undefined) errs.push({ type: 'FieldValueRequired', field: 'spec.resources[storage]', detail: '' });
  if (old) {
    const bound = at(old, 'status', 'phase') === 'Bound';
    const mutable = (x: JsonObject) => ({ ...x, volumeAttributesClassName: undefined, volumeName: at(old, 'spec', 'volumeName') ? x.volumeName : undefined, resources: bound ? { ...objectOr(x.resources), requests: undefined } : x.resources });
    if (!deepEqual(mutable(s), mutable(objectOr(old.spec)))) errs.push({ type: 'FieldValueForbidden', field: 'spec', detail: 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims' });
  }
  return errs;
}

/** What networking's ValidateIngressSpec rejects most often: hosts, path types and paths, backends. */
function validateIngress(ing: KubeObject): FieldError[] {
  const s = objectOr(ing.spec);
  const errs: FieldError[] = [];
  if (!s.defaultBackend && !arrayOr(s.rules).length) errs.push({ type: 'FieldValueInvalid', field: 'spec', value: s.rules ?? null, detail: 'either `defaultBackend` or `rules` must be specified' });
  const backend = (b: J, field: string) => {
    const service = asObject(at(b, 'service'));
    if (!service) return errs.push({ type: 'FieldValueInvalid', field, value: '', detail: 'resource or service backend is required' });
    if (!service.name) errs.push({ type: 'FieldValueRequired', field: `${field}.service.name`, detail: '' });
    const port = objectOr(service.port);
    if (port.name && port.number) errs.push({ type: 'FieldValueInvalid', field, value: '', detail: 'cannot set both port name & port number' });
    else if (!port.name && !port.number) errs.push({ type: 'FieldValueRequired', field, detail: 'port name or number is required' });
  };
  if (s.defaultBackend) backend(s.defaultBackend, 'spec.defaultBackend');
  arrayOr(s.rules).map(objectOr).forEach((r, i) => {
    if (r.host) errs.push(...hostErrors(String(r.host), `spec.rules[${i}].host`));
    if (r.http && !arrayOr(at(r, 'http', 'paths')).length) errs.push({ type: 'FieldValueRequired', field: `spec.rules[${i}].http.paths`, detail: '' });
    arrayOr(at(r, 'http', 'paths')).map(objectOr).forEach((p, j) => {
      const where = `spec.rules[${i}].http.paths[${j}]`;
      if (!p.pathType) return errs.push({ type: 'FieldValueRequired', field: `${where}.pathType`, detail: 'pathType must be specified' });
      if (typeof p.pathType !== 'string' || !['Exact', 'Prefix', 'ImplementationSpecific'].includes(p.pathType)) errs.push({ type: 'FieldValueNotSupported', field: `${where}.pathType`, value: p.pathType, detail: 'supported values: "Exact", "ImplementationSpecific", "Prefix"' });
      else if ((p.pathType !== 'ImplementationSpecific' || p.path) && !String(p.path ?? '').startsWith('/')) errs.push({ type: 'FieldValueInvalid', field: `${where}.path`, value: p.path ?? '', detail: 'must be an absolute path' });
      backend(p.backend, `${where}.backend`);
    });
  });
  return errs;
}

/** printEvent's Last Seen: the last timestamp (or the first), with the count and first sighting when repeated. */
const eventFirstSeen = (o: KubeObject): string => age(asString(o.firstTimestamp ?? o.eventTime) ?? o.metadata.creationTimestamp);
function eventLastSeen(o: KubeObject): string {
  if (o.series) return age(asString(at(o, 'series', 'lastObservedTime')));
  const last = o.lastTimestamp ? age(asString(o.lastTimestamp)) : eventFirstSeen(o);
  return Number(o.count ?? 0) > 1 ? `${last} (x${o.count} over ${eventFirstSeen(o)})` : last;
}

/** ConfigMaps and Secrets marked `immutable: true` keep their data (and the mark) for good. */
function validateImmutableData(o: KubeObject, old: KubeObject | undefined): FieldError[] {
  if (old?.immutable !== true) return [];
  const forbidden = (field: string): FieldError => ({ type: 'FieldValueForbidden', field, detail: 'field is immutable when `immutable` is set' });
  return [...(o.immutable !== true ? [forbidden('immutable')] : []), ...['data', 'binaryData'].filter((k) => k in old || k in o).filter((k) => !deepEqual(o[k], old[k])).map(forbidden)];
}

function validateDeployment(d: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const s = objectOr(d.spec);
  if (old && !deepEqual(at(old, 'spec', 'selector'), s.selector)) errs.push({ type: 'FieldValueInvalid', field: 'spec.selector', value: s.selector, detail: 'field is immutable' });
  if (typeof s.replicas === 'number' && s.replicas < 0) errs.push({ type: 'FieldValueInvalid', field: 'spec.replicas', value: s.replicas, detail: 'must be greater than or equal to 0' });
  const sel = labelSelectorFromObject(s.selector);
  if (!s.selector || (sel && sel.length === 0)) errs.push({ type: 'FieldValueRequired', field: 'spec.selector', detail: '' });
  else if (sel && !matchesLabels(sel, stringMapOrUndefined(at(s, 'template', 'metadata', 'labels')))) {
    errs.push({ type: 'FieldValueInvalid', field: 'spec.template.metadata.labels', value: at(s, 'template', 'metadata', 'labels') ?? {}, detail: '`selector` does not match template `labels`' });
  }
  errs.push(...validatePodSpec(at(s, 'template', 'spec'), 'spec.template.spec'));
  const restart = at(s, 'template', 'spec', 'restartPolicy');
  if (restart !== 'Always') errs.push({ type: 'FieldValueNotSupported', field: 'spec.template.spec.restartPolicy', value: restart ?? '', detail: 'supported values: "Always"' });
  const strategy = objectOr(s.strategy);
  if (strategy.type === 'Recreate' && strategy.rollingUpdate) errs.push({ type: 'FieldValueForbidden', field: 'spec.strategy.rollingUpdate', detail: "may not be specified when strategy `type` is 'Recreate'" });
  const ru = strategy.type === 'RollingUpdate' ? asObject(strategy.rollingUpdate) : undefined;
  const zero = (v: J) => v === 0 || v === '0%' || v === '0';
  if (ru && zero(ru.maxSurge) && zero(ru.maxUnavailable)) errs.push({ type: 'FieldValueInvalid', field: 'spec.strategy.rollingUpdate.maxUnavailable', value: ru.maxUnavailable, detail: 'may not be 0 when `maxSurge` is 0' });
  return errs;
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const ENV_NAME_MSG = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";

/** validation.IsValidPortName (IANA_SVC_NAME) */
function portNameErrors(n: string): string[] {
  const errs: string[] = [];
  if (n.length > 15) errs.push('must be no more than 15 characters');
  if (!/^[-a-z0-9]+$/.test(n)) errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(n)) errs.push('must contain at least one letter (a-z)');
  if (n.includes('--')) errs.push('must not contain consecutive hyphens');
  if (n.startsWith('-') || n.endsWith('-')) errs.push('must not begin or end with a hyphen');
  return errs;
}

/** Resources without a domain (or in kubernetes.io) may be overcommitted; extended ones (nvidia.com/gpu) may not. */
const overcommitAllowed = (r: string) => (!r.includes('/') || r.split('/')[0]!.endsWith('kubernetes.io')) && !r.startsWith('hugepages-');

function validatePodSpec(spec: J, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const cs = arrayOr(at(spec, 'containers')).map(objectOr);
  if (cs.length === 0) errs.push({ type: 'FieldValueRequired', field: `${path}.containers`, detail: '' });
  const volumes = new Set<J>();
  arrayOr(at(spec, 'volumes')).map(objectOr).forEach((v, i) => {
    if (volumes.has(v.name)) errs.push({ type: 'FieldValueDuplicate', field: `${path}.volumes[${i}].name`, value: v.name });
    volumes.add(v.name);
  });
  const names = new Set<J>();
  const check = (c: JsonObject, where: string) => {
    if (!c.name) errs.push({ type: 'FieldValueRequired', field: `${where}.name`, detail: '' });
    else if (names.has(c.name)) errs.push({ type: 'FieldValueDuplicate', field: `${where}.name`, value: c.name });
    else errs.push(...labelNameErrors(String(c.name), `${where}.name`));
    names.add(c.name);
    if (!c.image) errs.push({ type: 'FieldValueRequired', field: `${where}.image`, detail: '' });
    arrayOr(c.ports).map(objectOr).forEach((p, j) => {
      if (p.name) for (const m of portNameErrors(String(p.name))) errs.push({ type: 'FieldValueInvalid', field: `${where}.ports[${j}].name`, value: p.name, detail: m });
    });
    arrayOr(c.env).map(objectOr).forEach((e, j) => {
      if (!e.name) errs.push({ type: 'FieldValueRequired', field: `${where}.env[${j}].name`, detail: '' });
      else if (!ENV_NAME.test(String(e.name))) errs.push({ type: 'FieldValueInvalid', field: `${where}.env[${j}].name`, value: e.name, detail: ENV_NAME_MSG });
    });
    arrayOr(c.volumeMounts).map(objectOr).forEach((m, j) => {
      if (!volumes.has(m.name)) errs.push({ type: 'FieldValueNotFound', field: `${where}.volumeMounts[${j}].name`, value: m.name });
    });
    // Quantities are strings here: decoding rewrote them canonical.
    const limits = objectOr(at(c, 'resources', 'limits'));
    for (const [r, q] of Object.entries(objectOr(at(c, 'resources', 'requests')))) {
      const limit = limits[r];
      const field = `${where}.resources.requests`;
      if (limit === undefined) {
        if (!overcommitAllowed(r)) errs.push({ type: 'FieldValueRequired', field: `${where}.resources.limits`, detail: 'Limit must be set for non overcommitable resources' });
      } else if (!overcommitAllowed(r) && parseQuantity(String(q)) !== parseQuantity(String(limit))) errs.push({ type: 'FieldValueInvalid', field, value: String(q), detail: `must be equal to ${r} limit of ${limit}` });
      else if (parseQuantity(String(q)) > parseQuantity(String(limit))) errs.push({ type: 'FieldValueInvalid', field, value: String(q), detail: `must be less than or equal to ${r} limit of ${limit}` });
    }
  };
  cs.forEach((c, i) => check(c, `${path}.containers[${i}]`));
  arrayOr(at(spec, 'initContainers')).map(objectOr).forEach((c, i) => check(c, `${path}.initContainers[${i}]`));
  return errs;
}

function validateService(s: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const ports = arrayOr(at(s, 'spec', 'ports')).map(objectOr);
  if (at(s, 'spec', 'type') !== 'ExternalName' && at(s, 'spec', 'clusterIP') !== 'None' && ports.length === 0) errs.push({ type: 'FieldValueRequired', field: 'spec.ports', detail: '' });
  ports.forEach((p, i) => {
    if (typeof p.port !== 'number' || p.port < 1 || p.port > 65535) errs.push({ type: 'FieldValueInvalid', field: `spec.ports[${i}].port`, value: p.port, detail: 'must be between 1 and 65535, inclusive' });
    if (ports.length > 1 && !p.name) errs.push({ type: 'FieldValueRequired', field: `spec.ports[${i}].name`, detail: '' });
    if (p.name) errs.push(...labelNameErrors(String(p.name), `spec.ports[${i}].name`));
    if (typeof p.targetPort === 'string') for (const m of portNameErrors(p.targetPort)) errs.push({ type: 'FieldValueInvalid', field: `spec.ports[${i}].targetPort`, value: p.targetPort, detail: m });
    else if (typeof p.targetPort === 'number' && (p.targetPort < 1 || p.targetPort > 65535)) errs.push({ type: 'FieldValueInvalid', field: `spec.ports[${i}].targetPort`, value: p.targetPort, detail: 'must be between 1 and 65535, inclusive' });
  });
  return errs;
}

// ---- tables ----

const podReady = (p: KubeObject): string => {
  const st = objectsOf(at(p, 'status', 'containerStatuses'));
  return `${st.filter((c) => c.ready).length}/${arrayOr(at(p, 'spec', 'containers')).length}`;
};

function podStatusReason(p: KubeObject): string {
  if (p.metadata.deletionTimestamp) return 'Terminating';
  for (const c of objectsOf(at(p, 'status', 'containerStatuses'))) {
    const waiting = at(c, 'state', 'waiting', 'reason');
    if (waiting) return String(waiting);
    const terminated = at(c, 'state', 'terminated', 'reason');
    if (terminated) return String(terminated);
  }
  return String(at(p, 'status', 'reason') ?? at(p, 'status', 'phase') ?? 'Unknown');
}

const formatPorts = (ports: J): string =>
  arrayOr(ports).map(objectOr).map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',') || '<none>';

const str = (v: J): string => (v === undefined || v === null || v === '' ? '<none>' : String(v));

// ---- the resource list ----

const podFields: Record<string, FieldGetter> = {
  'spec.nodeName': (o) => asString(at(o, 'spec', 'nodeName')) ?? '',
  'spec.restartPolicy': (o) => asString(at(o, 'spec', 'restartPolicy')),
  'spec.schedulerName': (o) => asString(at(o, 'spec', 'schedulerName')),
  'spec.serviceAccountName': (o) => asString(at(o, 'spec', 'serviceAccountName')),
  'spec.hostNetwork': (o) => String(!!at(o, 'spec', 'hostNetwork')),
  'status.phase': (o) => asString(at(o, 'status', 'phase')),
  'status.podIP': (o) => asString(at(o, 'status', 'podIP')) ?? '',
  'status.nominatedNodeName': (o) => asString(at(o, 'status', 'nominatedNodeName')) ?? '',
};

const involved = (k: string): FieldGetter => (o) => asString(at(o, 'involvedObject', k)) ?? '';
const eventFields: Record<string, FieldGetter> = {
  'involvedObject.kind': involved('kind'),
  'involvedObject.namespace': involved('namespace'),
  'involvedObject.name': involved('name'),
  'involvedObject.uid': involved('uid'),
  'involvedObject.apiVersion': involved('apiVersion'),
  'involvedObject.resourceVersion': involved('resourceVersion'),
  'involvedObject.fieldPath': involved('fieldPath'),
  'regarding.kind': involved('kind'),
  'regarding.namespace': involved('namespace'),
  'regarding.name': involved('name'),
  'regarding.uid': involved('uid'),
  reason: (o) => asString(o.reason) ?? '',
  reportingComponent: (o) => asString(o.reportingComponent) ?? '',
  reportingController: (o) => asString(o.reportingComponent) ?? '',
  source: (o) => asString(at(o, 'source', 'component')) ?? '',
  type: (o) => asString(o.type) ?? '',
};

export function builtinSpecs(allocateIP: () => string): BuiltinSpec[] {
  return [
    {
      group: '', version: 'v1', resource: 'namespaces', kind: 'Namespace', cls: 'V1Namespace', namespaced: false, shortNames: ['ns'], status: true,
      fieldSelectors: { 'status.phase': (o) => asString(at(o, 'status', 'phase')) },
      columns: [{ col: { name: 'Status', type: 'string', description: 'The status of the namespace' }, cell: (o) => at(o, 'status', 'phase') }],
      defaults: defaultNamespace,
    },
    {
      group: '', version: 'v1', resource: 'nodes', kind: 'Node', cls: 'V1Node', namespaced: false, shortNames: ['no'], status: true,
      fieldSelectors: { 'spec.unschedulable': (o) => String(!!at(o, 'spec', 'unschedulable')) },
      columns: [
        { col: { name: 'Status', type: 'string' }, cell: (o) => (objectsOf(at(o, 'status', 'conditions')).find((c) => c.type === 'Ready')?.status === 'True' ? 'Ready' : 'NotReady') },
        { col: { name: 'Roles', type: 'string' }, cell: () => '<none>' },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
        { col: { name: 'Version', type: 'string' }, cell: (o) => at(o, 'status', 'nodeInfo', 'kubeletVersion') ?? '' },
      ],
    },
    {
      group: '', version: 'v1', resource: 'pods', kind: 'Pod', cls: 'V1Pod', namespaced: true, shortNames: ['po'], categories: ['all'], status: true,
      fieldSelectors: podFields,
      columns: [
        { col: { name: 'Ready', type: 'string', description: 'The aggregate readiness state of this pod for accepting traffic.' }, cell: podReady },
        { col: { name: 'Status', type: 'string', description: 'The aggregate status of the containers in this pod.' }, cell: podStatusReason },
        { col: { name: 'Restarts', type: 'string', description: 'The number of times the containers in this pod have been restarted.' }, cell: (o) => String(objectsOf(at(o, 'status', 'containerStatuses')).reduce((n, c) => n + Number(c.restartCount ?? 0), 0)) },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
        { col: { name: 'IP', type: 'string', priority: 1 }, cell: (o) => str(at(o, 'status', 'podIP')) },
        { col: { name: 'Node', type: 'string', priority: 1 }, cell: (o) => str(at(o, 'spec', 'nodeName')) },
      ],
      defaults: (o) => defaultPod(o),
      validate: (o) => validatePodSpec(o.spec, 'spec'),
    },
    {
      group: '', version: 'v1', resource: 'services', kind: 'Service', cls: 'V1Service', namespaced: true, shortNames: ['svc'], categories: ['all'], status: true,
      columns: [
        { col: { name: 'Type', type: 'string' }, cell: (o) => at(o, 'spec', 'type') },
        { col: { name: 'Cluster-IP', type: 'string' }, cell: (o) => str(at(o, 'spec', 'clusterIP')) },
        { col: { name: 'External-IP', type: 'string' }, cell: () => '<none>' },
        { col: { name: 'Port(s)', type: 'string' }, cell: (o) => formatPorts(at(o, 'spec', 'ports')) },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
        { col: { name: 'Selector', type: 'string', priority: 1 }, cell: (o) => Object.entries(objectOr(at(o, 'spec', 'selector'))).map(([k, v]) => `${k}=${v}`).join(',') || '<none>' },
      ],
      defaults: makeServiceDefaults(allocateIP),
      validate: validateService,
    },
    {
      group: '', version: 'v1', resource: 'secrets', kind: 'Secret', cls: 'V1Secret', namespaced: true,
      fieldSelectors: { type: (o) => asString(o.type) },
      columns: [
        { col: { name: 'Type', type: 'string' }, cell: (o) => o.type },
        { col: { name: 'Data', type: 'string' }, cell: (o) => Object.keys(objectOr(o.data)).length },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
      ],
      defaults: defaultSecret,
      validate: validateImmutableData,
    },
    {
      group: '', version: 'v1', resource: 'configmaps', kind: 'ConfigMap', cls: 'V1ConfigMap', namespaced: true, shortNames: ['cm'],
      columns: [
        { col: { name: 'Data', type: 'string' }, cell: (o) => Object.keys(objectOr(o.data)).length + Object.keys(objectOr(o.binaryData)).length },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
      ],
      validate: validateImmutableData,
    },
    {
      group: '', version: 'v1', resource: 'serviceaccounts', kind: 'ServiceAccount', cls: 'V1ServiceAccount', namespaced: true, shortNames: ['sa'],
      columns: [
        { col: { name: 'Secrets', type: 'string' }, cell: (o) => arrayOr(o.secrets).length },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
      ],
    },
    { group: '', version: 'v1', resource: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', cls: 'V1PersistentVolumeClaim', namespaced: true, shortNames: ['pvc'], status: true, defaults: defaultPvc, validate: validatePvc },
    {
      group: '', version: 'v1', resource: 'events', kind: 'Event', cls: 'CoreV1Event', namespaced: true, shortNames: ['ev'], storage: 'events', storageVersion: 'v1',
      fieldSelectors: eventFields,
      // As printEvent: no leading Name column (Name is the last, wide-only one).
      nameColumn: false,
      columns: [
        { col: { name: 'Last Seen', type: 'string' }, cell: eventLastSeen },
        { col: { name: 'Type', type: 'string' }, cell: (o) => o.type },
        { col: { name: 'Reason', type: 'string' }, cell: (o) => o.reason },
        { col: { name: 'Object', type: 'string' }, cell: (o) => (at(o, 'involvedObject', 'kind') ? `${String(at(o, 'involvedObject', 'kind')).toLowerCase()}/${at(o, 'involvedObject', 'name') ?? ''}` : (at(o, 'involvedObject', 'name') ?? '')) },
        { col: { name: 'Subobject', type: 'string', priority: 1 }, cell: (o) => at(o, 'involvedObject', 'fieldPath') ?? '' },
        { col: { name: 'Source', type: 'string', priority: 1 }, cell: (o) => [at(o, 'source', 'component') || o.reportingComponent, at(o, 'source', 'host') || o.reportingInstance].filter(Boolean).join(', ') },
        { col: { name: 'Message', type: 'string' }, cell: (o) => String(o.message ?? '').trim() },
        { col: { name: 'First Seen', type: 'string', priority: 1 }, cell: eventFirstSeen },
        { col: { name: 'Count', type: 'string', priority: 1 }, cell: (o) => at(o, 'series', 'count') ?? o.count ?? 0 },
        { col: { name: 'Name', type: 'string', priority: 1 }, cell: (o) => o.metadata.name },
      ],
    },
    {
      group: 'apps', version: 'v1', resource: 'deployments', kind: 'Deployment', cls: 'V1Deployment', namespaced: true, shortNames: ['deploy'], categories: ['all'], status: true,
      scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.spec.selector' }, generation: true,
      columns: [
        { col: { name: 'Ready', type: 'string', description: 'Number of the pod with ready state' }, cell: (o) => `${at(o, 'status', 'readyReplicas') ?? 0}/${at(o, 'spec', 'replicas') ?? 0}` },
        { col: { name: 'Up-to-date', type: 'integer' }, cell: (o) => at(o, 'status', 'updatedReplicas') ?? 0 },
        { col: { name: 'Available', type: 'integer' }, cell: (o) => at(o, 'status', 'availableReplicas') ?? 0 },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
        { col: { name: 'Containers', type: 'string', priority: 1 }, cell: (o) => arrayOr(at(o, 'spec', 'template', 'spec', 'containers')).map((c) => at(c, 'name')).join(',') },
        { col: { name: 'Images', type: 'string', priority: 1 }, cell: (o) => arrayOr(at(o, 'spec', 'template', 'spec', 'containers')).map((c) => at(c, 'image')).join(',') },
        { col: { name: 'Selector', type: 'string', priority: 1 }, cell: (o) => labelSelectorString(at(o, 'spec', 'selector')) },
      ],
      defaults: defaultDeployment,
      validate: validateDeployment,
    },
    {
      group: 'coordination.k8s.io', version: 'v1', resource: 'leases', kind: 'Lease', cls: 'V1Lease', namespaced: true,
      columns: [
        { col: { name: 'Holder', type: 'string' }, cell: (o) => at(o, 'spec', 'holderIdentity') ?? '' },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
      ],
    },
    {
      group: 'networking.k8s.io', version: 'v1', resource: 'ingresses', kind: 'Ingress', cls: 'V1Ingress', namespaced: true, shortNames: ['ing'], status: true, generation: true, validate: validateIngress,
      columns: [
        { col: { name: 'Class', type: 'string' }, cell: (o) => str(at(o, 'spec', 'ingressClassName')) },
        { col: { name: 'Hosts', type: 'string' }, cell: (o) => arrayOr(at(o, 'spec', 'rules')).map((r) => at(r, 'host') ?? '*').join(',') || '*' },
        { col: { name: 'Address', type: 'string' }, cell: () => '' },
        { col: { name: 'Ports', type: 'string' }, cell: (o) => (arrayOr(at(o, 'spec', 'tls')).length ? '80, 443' : '80') },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
      ],
    },
    { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'roles', kind: 'Role', cls: 'V1Role', namespaced: true },
    { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'rolebindings', kind: 'RoleBinding', cls: 'V1RoleBinding', namespaced: true },
    { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterroles', kind: 'ClusterRole', cls: 'V1ClusterRole', namespaced: false },
    { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterrolebindings', kind: 'ClusterRoleBinding', cls: 'V1ClusterRoleBinding', namespaced: false },
    {
      group: 'policy', version: 'v1', resource: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', cls: 'V1PodDisruptionBudget', namespaced: true, shortNames: ['pdb'], status: true, generation: true,
      columns: [
        { col: { name: 'Min Available', type: 'string' }, cell: (o) => str(at(o, 'spec', 'minAvailable') ?? 'N/A') },
        { col: { name: 'Max Unavailable', type: 'string' }, cell: (o) => str(at(o, 'spec', 'maxUnavailable') ?? 'N/A') },
        { col: { name: 'Allowed Disruptions', type: 'integer' }, cell: (o) => at(o, 'status', 'disruptionsAllowed') ?? 0 },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
      ],
    },
    {
      group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions', kind: 'CustomResourceDefinition', cls: 'V1CustomResourceDefinition', namespaced: false, shortNames: ['crd', 'crds'], categories: ['api-extensions'], status: true, generation: true,
      columns: [{ col: { name: 'Created At', type: 'date' }, cell: (o) => o.metadata.creationTimestamp }],
      defaults: defaultCrd,
    },
  ];
}

/** The classes whose schemas every OpenAPI document carries (for Scale, Status, DeleteOptions...). */
const EXTRA_ROOTS = [
  { cls: 'V1Scale', group: 'autoscaling' },
  { cls: 'V1Status', group: '' },
  { cls: 'V1DeleteOptions', group: '' },
];

export function builtinDefs(allocateIP: () => string): { defs: ResourceDef[]; schemas: BuiltinSchemas } {
  const specs = builtinSpecs(allocateIP);
  const schemas = buildBuiltinSchemas([...specs.map((s) => ({ cls: s.cls, group: s.group })), ...EXTRA_ROOTS]);
  const resolve = (s: J): Schema => {
    let cur = s;
    for (let i = 0; i < 10 && isPlainObject(cur) && cur.$ref; i++) cur = schemas.schemas[String(cur.$ref).replace('#/components/schemas/', '')];
    return isPlainObject(cur) ? cur : {};
  };
  const defs = specs.map((s): ResourceDef => {
    const extraCols = s.columns ?? [{ col: AGE_COL, cell: (o: KubeObject) => age(o.metadata.creationTimestamp) }];
    return {
      group: s.group,
      version: s.version,
      resource: s.resource,
      kind: s.kind,
      listKind: `${s.kind}List`,
      singular: s.kind.toLowerCase(),
      namespaced: s.namespaced,
      shortNames: s.shortNames ?? [],
      categories: s.categories ?? [],
      verbs: ALL_VERBS,
      storage: s.storage ?? `${s.group}/${s.resource}`,
      storageVersion: s.storageVersion ?? (s.group ? `${s.group}/${s.version}` : s.version),
      status: !!s.status,
      scale: s.scale,
      generation: !!s.generation,
      strategicMerge: true,
      // registries with ReturnDeletedObject (and namespaces, which always answer with the object)
      deleteReturnsObject: ['pods', 'namespaces', 'persistentvolumeclaims', 'serviceaccounts'].includes(s.resource),
      schemaName: schemas.nameOf[s.cls]!,
      schema: { root: schemas.schemas[schemas.nameOf[s.cls]!], resolve },
      fieldSelectors: { ...metaFieldSelectors(), ...(s.fieldSelectors ?? {}) },
      columns: [...(s.nameColumn === false ? [] : [NAME_COL]), ...extraCols.map((c) => c.col)],
      // A cell that is not set is what JSON writes it as in a row: null.
      cells: (o) => [...(s.nameColumn === false ? [] : [o.metadata.name]), ...extraCols.map((c) => c.cell(o) ?? null)],
      defaults: s.defaults,
      validate: s.validate,
    };
  });
  return { defs, schemas };
}

export { getPath };
