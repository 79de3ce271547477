// ResourceDef: what the API handlers know of one served group/version/resource (names, verbs, scope, schema,
// subresources, printer columns, field selectors), and the metadata field getters every resource supports.
import type { FieldError } from './errors.js';
import type { FieldGetter } from './selectors.js';
import type { JsonValue, KubeObject, Schema, SchemaResolver } from './types.js';

export interface ScaleSpec {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath?: string;
}

export interface TableColumn {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
}

/** Schema knowledge a resource needs at request time (CRDs: the structural schema; built-ins: the OpenAPI one). */
export interface SchemaInfo {
  /** JSON schema of the whole object with $refs resolved lazily via `resolve` */
  root: Schema | undefined;
  resolve: SchemaResolver;
}

/** One served group/version/resource with everything the API handlers need to know about it. */
export interface ResourceDef {
  group: string;
  version: string;
  resource: string;
  kind: string;
  listKind: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  /** Objects live under this key; several views (a CRD's versions) share one. */
  storage: string;
  /** apiVersion objects are stored with */
  storageVersion: string;
  status: boolean;
  scale?: ScaleSpec;
  /** metadata.generation counts changes outside metadata and status */
  generation: boolean;
  /** strategic merge patch accepted (built-in types only) */
  strategicMerge: boolean;
  /** DELETE returns the object (custom resources) rather than a Status */
  deleteReturnsObject: boolean;
  schemaName: string;
  schema: SchemaInfo;
  fieldSelectors: Record<string, FieldGetter>;
  columns: TableColumn[];
  cells(obj: KubeObject): JsonValue[];
  /** storage form -> this view */
  fromStorage?(obj: KubeObject): KubeObject;
  /** this view -> storage form */
  toStorage?(obj: KubeObject): KubeObject;
  /** Fills server-side defaults (like the defaulting functions of the API types). Mutates obj. */
  defaults?(obj: KubeObject, old: KubeObject | undefined): void;
  /** Type-specific validation after defaulting; returns field errors for a 422. */
  validate?(obj: KubeObject, old: KubeObject | undefined): FieldError[];
  /** Custom resources: default and validate against the CRD's structural schema. */
  crd?: {
    applyDefaults(obj: KubeObject): void;
    validate(obj: KubeObject, old: KubeObject | undefined): FieldError[];
  };
}

export const nameGetter: FieldGetter = (o) => o.metadata?.name;
export const namespaceGetter: FieldGetter = (o) => o.metadata?.namespace ?? '';
export const metaFieldSelectors = (): Record<string, FieldGetter> => ({ 'metadata.name': nameGetter, 'metadata.namespace': namespaceGetter });
