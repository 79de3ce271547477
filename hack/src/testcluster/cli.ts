#!/usr/bin/env node
import { startTestCluster } from './cluster.js';

/** `npm run testcluster [-- --port N] [--dir DIR]`: runs the test API server until interrupted. */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  if (args.includes('--help')) {
    process.stdout.write('usage: testcluster [--port N] [--dir DIR] [--namespace NS]...\nPrints the kubeconfig path, then serves until SIGINT/SIGTERM.\n');
    return;
  }
  const namespaces = args.flatMap((a, i) => (a === '--namespace' && args[i + 1] ? [args[i + 1]!] : []));
  const c = await startTestCluster({ port: opt('port') ? Number(opt('port')) : undefined, dir: opt('dir'), namespaces });
  process.stdout.write(`${c.kubeconfigPath}\n`);
  process.stderr.write(`testcluster: serving ${c.url}; export KUBECONFIG=${c.kubeconfigPath}\n`);
  const stop = () => void c.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e) => {
  process.stderr.write(`testcluster: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
