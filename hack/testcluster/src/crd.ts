// A CRD -> its served resources: structural pruning, defaults, ajv + CEL validation of custom resources, printer
// columns, and the definition checks (compile failures, unsupported CEL) a CRD write is refused for.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { type CelProgram, CelError, compileCel } from './cel.js';
import { type FieldError, goValue } from './errors.js';
import { age, humanDuration } from './humanize.js';
import { evalJsonPath, parseJsonPath } from './jsonpath.js';
import { type ResourceDef, type TableColumn, metaFieldSelectors } from './resource.js';
import { type JsonObject, type JsonValue, type KubeObject, type Schema, type SchemaResolver, arrayOr, asArray, asNumber, asObject, asString, at, deepClone, isPlainObject, objectOr } from './types.js';

type J = JsonValue | undefined;

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
export const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

/** `hypergen.io` + `HyperGenModel` -> `io.hypergen.v1alpha1.HyperGenModel`, the name upstream publishes. */
export const crSchemaName = (group: string, version: string, kind: string): string =>
  `${group.split('.').reverse().join('.')}.${version}.${kind}`;

type Path = Array<string | number>;
const renderPath = (p: Path): string =>
  p.reduce<string>((s, seg) => (typeof seg === 'number' ? `${s}[${seg}]` : s ? `${s}.${seg}` : seg), '');

const schemaType = (s: Schema): string => (s['x-kubernetes-int-or-string'] ? 'integer-or-string' : String(s.type ?? 'object'));

// ---------- structural schema operations ----------

/**
 * Removes fields the schema does not declare (structural pruning, also what Go's JSON decoding does to built-ins);
 * records their paths for fieldValidation Strict/Warn.
 */
export function prune(value: J, schemaIn: J, path: Path, unknown: string[], resolve: SchemaResolver): void {
  const schema = resolve(schemaIn);
  if (!schema) return;
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((v, i) => prune(v, schema.items, [...path, i], unknown, resolve));
    return;
  }
  if (!isPlainObject(value)) return;
  if (schema['x-kubernetes-preserve-unknown-fields'] === true && !schema.properties) return;
  const embedded = schema['x-kubernetes-embedded-resource'] === true;
  for (const k of Object.keys(value)) {
    if (embedded && (k === 'apiVersion' || k === 'kind' || k === 'metadata')) continue;
    const prop = asObject(schema.properties)?.[k] ?? (isPlainObject(schema.additionalProperties) ? schema.additionalProperties : undefined);
    if (prop) prune(value[k], prop, [...path, k], unknown, resolve);
    else if (schema.additionalProperties === true || schema['x-kubernetes-preserve-unknown-fields'] === true) continue;
    else {
      unknown.push(renderPath([...path, k]));
      delete value[k];
    }
  }
}

/** Applies `default`s (and drops nulls the schema does not allow), as the apiserver does on every request. */
export function applyDefaults(value: J, schema: Schema | undefined): void {
  if (!schema) return;
  if (Array.isArray(value)) {
    const items = asObject(schema.items);
    if (items) value.forEach((v) => applyDefaults(v, items));
    return;
  }
  if (!isPlainObject(value)) return;
  const props = objectOr(schema.properties);
  for (const [k, propValue] of Object.entries(props)) {
    const prop = objectOr(propValue);
    if (value[k] === null && !prop.nullable) delete value[k];
    if (value[k] === undefined && prop.default !== undefined) value[k] = deepClone(prop.default);
    if (value[k] !== undefined) applyDefaults(value[k], prop);
  }
  const additional = schema.additionalProperties;
  if (isPlainObject(additional)) for (const k of Object.keys(value)) if (!props[k]) applyDefaults(value[k], additional);
}

/** JSON schema for ajv: Kubernetes extensions and formats it does not know are dropped. */
function toAjvSchema(s: J): J {
  if (Array.isArray(s)) return s.map((x) => toAjvSchema(x) ?? null);
  if (!isPlainObject(s)) return s;
  return toAjvSchemaObject(s);
}

function toAjvSchemaObject(s: Schema): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(s)) {
    if (k.startsWith('x-kubernetes-') || k === 'format' || k === 'default' || k === 'description' || k === 'example' || k === 'externalDocs') continue;
    if (k === 'properties' || k === 'patternProperties') out[k] = Object.fromEntries(Object.entries(objectOr(v)).map(([pk, pv]) => [pk, toAjvSchema(pv)]));
    else out[k] = toAjvSchema(v);
  }
  if (s['x-kubernetes-int-or-string'] && !s.anyOf) out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  return out;
}

function ajvErrorToField(e: ErrorObject, obj: JsonObject): FieldError | undefined {
  const segs: Path = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~')).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  let value: J = obj;
  for (const s of segs) value = Array.isArray(value) ? value[Number(s)] : isPlainObject(value) ? value[String(s)] : undefined;
  const field = renderPath(segs);
  const p: Record<string, unknown> = e.params;
  const body = (d: string): FieldError => ({ type: 'FieldValueInvalid', field, value, detail: `${field} in body ${d}` });
  switch (e.keyword) {
    case 'required': return { type: 'FieldValueRequired', field: renderPath([...segs, String(p.missingProperty)]), detail: '' };
    case 'minimum': return body(`should be greater than or equal to ${p.limit}`);
    case 'exclusiveMinimum': return body(`should be greater than ${p.limit}`);
    case 'maximum': return body(`should be less than or equal to ${p.limit}`);
    case 'exclusiveMaximum': return body(`should be less than ${p.limit}`);
    case 'minLength': return body(`should be at least ${p.limit} chars long`);
    case 'maxLength': return { type: 'FieldValueTooLong', field, detail: `may not be more than ${p.limit} bytes` };
    case 'pattern': return body(`should match '${p.pattern}'`);
    case 'enum': return { type: 'FieldValueNotSupported', field, value, detail: `supported values: ${(p.allowedValues as JsonValue[]).map(goValue).join(', ')}` };
    case 'type': {
      const actual = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value === 'number' ? (Number.isInteger(value) ? 'integer' : 'number') : typeof value;
      return { type: 'FieldValueTypeInvalid', field, value: actual, detail: `${field} in body must be of type ${p.type}: "${actual}"` };
    }
    case 'minItems': return { type: 'FieldValueInvalid', field, value: Array.isArray(value) ? value.length : value, detail: `${field} in body should have at least ${p.limit} items` };
    case 'maxItems': return { type: 'FieldValueTooMany', field, value, detail: `must have at most ${p.limit} items` };
    case 'minProperties': return body(`should have at least ${p.limit} properties`);
    case 'maxProperties': return body(`should have at most ${p.limit} properties`);
    case 'multipleOf': return body(`should be a multiple of ${p.multipleOf}`);
    case 'uniqueItems': return { type: 'FieldValueDuplicate', field: renderPath([...segs, Number(p.j)]), value: Array.isArray(value) ? value[Number(p.j)] : undefined };
    case 'anyOf':
    case 'oneOf':
    case 'not': return body(`must validate ${e.keyword === 'not' ? 'not' : e.keyword === 'anyOf' ? 'at least one schema (anyOf)' : 'one and only one schema (oneOf)'}`);
    default: return body(e.message ?? e.keyword);
  }
}

interface CompiledRule {
  rule: JsonObject;
  program: CelProgram;
  message?: CelProgram;
}

/** Compiles the x-kubernetes-validations of a schema tree; returns errors naming rules the subset cannot run. */
function compileRules(schema: J, path: Path, out: Map<Schema, CompiledRule[]>, errs: FieldError[]): void {
  if (!isPlainObject(schema)) return;
  const rules = arrayOr(schema['x-kubernetes-validations']).map(objectOr);
  if (rules.length) {
    out.set(
      schema,
      rules.flatMap((rule, i): CompiledRule[] => {
        try {
          return [{ rule, program: compileCel(String(rule.rule)), message: rule.messageExpression ? compileCel(String(rule.messageExpression)) : undefined }];
        } catch (e) {
          errs.push({ type: 'FieldValueInvalid', field: `${renderPath(path)}.x-kubernetes-validations[${i}].rule`, value: rule.rule, detail: `compilation failed: ${(e as Error).message}` });
          return [];
        }
      }),
    );
  }
  for (const [k, v] of Object.entries(objectOr(schema.properties))) compileRules(v, [...path, 'properties', k], out, errs);
  if (isPlainObject(schema.additionalProperties)) compileRules(schema.additionalProperties, [...path, 'additionalProperties'], out, errs);
  if (isPlainObject(schema.items)) compileRules(schema.items, [...path, 'items'], out, errs);
}

function runRules(value: J, old: J, hasOld: boolean, schema: J, path: Path, rules: Map<Schema, CompiledRule[]>, errs: FieldError[]): void {
  if (value === undefined || !isPlainObject(schema)) return;
  for (const r of rules.get(schema) ?? []) {
    if (r.program.usesOldSelf && !hasOld) continue;
    const field = renderPath(r.rule.fieldPath ? [...path, ...String(r.rule.fieldPath).replace(/^\./, '').split('.')] : path);
    try {
      if (r.program.eval({ self: value, oldSelf: old }) === true) continue;
      let msg = String(r.rule.message ?? `failed rule: ${r.rule.rule}`);
      if (r.message) {
        try {
          msg = String(r.message.eval({ self: value, oldSelf: old }));
        } catch {
          /* fall back to message */
        }
      }
      const reason = r.rule.reason ?? 'FieldValueInvalid';
      if (reason === 'FieldValueRequired') errs.push({ type: 'FieldValueRequired', field, detail: msg });
      else if (reason === 'FieldValueForbidden') errs.push({ type: 'FieldValueForbidden', field, detail: msg });
      else if (reason === 'FieldValueDuplicate') errs.push({ type: 'FieldValueDuplicate', field, value: schemaType(schema), detail: msg });
      else errs.push({ type: 'FieldValueInvalid', field, value: schemaType(schema), detail: msg });
    } catch (e) {
      if (!(e instanceof CelError)) throw e;
      errs.push({ type: 'FieldValueInvalid', field, value: schemaType(schema), detail: `${e.message} evaluating rule: ${r.rule.rule}` });
    }
  }
  if (Array.isArray(value) && isPlainObject(schema.items)) {
    value.forEach((v, i) => runRules(v, Array.isArray(old) ? old[i] : undefined, Array.isArray(old) && i < old.length, schema.items, [...path, i], rules, errs));
  } else if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      const prop = asObject(schema.properties)?.[k] ?? (isPlainObject(schema.additionalProperties) ? schema.additionalProperties : undefined);
      if (prop) runRules(v, isPlainObject(old) ? old[k] : undefined, isPlainObject(old) && k in old, prop, [...path, k], rules, errs);
    }
  }
}

function listMapDuplicates(value: J, schema: J, path: Path, errs: FieldError[]): void {
  if (!isPlainObject(schema)) return;
  if (Array.isArray(value)) {
    if (schema['x-kubernetes-list-type'] === 'map') {
      const keys = arrayOr(schema['x-kubernetes-list-map-keys']).map(String);
      const seen = new Set<string>();
      value.forEach((v, i) => {
        const k = JSON.stringify(keys.map((kk) => at(v, kk)));
        if (seen.has(k)) errs.push({ type: 'FieldValueDuplicate', field: renderPath([...path, i]), value: Object.fromEntries(keys.map((kk) => [kk, at(v, kk)])) });
        seen.add(k);
      });
    }
    if (schema['x-kubernetes-list-type'] === 'set') {
      const seen = new Set<string>();
      value.forEach((v, i) => {
        const k = JSON.stringify(v);
        if (seen.has(k)) errs.push({ type: 'FieldValueDuplicate', field: renderPath([...path, i]), value: v });
        seen.add(k);
      });
    }
    if (schema.items) value.forEach((v, i) => listMapDuplicates(v, schema.items, [...path, i], errs));
    return;
  }
  if (!isPlainObject(value)) return;
  for (const [k, v] of Object.entries(value)) {
    const prop = asObject(schema.properties)?.[k] ?? (isPlainObject(schema.additionalProperties) ? schema.additionalProperties : undefined);
    if (prop) listMapDuplicates(v, prop, [...path, k], errs);
  }
}

// ---------- CRD -> served resources ----------

export interface CrdCompileResult {
  defs: ResourceDef[];
  /** OpenAPI component schemas for the CRD's kinds, by served version */
  schemas: Record<string, Schema>;
}

const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });

/** Compiles the validators; throws nothing, returns the definition errors (compile failures, unsupported CEL). */
export function checkCrdSchemas(crd: JsonObject): FieldError[] {
  const errs: FieldError[] = [];
  arrayOr(at(crd, 'spec', 'versions')).forEach((v, i) => {
    const schema = at(v, 'schema', 'openAPIV3Schema');
    const path = `spec.versions[${i}].schema.openAPIV3Schema`;
    if (!isPlainObject(schema)) {
      errs.push({ type: 'FieldValueRequired', field: path, detail: 'schemas are required' });
      return;
    }
    if (schema.type !== 'object') errs.push({ type: 'FieldValueInvalid', field: `${path}.type`, value: schema.type ?? '', detail: 'must be object at the root' });
    try {
      ajv.compile(toAjvSchemaObject(schema));
    } catch (e) {
      errs.push({ type: 'FieldValueInvalid', field: path, value: 'object', detail: (e as Error).message });
    }
    const rules = new Map<Schema, CompiledRule[]>();
    compileRules(schema, [path], rules, errs);
  });
  return errs;
}

/** An established CRD (its definition validated on write): group, names and versions are there. */
export function compileCrd(crd: KubeObject, resolve: SchemaResolver): CrdCompileResult {
  const spec = objectOr(crd.spec);
  const names = objectOr(spec.names);
  const group = String(spec.group);
  const kind = String(names.kind);
  const plural = String(names.plural);
  const listKind = asString(names.listKind) ?? `${kind}List`;
  const scope = spec.scope;
  const versions = arrayOr(spec.versions).map(objectOr);
  const storageVersion = versions.find((v) => v.storage)?.name ?? versions[0]?.name;
  const storage = `${group}/${plural}`;
  const defs: ResourceDef[] = [];
  const schemas: Record<string, Schema> = {};
  for (const v of versions.filter((x) => x.served)) {
    const version = String(v.name);
    const raw: Schema = asObject(at(v, 'schema', 'openAPIV3Schema')) ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    const validator: ValidateFunction = ajv.compile(toAjvSchemaObject(raw));
    const rules = new Map<Schema, CompiledRule[]>();
    compileRules(raw, [], rules, []);
    const schemaName = crSchemaName(group, version, kind);
    const openapi: Schema = {
      ...deepClone(raw),
      'x-kubernetes-group-version-kind': [{ group, kind, version }],
    };
    openapi.properties = {
      ...objectOr(openapi.properties),
      apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
      kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
      metadata: { $ref: `#/components/schemas/${OBJECT_META}`, description: "Standard object's metadata." },
    };
    schemas[schemaName] = openapi;
    schemas[`${schemaName}List`] = {
      type: 'object',
      required: ['items'],
      properties: {
        apiVersion: { type: 'string' },
        items: { type: 'array', items: { $ref: `#/components/schemas/${schemaName}` } },
        kind: { type: 'string' },
        metadata: { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta' },
      },
      'x-kubernetes-group-version-kind': [{ group, kind: listKind, version }],
    };
    const printer = asArray(v.additionalPrinterColumns)?.map(objectOr) ?? [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }];
    const compiledCols = printer.map((c) => ({ c, steps: parseJsonPath(String(c.jsonPath)) }));
    const columns: TableColumn[] = [
      { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
      ...printer.map((c) => ({ name: String(c.name), type: String(c.type), format: asString(c.format) ?? '', description: asString(c.description) ?? '', priority: asNumber(c.priority) ?? 0 })),
    ];
    const apiVersion = `${group}/${version}`;
    const scale = asObject(at(v, 'subresources', 'scale'));
    defs.push({
      group,
      version,
      resource: plural,
      kind,
      listKind,
      singular: asString(names.singular) ?? kind.toLowerCase(),
      namespaced: scope !== 'Cluster',
      shortNames: arrayOr(names.shortNames).map(String),
      categories: arrayOr(names.categories).map(String),
      verbs: ALL_VERBS,
      storage,
      storageVersion: `${group}/${storageVersion}`,
      status: at(v, 'subresources', 'status') !== undefined,
      scale: scale ? { specReplicasPath: String(scale.specReplicasPath), statusReplicasPath: String(scale.statusReplicasPath), labelSelectorPath: asString(scale.labelSelectorPath) } : undefined,
      generation: true,
      strategicMerge: false,
      deleteReturnsObject: true,
      schemaName,
      schema: { root: openapi, resolve },
      // No selectableFields (CustomResourceFieldSelectors): metadata.name and metadata.namespace only.
      fieldSelectors: metaFieldSelectors(),
      columns,
      cells: (o) => [
        o.metadata.name,
        ...compiledCols.map(({ c, steps }) => {
          const r = evalJsonPath(steps, o);
          if (r.length === 0) return null;
          const val = r[0];
          if (c.type === 'date') return typeof val === 'string' ? (c.jsonPath === '.metadata.creationTimestamp' ? age(val) : humanDuration(Date.now() - Date.parse(val))) : null;
          if (c.type === 'string') return typeof val === 'object' ? JSON.stringify(val) : String(val);
          // A cell that is not set is what JSON writes it as in a row: null.
          return val ?? null;
        }),
      ],
      fromStorage: (o) => ({ ...o, apiVersion }),
      toStorage: (o) => ({ ...o, apiVersion: `${group}/${storageVersion}` }),
      crd: {
        applyDefaults: (o) => applyDefaults(o, raw),
        validate: (o, old) => {
          const errs: FieldError[] = [];
          const body: JsonObject = { ...o };
          delete body.metadata;
          const oldBody = old ? { ...old, metadata: undefined } : undefined;
          if (!validator(body)) {
            const errors = validator.errors ?? [];
            // anyOf branches report their own errors too; keep the anyOf summary only.
            const anyOfPaths = errors.filter((e) => e.keyword === 'anyOf').map((e) => e.schemaPath);
            for (const e of errors) {
              if (e.keyword !== 'anyOf' && anyOfPaths.some((p) => e.schemaPath.startsWith(p.replace(/\/anyOf$/, '/anyOf/')))) continue;
              const fe = ajvErrorToField(e, body);
              if (fe) errs.push(fe);
            }
          }
          listMapDuplicates(body, raw, [], errs);
          // As apiextensions' hasBlockingErr: only these schema errors keep the CEL rules from running.
          const blocking = new Set(['FieldValueNotSupported', 'FieldValueRequired', 'FieldValueTooLong', 'FieldValueTooMany', 'FieldValueTypeInvalid']);
          if (errs.some((e) => blocking.has(e.type))) errs.push({ type: 'FieldValueInvalid', field: '<nil>', value: 'null', detail: 'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation' });
          else runRules(body, oldBody, !!old, raw, [], rules, errs);
          return errs;
        },
      },
    });
  }
  return { defs, schemas };
}
