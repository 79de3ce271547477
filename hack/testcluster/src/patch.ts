// The apiserver's patch types on JSON objects: RFC 7386 merge patch, RFC 6902 JSON patch (test included) and strategic
// merge patch driven by the schema's patch strategies and merge keys. Pure: results are new objects.
import { ApiError, badRequest } from './errors.js';
import { type JsonArray, type JsonObject, type JsonValue, type Schema, arrayOr, asArray, asString, deepClone, deepEqual, isPlainObject, objectOr } from './types.js';

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

const unprocessable = (why: string): ApiError =>
  new ApiError(422, 'Invalid', 'the server rejected our request due to an error in our request', { causes: [{ reason: 'UnexpectedServerResponse', message: why }] });

function parsePointer(p: string): string[] {
  if (p === '') return [];
  if (!p.startsWith('/')) throw unprocessable(`invalid JSON pointer ${JSON.stringify(p)}`);
  return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function locate(doc: J, path: string[], op: string, full: string): { parent: JsonArray | JsonObject; key: string } {
  let cur = doc;
  for (const seg of path.slice(0, -1)) {
    cur = Array.isArray(cur) ? cur[Number(seg)] : isPlainObject(cur) ? cur[seg] : undefined;
    if (cur === undefined) throw unprocessable(`doc is missing path: "${full}": missing value`);
  }
  if (!Array.isArray(cur) && !isPlainObject(cur)) throw unprocessable(`${op} operation does not apply: doc is missing path: "${full}": missing value`);
  return { parent: cur, key: path[path.length - 1]! };
}

function getAt(doc: J, p: string, op: string): J {
  let cur = doc;
  for (const seg of parsePointer(p)) {
    cur = Array.isArray(cur) ? cur[Number(seg)] : isPlainObject(cur) ? cur[seg] : undefined;
    if (cur === undefined) throw unprocessable(`${op} operation does not apply: doc is missing path: "${p}": missing value`);
  }
  return cur;
}

function removeAt(doc: J, p: string, op: string): J {
  const { parent, key } = locate(doc, parsePointer(p), op, p);
  if (Array.isArray(parent)) {
    const i = Number(key);
    if (!Number.isInteger(i) || i < 0 || i >= parent.length) throw unprocessable(`${op} operation does not apply: doc is missing path: "${p}": missing value`);
    return parent.splice(i, 1)[0];
  }
  if (!(key in parent)) throw unprocessable(`${op} operation does not apply: doc is missing path: "${p}": missing value`);
  const v = parent[key];
  delete parent[key];
  return v;
}

function addAt(doc: J, p: string, value: J, replace: boolean): J {
  const path = parsePointer(p);
  if (path.length === 0) return deepClone(value);
  const { parent, key } = locate(doc, path, replace ? 'replace' : 'add', p);
  if (Array.isArray(parent)) {
    const i = key === '-' ? parent.length : Number(key);
    if (!Number.isInteger(i) || i < 0 || i > parent.length || (replace && i >= parent.length)) throw unprocessable(`${replace ? 'replace' : 'add'} operation does not apply: doc is missing path: "${p}": missing value`);
    // An item without a value is what JSON writes it as: null.
    const item = value === undefined ? null : deepClone(value);
    if (replace) parent[i] = item;
    else parent.splice(i, 0, item);
  } else {
    if (replace && !(key in parent)) throw unprocessable(`replace operation does not apply: doc is missing key: ${p}: missing value`);
    parent[key] = deepClone(value);
  }
  return doc;
}

/** RFC 6902 JSON patch, including `test`. */
export function jsonPatch(target: J, ops: J): J {
  if (!Array.isArray(ops)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let doc = deepClone(target);
  for (const op of ops.map(objectOr)) {
    const p = String(op.path ?? '');
    switch (op.op) {
      case 'add': doc = addAt(doc, p, op.value, false); break;
      case 'replace': doc = addAt(doc, p, op.value, true); break;
      case 'remove': removeAt(doc, p, 'remove'); break;
      case 'move': {
        const v = removeAt(doc, String(op.from), 'move');
        doc = addAt(doc, p, v, false);
        break;
      }
      case 'copy': doc = addAt(doc, p, deepClone(getAt(doc, String(op.from), 'copy')), false); break;
      case 'test':
        if (!deepEqual(getAt(doc, p, 'test'), op.value)) throw unprocessable(`testing value ${p} failed: test failed`);
        break;
      default: throw unprocessable(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return doc;
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
