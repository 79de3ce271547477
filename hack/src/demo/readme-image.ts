// `make readme-image`: serves the default model as `make run` does, sends the README's own curl body and writes the
// picture the README shows (docs/images/red-circle.png).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT, startServerProcess } from '../server-process.js';
import { DEFAULT_MODEL, README_IMAGE, readmeGenerationBody } from './readme-example.js';

const body = readmeGenerationBody();
const server = await startServerProcess(['serve', DEFAULT_MODEL.dir, '--model-id', DEFAULT_MODEL.id, '--device', 'cpu', '--log-level', 'warn']);
try {
  await server.ready(120_000);
  const res = await fetch(`${server.url}/v1/images/generations`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`generation failed: HTTP ${res.status} ${await res.text()}`);
  const { data } = (await res.json()) as { data: { b64_json: string; seed: number }[] };
  const out = join(REPO_ROOT, README_IMAGE);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, Buffer.from(data[0]!.b64_json, 'base64'));
  process.stdout.write(`${README_IMAGE}: ${JSON.stringify(body)} -> seed ${data[0]!.seed}\n`);
} finally {
  await server.stop();
}
