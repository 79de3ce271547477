// Field ownership and server-side apply after structured-merge-diff: metadata.managedFields (FieldsV1) updated on
// every write, and apply merged by the schema's list/map types with removed fields dropped and conflicts reported.
import { ApiError } from './errors.js';
import type { SchemaWalker } from './patch.js';
import { type JsonObject, type JsonValue, type KubeObject, type Schema, arrayOr, at, deepClone, deepEqual, isPlainObject, nowTime, objectOr } from './types.js';

type J = JsonValue | undefined;

/**
 * Field ownership (metadata.managedFields, FieldsV1) and server-side apply, after sigs.k8s.io/structured-merge-diff:
 * every write records which manager set which fields; apply merges a configuration by the schema's list and map
 * types, removes fields the applier stopped applying, and reports conflicts with other managers' values.
 */

type PE = string;
type FieldPath = PE[];
type FieldSet = Set<string>;

const key = (p: FieldPath): string => JSON.stringify(p);
const unkey = (k: string): FieldPath => JSON.parse(k);

const TRACKED_META = new Set(['labels', 'annotations', 'finalizers', 'ownerReferences']);

function keyFields(item: J, keys: string[]): JsonObject {
  return Object.fromEntries([...keys].sort().filter((k) => at(item, k) !== undefined).map((k) => [k, at(item, k)]));
}

/** A text field of a managedFields entry as sent (dflt where it is not set). */
const text = (v: J, dflt: string): string => (v === undefined || v === null ? dflt : String(v));

/** The leaf fields an object sets, as structured-merge-diff sees them. `scope` limits to main or status fields. */
export function fieldsOf(obj: J, schema: Schema | undefined, w: SchemaWalker, scope: 'main' | 'status'): FieldSet {
  const out: FieldSet = new Set();
  const walk = (v: J, s: Schema | undefined, path: FieldPath): void => {
    if (isPlainObject(v)) {
      if (path.length > 0 && (Object.keys(v).length === 0 || s?.['x-kubernetes-map-type'] === 'atomic')) {
        out.add(key(path));
        return;
      }
      for (const [k, child] of Object.entries(v)) {
        if (child === undefined) continue;
        if (path.length === 0) {
          if (k === 'apiVersion' || k === 'kind') continue;
          if ((k === 'status') !== (scope === 'status')) continue;
        }
        if (path.length === 1 && path[0] === 'f:metadata' && !TRACKED_META.has(k)) continue;
        walk(child, w.child(s, k), [...path, `f:${k}`]);
      }
      return;
    }
    if (Array.isArray(v)) {
      const lt = s?.['x-kubernetes-list-type'];
      if (lt === 'map') {
        const keys = arrayOr(s?.['x-kubernetes-list-map-keys']).map(String);
        const itemSchema = w.items(s);
        for (const item of v) {
          const pe = `k:${JSON.stringify(keyFields(item, keys))}`;
          out.add(key([...path, pe, '.']));
          if (isPlainObject(item)) for (const [k, c] of Object.entries(item)) walk(c, w.child(itemSchema, k), [...path, pe, `f:${k}`]);
        }
        return;
      }
      if (lt === 'set') {
        for (const item of v) out.add(key([...path, `v:${JSON.stringify(item)}`]));
        return;
      }
    }
    out.add(key(path));
  };
  walk(obj, schema, []);
  return out;
}

/** Finds the value a field path names (undefined when absent). */
function valueAt(obj: J, path: FieldPath): J {
  let cur = obj;
  for (const pe of path) {
    if (pe === '.') return cur;
    if (pe.startsWith('f:')) cur = isPlainObject(cur) ? cur[pe.slice(2)] : undefined;
    else if (pe.startsWith('k:')) {
      const want: JsonValue = JSON.parse(pe.slice(2));
      cur = Array.isArray(cur) ? cur.find((it) => Object.entries(objectOr(want)).every(([k, v]) => deepEqual(at(it, k), v))) : undefined;
    } else if (pe.startsWith('v:')) {
      const want: JsonValue = JSON.parse(pe.slice(2));
      cur = Array.isArray(cur) && cur.some((x) => deepEqual(x, want)) ? want : undefined;
    }
    if (cur === undefined) return undefined;
  }
  return cur;
}

function removePath(obj: J, path: FieldPath): void {
  const last = path[path.length - 1] === '.' ? path.length - 2 : path.length - 1;
  if (last < 0) return;
  const parent = valueAt(obj, path.slice(0, last));
  const pe = path[last]!;
  if (pe.startsWith('f:') && isPlainObject(parent)) delete parent[pe.slice(2)];
  else if (Array.isArray(parent)) {
    const want: JsonValue = JSON.parse(pe.slice(2));
    const idx = pe.startsWith('k:')
      ? parent.findIndex((it) => Object.entries(objectOr(want)).every(([k, v]) => deepEqual(at(it, k), v)))
      : parent.findIndex((x) => deepEqual(x, want));
    if (idx >= 0 && (path[path.length - 1] === '.' || pe.startsWith('v:'))) parent.splice(idx, 1);
  }
}

export function toFieldsV1(set: FieldSet): JsonObject {
  const root: JsonObject = {};
  for (const k of [...set].sort()) {
    let cur = root;
    for (const pe of unkey(k)) {
      const next = cur[pe];
      cur = isPlainObject(next) ? next : (cur[pe] = {});
    }
  }
  return root;
}

export function fromFieldsV1(tree: J): FieldSet {
  const out: FieldSet = new Set();
  const walk = (node: J, path: FieldPath): void => {
    const o = objectOr(node);
    const keys = Object.keys(o);
    if (keys.length === 0 && path.length > 0) out.add(key(path));
    for (const k of keys) {
      if (k === '.') out.add(key([...path, '.']));
      else walk(o[k], [...path, k]);
    }
  };
  walk(tree, []);
  return out;
}

interface Entry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  subresource?: string;
  set: FieldSet;
}

function parseEntries(mf: J): Entry[] {
  return arrayOr(mf).map(objectOr).map((e) => ({
    manager: text(e.manager, ''),
    operation: e.operation === 'Apply' ? 'Apply' : 'Update',
    apiVersion: text(e.apiVersion, ''),
    time: text(e.time, nowTime()),
    subresource: e.subresource ? String(e.subresource) : undefined,
    set: fromFieldsV1(e.fieldsV1),
  }));
}

function renderEntries(entries: Entry[]): JsonObject[] {
  return entries
    .filter((e) => e.set.size > 0)
    .map((e) => ({
      manager: e.manager,
      operation: e.operation,
      apiVersion: e.apiVersion,
      time: e.time,
      fieldsType: 'FieldsV1',
      fieldsV1: toFieldsV1(e.set),
      ...(e.subresource ? { subresource: e.subresource } : {}),
    }));
}

function findOrAdd(entries: Entry[], manager: string, operation: Entry['operation'], apiVersion: string, subresource?: string): Entry {
  let e = entries.find((x) => x.manager === manager && x.operation === operation && (x.subresource ?? '') === (subresource ?? ''));
  if (!e) entries.push((e = { manager, operation, apiVersion, time: nowTime(), subresource, set: new Set() }));
  return e;
}

export interface ManagerInfo {
  manager: string;
  apiVersion: string;
  subresource?: 'status' | 'scale';
}

/** Updates ownership after a non-apply write (create, update, patch): the writer owns what it changed. */
export function trackUpdate(old: KubeObject | undefined, next: KubeObject, schema: Schema | undefined, w: SchemaWalker, who: ManagerInfo): JsonObject[] {
  const scope = who.subresource === 'status' ? 'status' : 'main';
  const oldSet = old ? fieldsOf(old, schema, w, scope) : new Set<string>();
  const newSet = fieldsOf(next, schema, w, scope);
  const changed = [...newSet].filter((p) => !oldSet.has(p) || !deepEqual(valueAt(old, unkey(p)), valueAt(next, unkey(p))));
  const removed = [...oldSet].filter((p) => !newSet.has(p));
  const base = next.metadata?.managedFields !== undefined && !deepEqual(next.metadata.managedFields, old?.metadata?.managedFields) ? next.metadata.managedFields : old?.metadata?.managedFields;
  const entries = parseEntries(base);
  if (changed.length === 0 && removed.length === 0) return renderEntries(entries);
  for (const e of entries) for (const p of [...changed, ...removed]) e.set.delete(p);
  const me = findOrAdd(entries, who.manager, 'Update', who.apiVersion, who.subresource);
  for (const p of changed) me.set.add(p);
  me.time = nowTime();
  me.apiVersion = who.apiVersion;
  return renderEntries(entries);
}

/** Merges an applied configuration into the live object following list-map/set/atomic semantics. */
function ssaMerge(live: J, cfg: JsonValue, s: Schema | undefined, w: SchemaWalker): JsonValue {
  if (isPlainObject(cfg)) {
    if (s?.['x-kubernetes-map-type'] === 'atomic' || !isPlainObject(live)) return deepClone(cfg);
    const out: JsonObject = { ...live };
    for (const [k, v] of Object.entries(cfg)) {
      if (v === null) delete out[k];
      else out[k] = v === undefined ? undefined : ssaMerge(live[k], v, w.child(s, k), w);
    }
    return out;
  }
  if (Array.isArray(cfg) && Array.isArray(live)) {
    const lt = s?.['x-kubernetes-list-type'];
    if (lt === 'map') {
      const keys = arrayOr(s?.['x-kubernetes-list-map-keys']).map(String);
      const out = [...live];
      for (const item of cfg) {
        const id = keyFields(item, keys);
        const i = out.findIndex((x) => deepEqual(keyFields(x, keys), id));
        if (i >= 0) out[i] = ssaMerge(out[i], item, w.items(s), w);
        else out.push(deepClone(item));
      }
      return out;
    }
    if (lt === 'set') return [...live, ...cfg.filter((x) => !live.some((y) => deepEqual(x, y)))];
  }
  return deepClone(cfg);
}

function renderField(p: FieldPath): string {
  return p
    .filter((pe) => pe !== '.')
    .map((pe) => {
      if (pe.startsWith('f:')) return `.${pe.slice(2)}`;
      if (pe.startsWith('k:')) return `[${Object.entries(objectOr(JSON.parse(pe.slice(2)) as JsonValue)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}]`;
      return `[=${pe.slice(2)}]`;
    })
    .join('');
}

export interface ApplyTarget {
  group: string;
  kind: string;
  name: string;
}

/** Server-side apply of `cfg` onto `live` (undefined: create). Returns the merged object with managedFields set. */
export function applyConfig(live: KubeObject | undefined, cfg: JsonObject, schema: Schema | undefined, w: SchemaWalker, who: ManagerInfo, force: boolean, target: ApplyTarget): JsonObject {
  const scope = who.subresource === 'status' ? 'status' : 'main';
  const cfgSet = fieldsOf(cfg, schema, w, scope);
  const entries = parseEntries(live?.metadata?.managedFields);
  const me = findOrAdd(entries, who.manager, 'Apply', who.apiVersion, who.subresource);
  const conflicts: Array<{ e: Entry; p: string }> = [];
  for (const e of entries) {
    if (e === me) continue;
    for (const p of cfgSet) {
      const path = unkey(p);
      if (path[path.length - 1] === '.' || !e.set.has(p)) continue;
      if (!deepEqual(valueAt(cfg, path), valueAt(live, path))) conflicts.push({ e, p });
    }
  }
  if (conflicts.length && !force) {
    const byMgr = new Map<Entry, string[]>();
    for (const c of conflicts) byMgr.set(c.e, [...(byMgr.get(c.e) ?? []), renderField(unkey(c.p))]);
    // As fieldmanager's printManager: apply managers by name; update managers with their apiVersion.
    const printed = (e: Entry) => `"${e.manager}"${e.subresource ? ` with subresource "${e.subresource}"` : ''}${e.operation === 'Update' ? ` using ${e.apiVersion}` : ''}`;
    const byKey = (a: Entry, b: Entry) => `${a.manager}\0${a.operation}`.localeCompare(`${b.manager}\0${b.operation}`);
    const parts = [...byMgr.entries()].sort(([a], [b]) => byKey(a, b)).map(([e, fields]) => (conflicts.length === 1 ? `conflict with ${printed(e)}: ${fields[0]}` : `conflicts with ${printed(e)}:\n- ${fields.join('\n- ')}`));
    throw new ApiError(409, 'Conflict', `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? 's' : ''}: ${parts.join('\n')}`, {
      name: target.name,
      ...(target.group ? { group: target.group } : {}),
      kind: target.kind,
      causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${printed(c.e)}`, field: renderField(unkey(c.p)) })),
    });
  }
  for (const c of conflicts) c.e.set.delete(c.p);
  const scoped = scope === 'status' ? { status: cfg.status } : Object.fromEntries(Object.entries(cfg).filter(([k]) => k !== 'status'));
  // An object merged into an object: an object (objectOr only tells the compiler).
  const merged = objectOr(ssaMerge(live ?? {}, scoped, schema, w));
  const others = entries.filter((e) => e !== me);
  for (const p of me.set) {
    if (cfgSet.has(p) || others.some((e) => e.set.has(p))) continue;
    removePath(merged, unkey(p));
  }
  me.set = cfgSet;
  me.time = nowTime();
  me.apiVersion = who.apiVersion;
  const meta = isPlainObject(merged.metadata) ? merged.metadata : (merged.metadata = {});
  meta.managedFields = renderEntries(entries);
  return merged;
}
