// Contracts between packages that no compiler checks: what the CRD lets a user write must be what the server takes.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { SCHEDULER_NAMES } from '../../../server/src/engine/types.js';
import { REPO_ROOT } from '../../src/server-process.js';

type Schema = { properties?: Record<string, Schema>; enum?: unknown[] };

describe('CRD and server agree', () => {
  it("spec.serving.scheduler's enum is exactly the server's scheduler names", () => {
    const crd = parse(readFileSync(join(REPO_ROOT, 'crds/hypergen.io_hypergenmodels.yaml'), 'utf8')) as {
      spec: { versions: { schema: { openAPIV3Schema: Schema } }[] };
    };
    const spec = crd.spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;
    expect(spec.properties!.serving!.properties!.scheduler!.enum).toEqual([...SCHEDULER_NAMES]);
  });
});
