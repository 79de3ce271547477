import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { HyperGenModel, HyperGenModelSpec } from '../../src/api/types.js';
import { planDeployment } from '../../src/resources/deployment.js';
import type { PlanConfig } from '../../src/resources/plan.js';
import { apiKeyRef } from '../../src/resources/secret.js';
import { modelSource } from '../../src/resources/source.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CRD_FILE = join(REPO, 'crds/hypergen.io_hypergenmodels.yaml');
export const EXAMPLES = ['sd15.yaml', 'sdxl.yaml', 'sdxl-turbo.yaml', 'tiny.yaml', 'ingress-with-secret.yaml'];

export const config: PlanConfig = { defaultImage: 'registry.test/hypergen:1.2.3', gpuResourceName: 'nvidia.com/gpu' };

/** Deterministic stand-in for crypto.randomBytes. */
export const fixedBytes = (n: number) => Buffer.alloc(n, 7);

export function cr(spec: Partial<HyperGenModelSpec> = {}, name = 'demo', namespace = 'ml'): HyperGenModel {
  return {
    apiVersion: 'hypergen.io/v1alpha1',
    kind: 'HyperGenModel',
    metadata: { name, namespace, uid: 'uid-1', generation: 1, resourceVersion: '10' },
    spec: { model: 'org/model', ...spec },
  };
}

/** The Deployment planner given what plan() works out from the CR first (its API key Secret and model source). */
export const plannedDeployment = (c: HyperGenModel, cfg: PlanConfig) => planDeployment(c, cfg, { apiKey: apiKeyRef(c), source: modelSource(c) });

/** Every document of an example file. */
export function exampleDocs(file: string): Record<string, unknown>[] {
  return parseAllDocuments(readFileSync(join(REPO, 'examples', file), 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
}
