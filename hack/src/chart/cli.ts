#!/usr/bin/env node
// Chart tooling for the Makefile: `manifests` regenerates the chart's CRD templates from crds/ and its RBAC rules
// from operator/src/rbac.ts;
// `template RELEASE [-n NAMESPACE] [--set a=b ...]` prints what `helm template` would, using hack/chart-render.
import { syncCrdTemplates } from './crds.js';
import { writeGatewayRbacTemplate } from './gateway-rbac.js';
import { writeRbacTemplate } from './rbac.js';
import { RenderError, renderChart, toYamlStream } from './render.js';

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'manifests') {
    for (const f of syncCrdTemplates()) console.log(`charts/hypergen/templates/crds/${f} <- crds/${f}`);
    writeRbacTemplate();
    console.log('charts/hypergen/templates/_rbac.tpl <- operator/src/rbac.ts');
    writeGatewayRbacTemplate();
    console.log('charts/hypergen/templates/_gateway_rbac.tpl <- operator/src/gateway/rbac.ts');
    return;
  }
  if (command === 'template') {
    const set: string[] = [];
    let release: string | undefined;
    let namespace: string | undefined;
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === '--set' && rest[i + 1] !== undefined) set.push(rest[++i]!);
      else if ((rest[i] === '--namespace' || rest[i] === '-n') && rest[i + 1] !== undefined) namespace = rest[++i];
      else release = rest[i];
    }
    const result = await renderChart({ release, namespace, set });
    process.stdout.write(toYamlStream(result));
    return;
  }
  throw new Error('usage: cli.js manifests | template [RELEASE] [-n NAMESPACE] [--set a.b=c ...]');
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof RenderError || err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
