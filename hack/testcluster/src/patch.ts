// The apiserver's patch types on JSON objects: RFC 7386 merge patch and strategic merge patch driven by the schema's
// patch strategies and merge keys (no RFC 6902 JSON patch: it is not served). Pure: results are new objects.
import { type JsonArray, type JsonObject, type JsonValue, type Schema, arrayOr, asArray, asString, deepClone, deepEqual, isPlainObject } from './types.js';

type J = JsonValue | undefined;

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: J, patch: J): J {
  if (!isPlainObject(patch)) return deepClone(patch);
  const out: JsonObject = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Schema lookup used by strategic merge patch: returns the (ref-resolved) schema of a child. */
export interface SchemaWalker {
  child(schema: Schema | undefined, key: string): Schema | undefined;
  items(schema: Schema | undefined): Schema | undefined;
}

/** Strategic merge patch for built-in types, driven by x-kubernetes-patch-strategy/merge-key in their schemas. */
export function strategicMergePatch(orig: J, patch: J, schema: Schema | undefined, w: SchemaWalker): J {
  if (!isPlainObject(patch)) return deepClone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return deepClone(rest);
  }
  if (patch.$patch === 'delete') return undefined;
  const out: JsonObject = isPlainObject(orig) ? { ...orig } : {};
  const retainKeys = asArray(patch.$retainKeys);
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$retainKeys' || k === '$patch') continue;
    if (k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      const list = out[field];
      if (Array.isArray(list)) out[field] = list.filter((x) => !arrayOr(v).some((d) => deepEqual(d, x)));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const childSchema = w.child(schema, k);
    if (Array.isArray(v)) out[k] = mergeList(out[k], v, childSchema, w);
    else if (isPlainObject(v)) {
      const merged = strategicMergePatch(out[k], v, childSchema, w);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else out[k] = v;
  }
  for (const [k, order] of Object.entries(patch)) {
    const field = k.slice(17);
    const list = out[field];
    if (!k.startsWith('$setElementOrder/') || !Array.isArray(list)) continue;
    const key = asString(w.child(schema, field)?.['x-kubernetes-patch-merge-key']);
    const id = (x: J): string => JSON.stringify(key && isPlainObject(x) ? x[key] : x);
    const rank = new Map(arrayOr(order).map((o, i) => [id(o), i]));
    out[field] = [...list].sort((a, b) => (rank.get(id(a)) ?? Infinity) - (rank.get(id(b)) ?? Infinity));
  }
  if (retainKeys) for (const k of Object.keys(out)) if (!retainKeys.includes(k)) delete out[k];
  return out;
}

function mergeList(orig: J, patch: JsonArray, schema: Schema | undefined, w: SchemaWalker): JsonArray {
  const strategy = String(schema?.['x-kubernetes-patch-strategy'] ?? '');
  if (!strategy.split(',').includes('merge')) return deepClone(patch.filter((p) => !(isPlainObject(p) && p.$patch)));
  if (patch.some((p) => isPlainObject(p) && p.$patch === 'replace')) return deepClone(patch.filter((p) => !(isPlainObject(p) && p.$patch)));
  const key = asString(schema?.['x-kubernetes-patch-merge-key']);
  const out: JsonArray = Array.isArray(orig) ? [...orig] : [];
  const itemSchema = w.items(schema);
  for (const p of patch) {
    if (!key || !isPlainObject(p)) {
      if (!out.some((x) => deepEqual(x, p))) out.push(deepClone(p));
      continue;
    }
    const i = out.findIndex((x) => isPlainObject(x) && x[key] === p[key]);
    if (p.$patch === 'delete') {
      if (i >= 0) out.splice(i, 1);
      continue;
    }
    // p is an object without $patch: delete, so its merge is an object.
    if (i >= 0) out[i] = strategicMergePatch(out[i], p, itemSchema, w) ?? null;
    else out.push(strategicMergePatch({}, p, itemSchema, w) ?? null);
  }
  return out;
}
