// The apiserver's patch types on JSON objects: RFC 7386 merge patch, RFC 6902 JSON patch (test included) and strategic
// merge patch driven by the schema's patch strategies and merge keys. Pure: results are new objects.
import { ApiError, badRequest } from './errors.js';
import { type Json, deepClone, deepEqual, isPlainObject } from './types.js';

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isPlainObject(patch)) return deepClone(patch);
  const out: Json = isPlainObject(target) ? { ...target } : {};
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

function locate(doc: Json, path: string[], op: string, full: string): { parent: Json; key: string } {
  let cur = doc;
  for (const seg of path.slice(0, -1)) {
    cur = Array.isArray(cur) ? cur[Number(seg)] : isPlainObject(cur) ? cur[seg] : undefined;
    if (cur === undefined) throw unprocessable(`doc is missing path: "${full}": missing value`);
  }
  if (!Array.isArray(cur) && !isPlainObject(cur)) throw unprocessable(`${op} operation does not apply: doc is missing path: "${full}": missing value`);
  return { parent: cur, key: path[path.length - 1]! };
}

function getAt(doc: Json, p: string, op: string): Json {
  let cur = doc;
  for (const seg of parsePointer(p)) {
    cur = Array.isArray(cur) ? cur[Number(seg)] : isPlainObject(cur) ? cur[seg] : undefined;
    if (cur === undefined) throw unprocessable(`${op} operation does not apply: doc is missing path: "${p}": missing value`);
  }
  return cur;
}

function removeAt(doc: Json, p: string, op: string): Json {
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

function addAt(doc: Json, p: string, value: Json, replace: boolean): Json {
  const path = parsePointer(p);
  if (path.length === 0) return deepClone(value);
  const { parent, key } = locate(doc, path, replace ? 'replace' : 'add', p);
  if (Array.isArray(parent)) {
    const i = key === '-' ? parent.length : Number(key);
    if (!Number.isInteger(i) || i < 0 || i > parent.length || (replace && i >= parent.length)) throw unprocessable(`${replace ? 'replace' : 'add'} operation does not apply: doc is missing path: "${p}": missing value`);
    if (replace) parent[i] = deepClone(value);
    else parent.splice(i, 0, deepClone(value));
  } else {
    if (replace && !(key in parent)) throw unprocessable(`replace operation does not apply: doc is missing key: ${p}: missing value`);
    parent[key] = deepClone(value);
  }
  return doc;
}

/** RFC 6902 JSON patch, including `test`. */
export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let doc = deepClone(target);
  for (const op of ops) {
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
      default: throw unprocessable(`Unexpected kind: ${op.op}`);
    }
  }
  return doc;
}

/** Schema lookup used by strategic merge patch: returns the (ref-resolved) schema of a child. */
export interface SchemaWalker {
  child(schema: Json, key: string): Json;
  items(schema: Json): Json;
}

/** Strategic merge patch for built-in types, driven by x-kubernetes-patch-strategy/merge-key in their schemas. */
export function strategicMergePatch(orig: Json, patch: Json, schema: Json, w: SchemaWalker): Json {
  if (!isPlainObject(patch)) return deepClone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return deepClone(rest);
  }
  if (patch.$patch === 'delete') return undefined;
  const out: Json = isPlainObject(orig) ? { ...orig } : {};
  const retainKeys: string[] | undefined = patch.$retainKeys;
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$retainKeys' || k === '$patch') continue;
    if (k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[field])) out[field] = out[field].filter((x: Json) => !(v as Json[]).some((d) => deepEqual(d, x)));
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
    if (!k.startsWith('$setElementOrder/') || !Array.isArray(out[k.slice(17)])) continue;
    const field = k.slice(17);
    const key: string | undefined = w.child(schema, field)?.['x-kubernetes-patch-merge-key'];
    const id = (x: Json): string => JSON.stringify(key && isPlainObject(x) ? x[key] : x);
    const rank = new Map((order as Json[]).map((o, i) => [id(o), i]));
    out[field] = [...out[field]].sort((a, b) => (rank.get(id(a)) ?? Infinity) - (rank.get(id(b)) ?? Infinity));
  }
  if (retainKeys) for (const k of Object.keys(out)) if (!retainKeys.includes(k)) delete out[k];
  return out;
}

function mergeList(orig: Json, patch: Json[], schema: Json, w: SchemaWalker): Json[] {
  const strategy = String(schema?.['x-kubernetes-patch-strategy'] ?? '');
  if (!strategy.split(',').includes('merge')) return deepClone(patch.filter((p) => !(isPlainObject(p) && p.$patch)));
  if (patch.some((p) => isPlainObject(p) && p.$patch === 'replace')) return deepClone(patch.filter((p) => !(isPlainObject(p) && p.$patch)));
  const key: string | undefined = schema['x-kubernetes-patch-merge-key'];
  const out: Json[] = Array.isArray(orig) ? [...orig] : [];
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
    if (i >= 0) out[i] = strategicMergePatch(out[i], p, itemSchema, w);
    else out.push(strategicMergePatch({}, p, itemSchema, w));
  }
  return out;
}
