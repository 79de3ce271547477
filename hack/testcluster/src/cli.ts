#!/usr/bin/env node
// `npm run testcluster [-- --port N] [--dir DIR] [--namespace NS]...`: prints the kubeconfig path, then serves the
// test API server on 127.0.0.1 until SIGINT/SIGTERM. Exit 2 for a usage error.
import { parseArgs } from 'node:util';
import { startTestCluster } from './cluster.js';

const USAGE = 'usage: testcluster [--port N] [--dir DIR] [--namespace NS]...\nPrints the kubeconfig path, then serves on 127.0.0.1 until SIGINT/SIGTERM.\n';

/** `npm run testcluster [-- --port N] [--dir DIR] [--namespace NS]...`: runs the test API server until interrupted. */
async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: { port: { type: 'string' }, dir: { type: 'string' }, namespace: { type: 'string', multiple: true }, help: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    process.stderr.write(`testcluster: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) return void process.stdout.write(USAGE);
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    process.stderr.write(`testcluster: --port: expected an integer from 0 to 65535, got '${values.port}'\n`);
    process.exit(2);
  }
  const c = await startTestCluster({ port, dir: values.dir, namespaces: values.namespace ?? [] });
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
