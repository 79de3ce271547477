// `make demo`: kubectl apply examples/shapes.yaml on the local test cluster (pods are local processes), wait for
// Ready, read the generated key from its Secret and draw "a red circle on a blue background" through the Service with
// the OpenAI SDK.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import OpenAI from 'openai';
import { REPO_ROOT } from '../server-process.js';
import { startStack } from './stack.js';

const out = resolve(process.argv[2] ?? 'demo.png');
const say = (s: string) => process.stdout.write(`${s}\n`);

const stack = await startStack();
let failed = false;
try {
  const k = stack.kubectl;
  say(`test cluster at ${stack.cluster.url}; operator running`);
  say((await k.ok(['apply', '-f', join(REPO_ROOT, 'examples/shapes.yaml')])).trim());
  await k.ok(['wait', '--for=condition=Ready', 'hgm/shapes', '--timeout=180s'], { timeoutMs: 200_000 });
  say((await k.ok(['get', 'hgm', 'shapes'])).trim());
  say((await k.ok(['get', 'pods', '-o', 'wide'])).trim());
  const [secret, key] = (await k.ok(['get', 'hgm', 'shapes', '-o', 'jsonpath={.status.apiKeySecret.name} {.status.apiKeySecret.key}'])).trim().split(' ');
  const apiKey = Buffer.from(await k.ok(['get', 'secret', secret!, '-o', `jsonpath={.data.${key!.replace(/\./g, '\\.')}}`]), 'base64').toString().trim();
  say(`API key read from Secret ${secret}/${key} (${apiKey.length} characters)`);
  const baseURL = `${stack.serviceUrl('default', 'shapes', 'http')}/v1`;
  const client = new OpenAI({ apiKey, baseURL, maxRetries: 2 });
  say(`OpenAI base URL: ${baseURL}`);
  const models = await client.models.list();
  say(`models: ${models.data.map((m) => m.id).join(', ')}`);
  const img = await client.images.generate({ model: models.data[0]!.id, prompt: 'a red circle on a blue background', size: '128x128', seed: 0, response_format: 'b64_json' } as unknown as OpenAI.ImageGenerateParamsNonStreaming);
  writeFileSync(out, Buffer.from(img.data![0]!.b64_json!, 'base64'));
  say(`image saved to ${out}`);
  say((await k.ok(['delete', 'hgm', 'shapes', '--wait=true'])).trim());
  for (let i = 0; stack.runner.processes().length && i < 600; i++) await new Promise((r) => setTimeout(r, 50));
  say(`server processes left: ${stack.runner.processes().length}; objects left: ${(await k.ok(['get', 'hgm,deploy,pods,svc,secrets', '-o', 'name'])).trim().split('\n').filter((l) => l && l !== 'service/kubernetes').length}`);
} catch (e) {
  failed = true;
  process.stderr.write(`demo failed: ${(e as Error).message}\n--- operator output (tail) ---\n${stack.operatorOutput().slice(-4000)}\n`);
} finally {
  await stack.stop();
  say('cluster, operator and pod processes stopped');
}
process.exit(failed ? 1 : 0);
