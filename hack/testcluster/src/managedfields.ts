// Field ownership after structured-merge-diff: metadata.managedFields (FieldsV1) updated on every write. No
// server-side apply: the apply patch type is not served (415).
import type { SchemaWalker } from './patch.js';
import { type JsonObject, type JsonValue, type KubeObject, type Schema, arrayOr, at, deepEqual, isPlainObject, nowTime, objectOr } from './types.js';

type J = JsonValue | undefined;

/**
 * Field ownership (metadata.managedFields, FieldsV1), after sigs.k8s.io/structured-merge-diff: every write records
 * which manager set which fields.
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
