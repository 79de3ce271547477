#!/usr/bin/env node
// Runs the Hub mock for demos: node hack/dist/hubmock/cli.js --repo org/name=models/tiny-sd [--port 0] [--token-file F]
// then HF_ENDPOINT=<printed url> hypergen pull hf://org/name --dir DIR.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startHubMock } from './server.js';

const { values } = parseArgs({
  options: { repo: { type: 'string', multiple: true, default: [] }, port: { type: 'string', default: '0' }, 'token-file': { type: 'string' } },
});
const repos = Object.fromEntries(
  values.repo.map((spec) => {
    const [id, dir] = spec.split('=');
    if (!id || !dir || !/^[^/]+\/[^/]+$/.test(id)) {
      process.stderr.write(`hubmock: --repo expects org/name=FOLDER, got '${spec}'\n`);
      process.exit(2);
    }
    return [id, dir];
  }),
);
const token = values['token-file'] ? readFileSync(values['token-file'], 'utf8').trim() : undefined;
const mock = await startHubMock({ repos, token, port: Number(values.port) });
process.stdout.write(`${JSON.stringify({ msg: 'listening', url: mock.url, cdnUrl: mock.cdnUrl, repos: Object.keys(repos) })}\n`);
const stop = () => void mock.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
