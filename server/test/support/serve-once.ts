// One `hypergen serve` start for tests: start the real CLI, wait until ready, make one small generation, stop it
// (awaited); returns the answer's status, the first image and everything the server logged.
import { startServerProcess } from '../../../hack/src/server-process.js';

export interface ServedOnce {
  status: number;
  /** The first image of a 200 answer. */
  image: Buffer | undefined;
  output: string;
}

export async function serveOnce(args: string[], env: Record<string, string> = {}): Promise<ServedOnce> {
  const server = await startServerProcess(args, env);
  try {
    await server.ready();
    const res = await fetch(`${server.url}/v1/images/generations`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ prompt: 'a photo of a cat', size: '64x64', num_inference_steps: 2, seed: 1 }),
    });
    const image = res.ok ? Buffer.from(((await res.json()) as { data: { b64_json: string }[] }).data[0]!.b64_json, 'base64') : undefined;
    return { status: res.status, image, output: server.output() };
  } finally {
    await server.stop('SIGKILL');
  }
}
