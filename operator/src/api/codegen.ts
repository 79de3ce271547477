// Generates operator/src/api/types.generated.ts from the CRD's OpenAPI schema, so the YAML stays the one source
// of truth. Run `node operator/dist/api/codegen.js` after editing the CRD; a test fails when the output is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export interface JSONSchema {
  type?: string;
  description?: string;
  properties?: Record<string, JSONSchema>;
  required?: string[];
  items?: JSONSchema;
  additionalProperties?: JSONSchema | boolean;
  enum?: unknown[];
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

interface CRD {
  spec: { names: { kind: string }; versions: { name: string; storage: boolean; schema: { openAPIV3Schema: JSONSchema } }[] };
}

const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** Renders TypeScript interfaces for spec and status of the CRD's storage version. */
export function renderTypes(crdYaml: string): string {
  const crd = parse(crdYaml) as CRD;
  const kind = crd.spec.names.kind;
  const version = crd.spec.versions.find((v) => v.storage);
  if (!version) throw new Error('CRD has no storage version');
  const root = version.schema.openAPIV3Schema;
  const blocks: string[] = [];

  const doc = (s: JSONSchema, indent: string) => (s.description ? `${indent}/** ${s.description} */\n` : '');

  const typeOf = (s: JSONSchema, name: string): string => {
    if (s['x-kubernetes-int-or-string']) return 'number | string';
    if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
    switch (s.type) {
      case 'string':
        return 'string';
      case 'integer':
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'array':
        return `${wrap(typeOf(s.items ?? {}, name + 'Item'))}[]`;
      case 'object':
        if (s.properties) return objectType(s, name);
        if (s.additionalProperties && typeof s.additionalProperties === 'object') {
          return `Record<string, ${typeOf(s.additionalProperties, name + 'Value')}>`;
        }
        return 'Record<string, unknown>';
      default:
        return 'unknown';
    }
  };
  const wrap = (t: string) => (t.includes(' ') ? `(${t})` : t);

  const objectType = (s: JSONSchema, name: string): string => {
    const required = new Set(s.required ?? []);
    const lines = Object.entries(s.properties ?? {}).map(([key, prop]) => {
      const t = typeOf(prop, name + pascal(key));
      return `${doc(prop, '  ')}  ${key}${required.has(key) ? '' : '?'}: ${t};`;
    });
    blocks.push(`${doc(s, '')}export interface ${name} {\n${lines.join('\n')}\n}\n`);
    return name;
  };

  const props = root.properties ?? {};
  if (!props.spec || !props.status) throw new Error('schema needs spec and status');
  typeOf(props.spec, `${kind}Spec`);
  typeOf(props.status, `${kind}Status`);
  const header =
    '// GENERATED from crds/hypergen.io_hypergenmodels.yaml by operator/src/api/codegen.ts. Do not edit.\n' +
    `// apiVersion ${version.name}; regenerate with: node operator/dist/api/codegen.js\n`;
  return `${header}\n${blocks.join('\n')}`;
}

const here = dirname(fileURLToPath(import.meta.url));
/** Repository paths, resolved from either operator/src/api or operator/dist/api. */
export const CRD_PATH = join(here, '../../../crds/hypergen.io_hypergenmodels.yaml');
export const TYPES_PATH = join(here, '../../src/api/types.generated.ts');

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(TYPES_PATH, renderTypes(readFileSync(CRD_PATH, 'utf8')));
  process.stdout.write(`wrote ${TYPES_PATH}\n`);
}
