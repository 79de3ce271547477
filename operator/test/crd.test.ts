// The CRD YAML is the source of truth: generated types must match it, every example must validate against its
// schema, and bad specs must be rejected, CEL rules included (evaluated with the test API server's CEL).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { type CelValue, compileCel } from '@hypergen/testcluster/cel';
import { renderTypes, TYPES_PATH } from '../src/api/codegen.js';
import { CRD_FILE, EXAMPLES, exampleDocs } from './support/fixtures.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const crdText = readFileSync(CRD_FILE, 'utf8');
const crd = parse(crdText) as Obj;
const version = crd.spec.versions[0];
// Kubernetes extensions and int32/int64 formats are not JSON Schema: ajv ignores them (strict off).
const validate = new Ajv({ strict: false, allErrors: true, useDefaults: true, validateFormats: false }).compile(version.schema.openAPIV3Schema);

const errorsOf = (obj: Obj) => (validate(obj) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));
const withSpec = (spec: Obj) => ({ apiVersion: 'hypergen.io/v1alpha1', kind: 'HyperGenModel', metadata: { name: 'x' }, spec });

describe('CRD', () => {
  it('generated TypeScript types are up to date with the CRD (run node operator/dist/api/codegen.js)', () => {
    expect(readFileSync(TYPES_PATH, 'utf8')).toBe(renderTypes(crdText));
  });

  it('names, subresources and printer columns', () => {
    expect(crd.metadata.name).toBe('hypergenmodels.hypergen.io');
    expect(crd.spec.names).toMatchObject({ kind: 'HyperGenModel', plural: 'hypergenmodels', shortNames: ['hgm'], categories: ['hypergen'] });
    expect(version.name).toBe('v1alpha1');
    expect(version.subresources).toEqual({
      status: {},
      scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
    });
    expect(version.additionalPrinterColumns.map((c: Obj) => c.name)).toEqual(['Model', 'Ready', 'Reason', 'Replicas', 'URL', 'Age']);
  });

  it.each(EXAMPLES)('example %s validates', (file) => {
    const models = exampleDocs(file).filter((d) => d.kind === 'HyperGenModel');
    expect(models.length).toBe(1);
    for (const m of models) expect(errorsOf(m)).toEqual([]);
  });

  it('applies defaults', () => {
    const obj = withSpec({ model: 'a/b', ingress: { host: 'h.example' }, apiKey: { secretRef: { name: 's' } } });
    expect(errorsOf(obj)).toEqual([]);
    expect(obj.spec.gpu).toEqual({ count: 1, provider: 'cuda' });
    expect(obj.spec.ingress).toMatchObject({ enabled: false, path: '/' });
    expect(obj.spec.apiKey.secretRef.key).toBe('api-key');
    expect(obj.spec.replicas).toBeUndefined(); // unset = left to an autoscaler
  });

  it.each([
    ['no spec.model', {}, /required property 'model'/],
    ['empty model', { model: '' }, /must NOT have fewer than 1 characters/],
    ['negative replicas', { model: 'm', replicas: -1 }, /must be >= 0/],
    ['too many GPUs', { model: 'm', gpu: { count: 17 } }, /must be <= 16/],
    ['fractional GPUs', { model: 'm', gpu: { count: 0.5 } }, /must be integer/],
    ['unknown GPU provider', { model: 'm', gpu: { provider: 'rocm' } }, /must be equal to one of the allowed values/],
    ['unknown scheduler', { model: 'm', serving: { scheduler: 'magic' } }, /must be equal to one of the allowed values/],
    ['steps out of range', { model: 'm', serving: { defaultSteps: 151 } }, /must be <= 150/],
    ['batch size 0', { model: 'm', serving: { maxBatchSize: 0 } }, /must be >= 1/],
    ['unsupported source scheme', { model: 'm', source: { uri: 's3://bucket/x' } }, /must match pattern/],
    ['http (not https) source', { model: 'm', source: { uri: 'http://x/y.tar.gz' } }, /must match pattern/],
    ['secretRef without name', { model: 'm', apiKey: { secretRef: { key: 'k' } } }, /required property 'name'/],
    ['bad ingress host', { model: 'm', ingress: { enabled: true, host: 'Not A Host' } }, /must match pattern/],
    ['ingress path not absolute', { model: 'm', ingress: { enabled: true, host: 'a.b', path: 'v1' } }, /must match pattern/],
    ['bad toleration operator', { model: 'm', tolerations: [{ key: 'k', operator: 'Maybe' }] }, /allowed values/],
    ['env without name', { model: 'm', env: [{ value: 'x' }] }, /required property 'name'/],
  ])('rejects %s', (_name, spec, message) => {
    expect(errorsOf(withSpec(spec)).join('\n')).toMatch(message);
  });

  /** Runs every x-kubernetes-validations rule on the value at its place in the object; returns failed messages. */
  function celErrors(schema: Obj, value: unknown): string[] {
    if (value === undefined || value === null) return [];
    const out: string[] = [];
    for (const rule of schema['x-kubernetes-validations'] ?? []) {
      if (compileCel(rule.rule).eval({ self: value as CelValue }) !== true) out.push(rule.message);
    }
    for (const [k, sub] of Object.entries((schema.properties ?? {}) as Obj)) out.push(...celErrors(sub, (value as Obj)[k]));
    return out;
  }
  const celOf = (spec: Obj) => {
    const obj = withSpec(spec);
    validate(obj); // defaults first, as the API server does
    return celErrors(version.schema.openAPIV3Schema, obj);
  };

  it.each(EXAMPLES)('example %s passes the CEL rules', (file) => {
    for (const m of exampleDocs(file).filter((d) => d.kind === 'HyperGenModel')) expect(celOf(m.spec as Obj)).toEqual([]);
  });

  it.each([
    ['ingress enabled without host', { model: 'm', ingress: { enabled: true } }, 'ingress.host is required when ingress.enabled is true'],
    ['revision on a non-hf source', { model: 'm', source: { uri: 'https://x/m.tar.gz', revision: 'v1' } }, 'source.revision applies to hf:// sources only'],
    ['cache pvc with neither claim nor size', { model: 'm', cache: { pvc: {} } }, 'cache.pvc needs exactly one of claimName or size'],
    ['cache pvc with both', { model: 'm', cache: { pvc: { claimName: 'c', size: '1Gi' } } }, 'cache.pvc needs exactly one of claimName or size'],
  ])('CEL rejects %s', (_name, spec, message) => {
    expect(celOf(spec)).toEqual([message]);
  });

  it('CEL accepts a disabled ingress without host', () => {
    expect(celOf({ model: 'm', ingress: { enabled: false } })).toEqual([]);
  });
});
