// ObjectApi: reads and writes objects with kube-apiserver's semantics (defaulting, validation, the four patch types,
// status/scale subresources, generation, managed fields, finalizers, dry run), shared by HTTP handlers and controllers.
import { randomUUID } from 'node:crypto';
import { checkCrdSchemas, prune } from './crd.js';
import { ApiError, type FieldError, badRequest, conflict, forbidden, invalid, notFound, staleConflict, unsupportedMediaType } from './errors.js';
import { type ManagerInfo, trackUpdate } from './managedfields.js';
import { goDecode } from './gojson.js';
import { mergePatch, strategicMergePatch } from './patch.js';
import type { Registry } from './registry.js';
import type { ResourceDef } from './resource.js';
import { type FieldReq, type LabelSelector, matchesFields, matchesLabels } from './selectors.js';
import type { Store } from './store.js';
import { type JsonObject, type JsonValue, type KubeObject, apiVersionOf, arrayOr, at, deepClone, deepEqual, getPath, isPlainObject, labelSelectorOrUndefined, nowTime, objectOr, setPath, withMetadata } from './types.js';
import { validateMeta } from './validation.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export interface WriteOptions {
  dryRun?: boolean;
  /** the field manager recorded in managedFields */
  fieldManager: string;
  fieldValidation?: FieldValidation;
  subresource?: 'status' | 'scale';
}

export interface WriteResult {
  obj: KubeObject;
  warnings: string[];
  /** an apply patch created the object (answered 201) */
  created?: boolean;
}

export interface DeleteOptions {
  propagationPolicy?: 'Background' | 'Orphan';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export interface ListOptions {
  labelSelector?: LabelSelector;
  fieldSelector?: FieldReq[];
}

/** A list as the API answers it: apiVersion and kind of the list, its metadata, and the items with their own. */
export type ObjectList = { apiVersion: string; kind: string; metadata: JsonObject; items: KubeObject[] };

export const PATCH_TYPES = ['application/merge-patch+json', 'application/strategic-merge-patch+json'];
const GENERATE_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

export const randomSuffix = (n = 5): string => Array.from({ length: n }, () => GENERATE_CHARS[Math.floor(Math.random() * GENERATE_CHARS.length)]).join('');

const apiVersionOfDef = (d: ResourceDef): string => apiVersionOf(d.group, d.version);
const gr = (d: ResourceDef) => ({ group: d.group, resource: d.resource });

/** Object without resourceVersion and managedFields timestamps: what "did this write change anything" compares. */
function comparable(o: KubeObject): KubeObject {
  const c = deepClone(o);
  delete c.metadata.resourceVersion;
  c.metadata.managedFields = (c.metadata.managedFields ?? []).map((e) => ({ ...e, time: undefined }));
  return c;
}

/** Metadata a status write cannot change, for built-ins whose status strategy lets other metadata through. */
const STATUS_KEEPS_OLD_META: Record<string, string[]> = { '/pods': ['ownerReferences'], 'apps/deployments': ['labels'] };

/** Everything that makes metadata.generation move: for CRs all but metadata (and status behind a subresource); Deployments also annotations. */
function specOf(def: ResourceDef, o: KubeObject): JsonObject {
  // A custom resource without the status subresource counts status changes too (copyNonMetadata).
  const rest: JsonObject = { ...o, metadata: undefined, status: def.crd && !def.status ? o.status : undefined, apiVersion: undefined, kind: undefined };
  if (def.group === 'apps' && def.resource === 'deployments') rest.annotations = o.metadata?.annotations;
  return rest;
}

/**
 * Reads and writes objects with kube-apiserver's semantics (defaulting, validation, status/scale subresources,
 * generation, managed fields, finalizers). HTTP handlers and the built-in controllers both go through it.
 */
export class ObjectApi {
  constructor(
    readonly store: Store,
    readonly registry: Registry,
  ) {}

  view(def: ResourceDef, stored: KubeObject): KubeObject {
    return def.fromStorage ? def.fromStorage(stored) : stored;
  }

  private storedOf(def: ResourceDef, obj: KubeObject): KubeObject {
    return def.toStorage ? def.toStorage(obj) : obj;
  }

  getStored(def: ResourceDef, ns: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(def.storage, def.namespaced ? ns : undefined, name);
  }

  get(def: ResourceDef, ns: string | undefined, name: string): KubeObject {
    const o = this.getStored(def, ns, name);
    if (!o) throw notFound(gr(def), name);
    return this.view(def, o);
  }

  /** Whole lists: no paging (`limit` is a hint a server may ignore, as kube-apiserver's API conventions allow). */
  list(def: ResourceDef, ns: string | undefined, opts: ListOptions = {}): ObjectList {
    const rv = this.store.currentRv();
    const items = this.store.list(def.storage, def.namespaced ? ns : undefined).filter((o) => this.matches(def, o, opts.labelSelector, opts.fieldSelector));
    return {
      apiVersion: apiVersionOfDef(def),
      kind: def.listKind,
      metadata: { resourceVersion: String(rv) },
      // Items carry no apiVersion or kind of their own (the list's say it), as typed lists serialise.
      items: items.map((o) => ({ ...this.view(def, o), apiVersion: undefined, kind: undefined })),
    };
  }

  matches(def: ResourceDef, stored: KubeObject, labels?: LabelSelector, fields?: FieldReq[]): boolean {
    return (!labels || matchesLabels(labels, stored.metadata.labels)) && (!fields || matchesFields(fields, stored, def.fieldSelectors));
  }

  // ---------------- writes ----------------

  create(def: ResourceDef, ns: string | undefined, body: JsonValue | undefined, opts: WriteOptions): WriteResult {
    if (!isPlainObject(body)) throw badRequest('Object is not a valid JSON object');
    if (def.crd && this.store.get('apiextensions.k8s.io/customresourcedefinitions', undefined, `${def.resource}.${def.group}`)?.metadata.deletionTimestamp) {
      throw new ApiError(405, 'MethodNotAllowed', 'create not allowed while custom resource definition is terminating', { group: def.group, kind: def.resource });
    }
    const warnings: string[] = [];
    const obj = withMetadata(this.decode(def, body, opts.fieldValidation, warnings));
    if (def.namespaced) {
      if (obj.metadata.namespace && ns && obj.metadata.namespace !== ns) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      obj.metadata.namespace = ns ?? obj.metadata.namespace;
      if (!obj.metadata.namespace) throw badRequest('the server could not find the requested resource');
      this.requireNamespace(def, obj.metadata.namespace, obj.metadata.name ?? obj.metadata.generateName ?? '');
    } else delete obj.metadata.namespace;
    if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = `${obj.metadata.generateName}${randomSuffix()}`;
    const m = obj.metadata;
    delete m.resourceVersion;
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    delete m.selfLink;
    m.uid = randomUUID();
    m.creationTimestamp = nowTime();
    if (def.generation) m.generation = 1;
    else delete m.generation;
    if (def.status) delete obj.status;
    if (def.group === 'apiextensions.k8s.io') m.finalizers = [...new Set([...(m.finalizers ?? []), 'customresourcecleanup.apiextensions.k8s.io'])];
    this.defaultAndValidate(def, obj, undefined);
    if (m.name && this.getStored(def, m.namespace, m.name)) {
      throw new ApiError(409, 'AlreadyExists', `${def.group ? `${def.resource}.${def.group}` : def.resource} "${m.name}" already exists`, { name: m.name, ...(def.group ? { group: def.group } : {}), kind: def.resource });
    }
    m.managedFields = trackUpdate(undefined, obj, def.schema.root, this.registry.walker, this.manager(def, opts));
    if (m.managedFields.length === 0) delete m.managedFields;
    if (opts.dryRun) return { obj, warnings };
    const stored = this.store.commit('ADDED', def.storage, this.storedOf(def, obj));
    return { obj: this.view(def, stored), warnings };
  }

  update(def: ResourceDef, ns: string | undefined, name: string, body: JsonValue | undefined, opts: WriteOptions): WriteResult {
    if (!isPlainObject(body)) throw badRequest('Object is not a valid JSON object');
    if (opts.subresource === 'scale') return this.updateScale(def, ns, name, body, opts);
    const old = this.get(def, ns, name);
    const warnings: string[] = [];
    const obj = this.decode(def, body, opts.fieldValidation, warnings);
    const meta = objectOr(obj.metadata);
    if (meta.name && meta.name !== name) throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
    // The object's uid is a storage precondition: a stale copy of a deleted and recreated object conflicts.
    if (meta.uid && meta.uid !== old.metadata.uid) throw conflict(gr(def), name, `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${old.metadata.uid}`);
    // Custom resources allow no unconditional update (customResourceStrategy.AllowUnconditionalUpdate is false).
    if (def.crd && !meta.resourceVersion) {
      const why = 'Invalid value: 0x0: must be specified for an update';
      throw new ApiError(422, 'Invalid', `${def.resource}.${def.group} "${name}" is invalid: metadata.resourceVersion: ${why}`, { name, group: def.group, kind: def.resource, causes: [{ reason: 'FieldValueInvalid', message: why, field: 'metadata.resourceVersion' }] });
    }
    return { obj: this.commitUpdate(def, old, obj, opts), warnings };
  }

  patch(def: ResourceDef, ns: string | undefined, name: string, contentType: string, raw: string, opts: WriteOptions): WriteResult {
    const type = contentType.split(';')[0]!.trim();
    // Custom resources have no strategic merge patch; nothing has JSON patch or server-side apply.
    const accepted = def.strategicMerge ? PATCH_TYPES : PATCH_TYPES.filter((t) => !t.startsWith('application/strategic'));
    if (!accepted.includes(type)) throw unsupportedMediaType(accepted);
    let patch: JsonValue;
    try {
      patch = JSON.parse(raw);
    } catch (e) {
      throw badRequest(`error decoding patch: ${(e as Error).message}`);
    }
    if (opts.subresource === 'scale') {
      const scale = this.getScale(def, ns, name);
      const patched = this.applyPatch(def, type, scale, patch, true);
      return this.updateScale(def, ns, name, patched, opts);
    }
    const old = this.get(def, ns, name);
    const warnings: string[] = [];
    const patched = this.applyPatch(def, type, old, patch, false);
    if (!isPlainObject(patched)) throw new TypeError(`the patched ${def.kind} is not a JSON object`);
    const obj = this.decode(def, patched, opts.fieldValidation, warnings, true);
    const patchedName = at(obj, 'metadata', 'name');
    if (patchedName !== name) throw badRequest(`the name of the object (${patchedName}) does not match the name on the URL (${name})`);
    return { obj: this.commitUpdate(def, old, obj, opts), warnings };
  }

  private applyPatch(def: ResourceDef, type: string, target: JsonValue, patch: JsonValue, scale: boolean): JsonValue | undefined {
    if (!isPlainObject(patch)) throw badRequest('json: cannot unmarshal into Go value of type map[string]interface {}');
    if (type === 'application/merge-patch+json' || scale) return mergePatch(target, patch);
    return strategicMergePatch(target, patch, def.schema.root, this.registry.walker);
  }

  /** Shared tail of update/patch: subresource scoping, metadata carry-over, defaults, generation, commit. */
  private commitUpdate(def: ResourceDef, old: KubeObject, candidate: JsonObject, opts: WriteOptions): KubeObject {
    let next: JsonObject;
    if (opts.subresource === 'status') {
      const oldMeta: JsonObject = deepClone(old.metadata);
      const candidateRv = at(candidate, 'metadata', 'resourceVersion');
      if (candidateRv) oldMeta.resourceVersion = candidateRv;
      next = { ...deepClone(old), metadata: oldMeta, status: candidate.status };
      // Pods' and apps workloads' status strategies take metadata from the request but for what they reset; CRs keep all.
      const reset = STATUS_KEEPS_OLD_META[`${def.group}/${def.resource}`];
      if (reset && isPlainObject(candidate.metadata)) {
        const meta = deepClone(candidate.metadata);
        for (const k of reset) if (old.metadata[k] === undefined) delete meta[k]; else meta[k] = deepClone(old.metadata[k]);
        next.metadata = meta;
      }
    } else {
      next = deepClone(candidate);
      if (def.status) {
        if (old.status === undefined) delete next.status;
        else next.status = deepClone(old.status);
      }
    }
    const obj = withMetadata(next);
    const m = obj.metadata;
    if (m.resourceVersion && m.resourceVersion !== old.metadata.resourceVersion) throw staleConflict(gr(def), old.metadata.name);
    for (const k of ['uid', 'creationTimestamp', 'name', 'namespace', 'generation', 'deletionTimestamp', 'deletionGracePeriodSeconds']) {
      if (old.metadata[k] === undefined) delete m[k];
      else m[k] = old.metadata[k];
    }
    delete m.selfLink;
    if (old.metadata.deletionTimestamp) {
      const added = (m.finalizers ?? []).filter((f) => !(old.metadata.finalizers ?? []).includes(f));
      if (added.length) throw invalid(def.kind, def.group, old.metadata.name, [{ type: 'FieldValueForbidden', field: 'metadata.finalizers', detail: `no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(', ')}}` }]);
    }
    this.defaultAndValidate(def, obj, old);
    if (def.generation && !deepEqual(specOf(def, obj), specOf(def, old))) m.generation = (old.metadata.generation ?? 0) + 1;
    const managed = trackUpdate(old, obj, def.schema.root, this.registry.walker, this.manager(def, opts));
    if (managed.length === 0) delete m.managedFields;
    else m.managedFields = managed;
    m.resourceVersion = old.metadata.resourceVersion;
    if (deepEqual(comparable(obj), comparable(old))) return old;
    if (opts.dryRun) return obj;
    if (m.deletionTimestamp && (m.finalizers ?? []).length === 0) {
      return this.view(def, this.store.commit('DELETED', def.storage, this.storedOf(def, obj), this.storedOf(def, old)));
    }
    return this.view(def, this.store.commit('MODIFIED', def.storage, this.storedOf(def, obj), this.storedOf(def, old)));
  }

  private manager(def: ResourceDef, opts: WriteOptions): ManagerInfo {
    return { manager: opts.fieldManager, apiVersion: apiVersionOfDef(def), subresource: opts.subresource };
  }

  /** Fills apiVersion/kind from the endpoint, rejects mismatches, prunes unknown fields per fieldValidation. */
  private decode(def: ResourceDef, body: JsonObject, fv: FieldValidation | undefined, warnings: string[], patched = false): JsonObject {
    const obj = deepClone(body);
    obj.apiVersion ??= apiVersionOfDef(def);
    obj.kind ??= def.kind;
    if (obj.apiVersion !== apiVersionOfDef(def)) throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersionOfDef(def)})`);
    if (obj.kind !== def.kind) throw badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${def.kind})`);
    if (obj.metadata !== undefined && !isPlainObject(obj.metadata)) throw badRequest(`${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: json: cannot unmarshal ${typeof obj.metadata} into Go struct field ${def.kind}.metadata of type v1.ObjectMeta`);
    // Built-in types are Go structs: a value of the wrong JSON type fails decoding (custom resources validate instead).
    const typeError = def.crd ? undefined : goDecode(obj, def.schema.root, (s) => this.registry.resolve(s), def.kind);
    if (typeError) throw badRequest(`${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: ${typeError}`);
    const unknown: string[] = [];
    prune(obj, def.schema.root, [], unknown, (s) => this.registry.resolve(s));
    this.reportUnknown(def, unknown, fv, warnings, patched);
    return obj;
  }

  private reportUnknown(def: ResourceDef, unknown: string[], fv: FieldValidation | undefined, warnings: string[], patched = false): void {
    if (unknown.length === 0 || fv === 'Ignore') return;
    if (fv === 'Strict') {
      // Patches report the bare strict decoding error (the patcher's NewBadRequest), bodies the decoder's wrapped one.
      const strict = `strict decoding error: ${unknown.map((u) => `unknown field "${u}"`).join(', ')}`;
      throw badRequest(patched ? strict : `${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: ${strict}`);
    }
    for (const u of unknown) warnings.push(`unknown field "${u}"`);
  }

  private defaultAndValidate(def: ResourceDef, obj: KubeObject, old: KubeObject | undefined): void {
    // ObjectMeta's fields are all omitempty: empty strings, maps and lists do not survive its Go round trip.
    for (const [k, v] of Object.entries(obj.metadata)) if (v === '' || (Array.isArray(v) && v.length === 0) || (isPlainObject(v) && Object.keys(v).length === 0)) delete obj.metadata[k];
    def.defaults?.(obj, old);
    def.crd?.applyDefaults(obj);
    const errs: FieldError[] = [...validateMeta(def, obj), ...(def.validate?.(obj, old) ?? []), ...(def.crd?.validate(obj, old) ?? [])];
    if (def.group === 'apiextensions.k8s.io' && def.resource === 'customresourcedefinitions') errs.push(...validateCrdObject(obj, old));
    if (errs.length) throw invalid(def.kind, def.group, obj.metadata?.name ?? '', errs);
  }

  private requireNamespace(def: ResourceDef, ns: string, name: string): void {
    const nsObj = this.store.get('/namespaces', undefined, ns);
    if (!nsObj) throw notFound({ group: '', resource: 'namespaces' }, ns);
    if (nsObj.metadata.deletionTimestamp) {
      throw new ApiError(403, 'Forbidden', `${def.group ? `${def.resource}.${def.group}` : def.resource} "${name}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`, {
        name,
        ...(def.group ? { group: def.group } : {}),
        kind: def.resource,
        causes: [{ reason: 'NamespaceTerminating', message: `namespace ${ns} is being terminated`, field: 'metadata.namespace' }],
      });
    }
  }

  // ---------------- scale ----------------

  getScale(def: ResourceDef, ns: string | undefined, name: string): KubeObject {
    if (!def.scale) throw notFound(gr(def), name);
    const o = this.get(def, ns, name);
    const sel = def.scale.labelSelectorPath ? getPath(o, def.scale.labelSelectorPath) : undefined;
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name: o.metadata.name, namespace: o.metadata.namespace, uid: o.metadata.uid, resourceVersion: o.metadata.resourceVersion, creationTimestamp: o.metadata.creationTimestamp },
      spec: { replicas: getPath(o, def.scale.specReplicasPath) ?? 0 },
      status: { replicas: getPath(o, def.scale.statusReplicasPath) ?? 0, ...(sel !== undefined ? { selector: labelSelectorOrUndefined(sel) } : {}) },
    };
  }

  private updateScale(def: ResourceDef, ns: string | undefined, name: string, scale: JsonValue | undefined, opts: WriteOptions): WriteResult {
    if (!def.scale) throw notFound(gr(def), name);
    const old = this.get(def, ns, name);
    const replicas = at(scale, 'spec', 'replicas');
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) throw invalid('Scale', 'autoscaling', name, [{ type: 'FieldValueInvalid', field: 'spec.replicas', value: replicas ?? null, detail: 'must be greater than or equal to 0' }]);
    const scaleRv = at(scale, 'metadata', 'resourceVersion');
    if (scaleRv && scaleRv !== old.metadata.resourceVersion) throw staleConflict(gr(def), name);
    const next = deepClone(old);
    setPath(next, def.scale.specReplicasPath, replicas);
    this.commitUpdate(def, old, next, { ...opts, subresource: undefined, fieldManager: opts.fieldManager });
    return { obj: this.getScale(def, ns, name), warnings: [] };
  }

  // ---------------- delete ----------------

  /** Returns the object as it is after the request and whether deletion is still pending on finalizers. */
  delete(def: ResourceDef, ns: string | undefined, name: string, opts: DeleteOptions = {}): { obj: KubeObject; pending: boolean } {
    const old = this.get(def, ns, name);
    const pre = opts.preconditions ?? {};
    if (pre.uid && pre.uid !== old.metadata.uid) throw conflict(gr(def), name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`);
    if (pre.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) throw conflict(gr(def), name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`);
    const next = deepClone(old);
    const fin = [...(next.metadata.finalizers ?? [])];
    if (!old.metadata.deletionTimestamp) {
      if (opts.propagationPolicy === 'Orphan' && !fin.includes('orphan')) fin.push('orphan');
    }
    const isNamespace = def.group === '' && def.resource === 'namespaces';
    if (fin.length === 0 && !isNamespace) {
      if (opts.dryRun) return { obj: old, pending: false };
      const gone = this.store.commit('DELETED', def.storage, this.storedOf(def, next), this.storedOf(def, old));
      return { obj: this.view(def, gone), pending: false };
    }
    if (old.metadata.deletionTimestamp) return { obj: old, pending: true };
    next.metadata.finalizers = fin.length ? fin : undefined;
    next.metadata.deletionTimestamp = nowTime();
    next.metadata.deletionGracePeriodSeconds = 0;
    if (isNamespace) next.status = { ...objectOr(next.status), phase: 'Terminating' };
    if (def.generation) next.metadata.generation = (old.metadata.generation ?? 0) + 1;
    if (opts.dryRun) return { obj: next, pending: true };
    const stored = this.store.commit('MODIFIED', def.storage, this.storedOf(def, next), this.storedOf(def, old));
    return { obj: this.view(def, stored), pending: true };
  }

  /** Deletes a fully finalized object (namespaces after their content is gone). */
  finalize(def: ResourceDef, stored: KubeObject): void {
    if (this.store.get(def.storage, stored.metadata.namespace, stored.metadata.name)) this.store.commit('DELETED', def.storage, stored, stored);
  }
}

/** CRD-specific checks: name = plural.group, one storage version, and compilable schemas (incl. CEL). */
function validateCrdObject(crd: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const s = objectOr(crd.spec);
  const names = objectOr(s.names);
  if (!s.group) errs.push({ type: 'FieldValueRequired', field: 'spec.group', detail: '' });
  if (!names.plural) errs.push({ type: 'FieldValueRequired', field: 'spec.names.plural', detail: '' });
  if (!names.kind) errs.push({ type: 'FieldValueRequired', field: 'spec.names.kind', detail: '' });
  if (s.scope !== 'Namespaced' && s.scope !== 'Cluster') errs.push({ type: 'FieldValueNotSupported', field: 'spec.scope', value: s.scope ?? '', detail: 'supported values: "Cluster", "Namespaced"' });
  if (names.plural && s.group && crd.metadata.name !== `${names.plural}.${s.group}`) {
    errs.push({ type: 'FieldValueInvalid', field: 'metadata.name', value: crd.metadata.name, detail: 'must be spec.names.plural+"."+spec.group' });
  }
  const versions = arrayOr(s.versions);
  if (versions.length === 0) errs.push({ type: 'FieldValueInvalid', field: 'spec.versions', value: versions, detail: 'must have exactly one version marked as storage version' });
  else if (versions.filter((v) => at(v, 'storage')).length !== 1) errs.push({ type: 'FieldValueInvalid', field: 'spec.versions', value: versions, detail: 'must have exactly one version marked as storage version' });
  if (old && at(old, 'spec', 'group') !== s.group) errs.push({ type: 'FieldValueInvalid', field: 'spec.group', value: s.group, detail: 'field is immutable' });
  errs.push(...checkCrdSchemas(crd));
  return errs;
}

export { forbidden };
