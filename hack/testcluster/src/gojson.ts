// goDecode: a JSON value checked as Go decodes it into a built-in type's struct (first error, in encoding/json's
// words), with quantities rewritten in place to their canonical form.
import { canonicalQuantity, quantityError } from './quantity.js';
import { type JsonValue, type SchemaResolver, asObject, isPlainObject } from './types.js';

const jsonKind = (v: JsonValue): string => (typeof v === 'string' ? 'string' : typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'bool' : Array.isArray(v) ? 'array' : 'object');

const isQuantity = (schema: JsonValue | undefined, resolve: SchemaResolver): boolean => {
  const r = resolve(schema);
  return r !== undefined && r['x-kubernetes-int-or-string'] === true && r.format !== 'int-or-string';
};

/** `io.k8s.api.core.v1.Container` -> `v1.Container` (how Go prints the type) */
const goName = (ref: string): string => ref.split('/').pop()!.split('.').slice(-2).join('.');

/**
 * Decodes `value` as Go decodes JSON into the built-in type described by `schema`, as kube-apiserver does before
 * anything else: returns the first error (answered 400), or undefined after rewriting quantities in place to the
 * canonical form a Go round trip gives them. Errors name the innermost struct and the JSON path, like
 * `json: cannot unmarshal number into Go struct field EnvVar.spec.template.spec.containers.env.value of type string`.
 */
export function goDecode(value: JsonValue | undefined, schema: JsonValue | undefined, resolve: SchemaResolver, struct: string, path: string[] = []): string | undefined {
  if (value === null || value === undefined) return undefined;
  const s = resolve(schema);
  if (!s) return undefined;
  const typeOf = (x: JsonValue | undefined): string => {
    const r = resolve(x);
    if (!r) return 'interface {}';
    if (r.type === 'array') return `[]${typeOf(r.items)}`;
    if (r.type === 'object' && isPlainObject(r.additionalProperties)) return `map[string]${typeOf(r.additionalProperties)}`;
    if (r.type === 'object') return isPlainObject(x) && typeof x.$ref === 'string' ? goName(x.$ref) : 'map[string]interface {}';
    if (r.type === 'integer') return r.format === 'int32' ? 'int32' : 'int64';
    return r.format === 'byte' ? '[]uint8' : ({ number: 'float64', boolean: 'bool' }[r.type as string] ?? 'string');
  };
  const fail = (what = jsonKind(value)) => `json: cannot unmarshal ${what} into Go struct field ${struct}.${path.join('.')} of type ${typeOf(schema)}`;
  if (s['x-kubernetes-int-or-string']) {
    // intstr.IntOrString and resource.Quantity take a number or a string; quantities come back canonical.
    if (typeof value !== 'number' && typeof value !== 'string') return fail();
    return s.format === 'int-or-string' || typeof value === 'number' ? undefined : quantityError(value);
  }
  switch (s.type) {
    case 'string':
      return typeof value === 'string' ? undefined : fail();
    case 'boolean':
      return typeof value === 'boolean' ? undefined : fail();
    case 'number':
      return typeof value === 'number' ? undefined : fail();
    case 'integer': {
      if (typeof value !== 'number') return fail();
      const limit = s.format === 'int32' ? 2 ** 31 : 2 ** 63;
      return Number.isInteger(value) && value >= -limit && value < limit ? undefined : fail(`number ${value}`);
    }
    case 'array':
      if (!Array.isArray(value)) return fail();
      for (const [i, v] of value.entries()) {
        const e = goDecode(v, s.items, resolve, struct, path);
        if (e) return e;
        if (isQuantity(s.items, resolve) && (typeof v === 'string' || typeof v === 'number')) value[i] = canonicalQuantity(v);
      }
      return undefined;
    case 'object': {
      if (!isPlainObject(value)) return fail();
      if (s['x-kubernetes-preserve-unknown-fields'] && !s.properties) return undefined;
      const inner = isPlainObject(schema) && typeof schema.$ref === 'string' ? goName(schema.$ref).split('.').pop()! : struct;
      const props = asObject(s.properties);
      for (const [k, v] of Object.entries(value)) {
        const sub = props?.[k] ?? (isPlainObject(s.additionalProperties) ? s.additionalProperties : undefined);
        if (!sub) continue;
        const e = goDecode(v, sub, resolve, props?.[k] ? inner : struct, props?.[k] ? [...path, k] : path);
        if (e) return e;
        if (isQuantity(sub, resolve) && (typeof v === 'string' || typeof v === 'number')) value[k] = canonicalQuantity(v);
      }
      return undefined;
    }
    default:
      return undefined;
  }
}
