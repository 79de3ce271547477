// The served resources: the built-ins plus what each established CRD defines, looked up by group/version/resource,
// kind or storage, with their groups in upstream discovery order and their OpenAPI schemas.
import { createHash } from 'node:crypto';
import { builtinDefs } from './builtins.js';
import { compileCrd } from './crd.js';
import type { SchemaWalker } from './patch.js';
import type { ResourceDef } from './resource.js';
import { type JsonValue, type KubeObject, type Schema, asObject, isPlainObject } from './types.js';

export interface GroupInfo {
  name: string;
  versions: string[];
  preferred: string;
}

/** Group order of upstream discovery (kubectl's short names resolve in this order); CRD groups follow. */
const GROUP_ORDER = ['', 'apps', 'coordination.k8s.io', 'networking.k8s.io', 'rbac.authorization.k8s.io', 'policy', 'apiextensions.k8s.io'];

/** The served resources: built-ins plus whatever the established CRDs define. */
export class Registry {
  private readonly builtins: ResourceDef[];
  private readonly builtinSchemas: Record<string, Schema>;
  private readonly crds = new Map<string, { defs: ResourceDef[]; schemas: Record<string, Schema> }>();
  /** bumps whenever the served API changes, so OpenAPI hashes and discovery change with it */
  private generation = 0;
  readonly walker: SchemaWalker;

  constructor(allocateIP: () => string) {
    const b = builtinDefs(allocateIP);
    this.builtins = b.defs;
    this.builtinSchemas = b.schemas.schemas;
    this.walker = {
      child: (s, k) => {
        const r = this.resolve(s);
        if (!r) return undefined;
        return this.resolve(asObject(r.properties)?.[k] ?? (isPlainObject(r.additionalProperties) ? r.additionalProperties : undefined));
      },
      items: (s) => this.resolve(this.resolve(s)?.items),
    };
  }

  /** s with its $ref chain followed (16 hops at most): a schema object, or undefined where there is none. */
  resolve(s: JsonValue | undefined): Schema | undefined {
    let cur = s;
    for (let i = 0; i < 16 && isPlainObject(cur) && typeof cur.$ref === 'string'; i++) cur = this.schema(cur.$ref.replace('#/components/schemas/', ''));
    return asObject(cur);
  }

  schema(name: string): Schema | undefined {
    if (this.builtinSchemas[name]) return this.builtinSchemas[name];
    for (const c of this.crds.values()) if (c.schemas[name]) return c.schemas[name];
    return undefined;
  }

  allSchemas(): Record<string, Schema> {
    const out = { ...this.builtinSchemas };
    for (const c of this.crds.values()) Object.assign(out, c.schemas);
    return out;
  }

  all(): ResourceDef[] {
    return [...this.builtins, ...[...this.crds.values()].flatMap((c) => c.defs)];
  }

  find(group: string, version: string, resource: string): ResourceDef | undefined {
    return this.all().find((d) => d.group === group && d.version === version && d.resource === resource);
  }

  findKind(apiVersion: string, kind: string): ResourceDef | undefined {
    return this.all().find((d) => (d.group ? `${d.group}/${d.version}` : d.version) === apiVersion && d.kind === kind);
  }

  /** The definition objects of a storage are read and written through (its storage version's view). */
  byStorage(storage: string): ResourceDef | undefined {
    const defs = this.all().filter((d) => d.storage === storage);
    return defs.find((d) => (d.group ? `${d.group}/${d.version}` : d.version) === d.storageVersion) ?? defs[0];
  }

  groups(): GroupInfo[] {
    const byGroup = new Map<string, string[]>();
    for (const d of this.all()) {
      const vs = byGroup.get(d.group) ?? [];
      if (!vs.includes(d.version)) vs.push(d.version);
      byGroup.set(d.group, vs);
    }
    const rank = (g: string) => (GROUP_ORDER.includes(g) ? GROUP_ORDER.indexOf(g) : GROUP_ORDER.length);
    return [...byGroup.entries()]
      .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
      .map(([name, versions]) => {
        const sorted = [...versions].sort(compareKubeVersions);
        return { name, versions: sorted, preferred: sorted[0]! };
      });
  }

  setCrd(crd: KubeObject): void {
    this.crds.set(crd.metadata.name, compileCrd(crd, (s) => this.resolve(s)));
    this.generation++;
  }

  removeCrd(name: string): void {
    if (this.crds.delete(name)) this.generation++;
  }

  hasCrd(name: string): boolean {
    return this.crds.has(name);
  }

  /** Content hash of a group/version's OpenAPI document inputs. */
  hashOf(doc: JsonValue): string {
    return createHash('sha512').update(JSON.stringify(doc)).digest('hex').slice(0, 128).toUpperCase();
  }

  apiGeneration(): number {
    return this.generation;
  }
}

/** Kubernetes version priority: GA > beta > alpha, higher numbers first (v1 > v1beta2 > v1beta1 > v1alpha1). */
export function compareKubeVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [0, 0, 0];
    return [m[2] === 'alpha' ? 1 : m[2] === 'beta' ? 2 : 3, Number(m[1]), Number(m[3] ?? 0)];
  };
  const [pa, pb] = [parse(a), parse(b)];
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pb[i]! - pa[i]!;
  return a.localeCompare(b);
}
