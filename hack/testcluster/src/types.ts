// JSON values (what objects, patches and schemas are made of) with the narrowing helpers that read their fields;
// group/resource and apiVersion naming, deep copy and equality, dotted paths, and the time formats of metav1.
export type JsonPrimitive = string | number | boolean | null;
export type JsonArray = JsonValue[];
/** A JSON object; a key may hold undefined, which JSON.stringify leaves out (an optional field not set). */
export type JsonObject = { [key: string]: JsonValue | undefined };
export type JsonValue = JsonPrimitive | JsonArray | JsonObject;

/** metav1.OwnerReference. */
export type OwnerReference = {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
  [key: string]: JsonValue | undefined;
};

/** metav1.ObjectMeta as stored (a name is always set by then): the fields the server reads typed, the rest as sent. */
export type ObjectMeta = {
  name: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: JsonObject[];
  [key: string]: JsonValue | undefined;
};

/** An object of any kind once the API accepted it (validateMeta checked its metadata): apiVersion, kind, metadata, the rest as sent. */
export type KubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: JsonValue | undefined;
};

/**
 * o as an object of some kind once its metadata is an object (made one where it is not). Its metadata fields are
 * taken as ObjectMeta's types: the API checks them (validateMeta; Go decoding for built-ins) before anything is stored.
 */
export function withMetadata(o: JsonObject): KubeObject {
  if (!isPlainObject(o.metadata)) o.metadata = {};
  return o as KubeObject;
}

/** An OpenAPI / JSON schema object. */
export type Schema = JsonObject;
/** Follows a schema's $ref chain: the schema object it names, or undefined where there is none. */
export type SchemaResolver = (s: JsonValue | undefined) => Schema | undefined;

export const isPlainObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
/** v when it is a JSON object, else undefined. */
export const asObject = (v: JsonValue | undefined): JsonObject | undefined => (isPlainObject(v) ? v : undefined);
/** v when it is a JSON object, else a new empty one: for reading optional nested fields. */
export const objectOr = (v: JsonValue | undefined): JsonObject => (isPlainObject(v) ? v : {});
/** v when it is an array, else undefined. */
export const asArray = (v: JsonValue | undefined): JsonArray | undefined => (Array.isArray(v) ? v : undefined);
/** v when it is an array, else a new empty one. */
export const arrayOr = (v: JsonValue | undefined): JsonArray => (Array.isArray(v) ? v : []);
/** The JSON objects of v when it is an array (other items left out), else []. */
export const objectsOf = (v: JsonValue | undefined): JsonObject[] => (Array.isArray(v) ? v.filter(isPlainObject) : []);
export const asString = (v: JsonValue | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
export const asNumber = (v: JsonValue | undefined): number | undefined => (typeof v === 'number' ? v : undefined);
export const asBoolean = (v: JsonValue | undefined): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
/** o[key] as an object: set to a new empty one when it is not set (`o[key] ??= {}` for an object field). */
export function objectAt(o: JsonObject, key: string): JsonObject {
  const v = o[key];
  if (isPlainObject(v)) return v;
  const fresh: JsonObject = {};
  if (v === undefined || v === null) o[key] = fresh;
  return fresh;
}

/** The value at a path of object keys (and array indexes), or undefined where the path leaves the document. */
export function at(v: JsonValue | undefined, ...path: Array<string | number>): JsonValue | undefined {
  let cur = v;
  for (const k of path) {
    if (typeof k === 'number') cur = Array.isArray(cur) ? cur[k] : undefined;
    else cur = isPlainObject(cur) ? cur[k] : undefined;
  }
  return cur;
}
/** stringMap(v), or undefined where v is not set. */
export const stringMapOrUndefined = (v: JsonValue | undefined): Record<string, string> | undefined => (v === undefined || v === null ? undefined : stringMap(v));
/** A string-to-string map (labels, annotations, selectors' matchLabels); entries that are not strings left out. */
export function stringMap(v: JsonValue | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (isPlainObject(v)) for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

export interface GroupResource {
  group: string;
  resource: string;
}

/** A copy of a JSON value; several times faster than structuredClone, which matters on every store read. */
export function deepClone<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map(deepClone) as T;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const value = deepClone((v as Record<string, unknown>)[k]);
    // A "__proto__" key from JSON.parse is data; plain assignment would set the prototype instead.
    if (k === '__proto__') Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
    else out[k] = value;
  }
  return out as T;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => deepEqual(ao[k], bo[k]));
}

/** RFC 3339 with second precision, as metav1.Time serialises. */
export const nowTime = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
/** metav1.MicroTime. */
export const nowMicroTime = (): string => new Date().toISOString().replace(/Z$/, '000Z');

/** `group/resource` rendered the way API errors name it: `deployments.apps`, `pods`. */
export const qualifiedResource = (gr: GroupResource): string => (gr.group ? `${gr.resource}.${gr.group}` : gr.resource);

export const apiVersionOf = (group: string, version: string): string => (group ? `${group}/${version}` : version);

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

/** Reads a dotted path such as `.spec.replicas` (the form CRD scale paths use). */
export function getPath(obj: JsonValue | undefined, path: string): JsonValue | undefined {
  let cur = obj;
  for (const p of path.replace(/^\./, '').split('.')) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

export function setPath(obj: JsonObject, path: string, value: JsonValue | undefined): void {
  const parts = path.replace(/^\./, '').split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (isPlainObject(next)) cur = next;
    else cur = cur[p] = {};
  }
  const last = parts[parts.length - 1]!;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
}

/** A scale subresource's labelSelectorPath may point at a string or at a metav1.LabelSelector. */
export function labelSelectorOrUndefined(v: JsonValue | undefined): string | undefined {
  if (typeof v === 'string') return v;
  if (!isPlainObject(v)) return undefined;
  const parts = Object.entries(objectOr(v.matchLabels)).map(([k, x]) => `${k}=${x}`);
  for (const e of objectsOf(v.matchExpressions)) {
    const op = String(e.operator);
    if (op === 'Exists') parts.push(String(e.key ?? ''));
    else if (op === 'DoesNotExist') parts.push(`!${e.key}`);
    else parts.push(`${e.key} ${op.toLowerCase()} (${arrayOr(e.values).join(',')})`);
  }
  return parts.join(',');
}
