#!/usr/bin/env node
// The `hypergen` command npm links (node_modules/.bin/hypergen): runs the compiled CLI, server/dist/cli.js. It is a
// committed file so that npm can link it on a fresh clone, where dist/ does not exist yet when bins are linked.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('hypergen: server/dist/cli.js is missing: build first (npm run build, or make build).\n');
  process.exit(1);
}
await import(cli.href);
