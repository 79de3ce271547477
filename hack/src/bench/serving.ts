// Serving benchmarks (issue "serving under load"), each measured side by side in one run:
//  a) GET /v1/models req/s and p99 at 64 connections: HyperGen vs FastAPI + uvicorn (the original Python stack);
//  b) images/s at concurrency 1, 4, 8, 16 with dynamic batching vs --max-batch-size 1, same pipeline, both servers up
//     and their rounds interleaved (so a busy machine slows both alike and the ratio holds);
//  c) GET /v1/models p99 while generation saturates the engine.
// BENCH_SERVING=a,c picks parts; BENCH_SECONDS, BENCH_MODEL and BENCH_SIZE tune them.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, startServerProcess } from '../server-process.js';
import { loadGet, type LoadResult } from './http-load.js';

const MODEL = process.env.BENCH_MODEL ?? 'models/tiny-sd';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const PYTHON = '/usr/bin/python3';
/** The generation request used by b) and c). */
const IMAGE_BODY = JSON.stringify({ prompt: 'a photo of a cat', size: process.env.BENCH_SIZE ?? '256x256', num_inference_steps: 4, guidance_scale: 7.5 });

const fmt = (n: number, digits = 1) => n.toFixed(digits);
const describe = (r: LoadResult) => `${fmt(r.perSecond, 0)} req/s, p50 ${fmt(r.p50Ms, 2)} ms, p99 ${fmt(r.p99Ms, 2)} ms, errors ${r.errors}`;

/** Debian's FastAPI and uvicorn stand for the original stack; installed here when missing. */
function ensureFastApi(): boolean {
  const probe = () => spawnSync(PYTHON, ['-c', 'import fastapi, uvicorn'], { stdio: 'ignore' }).status === 0;
  if (probe()) return true;
  console.log('    installing python3-fastapi and python3-uvicorn (Debian) for the comparison ...');
  spawnSync('apt-get', ['install', '-y', '-qq', 'python3-fastapi', 'python3-uvicorn'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return probe();
}

async function startFastApi(): Promise<{ url: string; stop: () => void }> {
  const port = 18_000 + Math.floor(Math.random() * 1000);
  const child = spawn(PYTHON, ['-m', 'uvicorn', 'fastapi_models:app', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warning'], {
    cwd: join(REPO_ROOT, 'hack/bench'),
    env: { ...process.env, MODEL_ID: MODEL },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if ((await fetch(`${url}/v1/models`).catch(() => undefined))?.ok) return { url, stop: () => child.kill('SIGKILL') };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error('uvicorn did not start');
}

/** Warm-up second, then the measured run. */
async function measure(url: string, connections: number): Promise<LoadResult> {
  await loadGet(url, { connections, seconds: 1 });
  return loadGet(url, { connections, seconds: SECONDS });
}

async function modelsVsFastApi(): Promise<void> {
  console.log(`\n[a] GET /v1/models at 64 connections, ${SECONDS} s each (target: >= 3x FastAPI + uvicorn)`);
  if (!ensureFastApi()) return console.log('    FastAPI/uvicorn unavailable: comparison skipped');
  const server = await startServerProcess(['serve', MODEL, '--log-level', 'warn']);
  const fastApi = await startFastApi();
  try {
    await server.ready();
    const ours = await measure(`${server.url}/v1/models`, 64);
    const theirs = await measure(`${fastApi.url}/v1/models`, 64);
    console.log(`    hypergen:            ${describe(ours)}`);
    console.log(`    FastAPI + uvicorn:   ${describe(theirs)}`);
    console.log(`    ratio: ${fmt(ours.perSecond / theirs.perSecond, 2)}x req/s, p99 ${fmt(theirs.p99Ms / ours.p99Ms, 2)}x lower`);
  } finally {
    fastApi.stop();
    await server.stop('SIGKILL');
  }
}

/** Closed loop: `concurrency` clients post generation requests back to back for `seconds`. */
async function imagesPerSecond(url: string, concurrency: number, seconds = SECONDS): Promise<{ perSecond: number; errors: number }> {
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  let images = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const res = await fetch(`${url}/v1/images/generations`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: IMAGE_BODY });
        await res.arrayBuffer();
        if (res.ok) images++;
        else errors++;
      }
    }),
  );
  return { perSecond: images / ((performance.now() - started) / 1000), errors };
}

/** Rounds per point in b), alternating batched and unbatched. */
const ROUNDS = 3;

async function batchedVsUnbatched(): Promise<void> {
  console.log(`\n[b] images/s, ${IMAGE_BODY}, ${SECONDS} s per point in ${ROUNDS} interleaved rounds (targets: batched/unbatched >= 0.95x at c=1, >= 1.5x at c=8)`);
  // Defaults otherwise (--batch-wait-ms 0): an idle engine starts at once, requests arriving meanwhile batch.
  const configs = [
    ['batched (max-batch-size 16)', ['--max-batch-size', '16']],
    ['unbatched (max-batch-size 1)', ['--max-batch-size', '1']],
  ] as const;
  const servers = await Promise.all(configs.map(([, flags]) => startServerProcess(['serve', MODEL, '--log-level', 'warn', '--max-queue-size', '64', ...flags])));
  try {
    await Promise.all(servers.map((s) => s.ready()));
    for (const s of servers) await imagesPerSecond(s.url, 2, 1); // warm-up
    const concurrencies = [1, 4, 8, 16];
    const perSecond = configs.map(() => concurrencies.map(() => 0));
    const errors = configs.map(() => concurrencies.map(() => 0));
    for (const [ci, concurrency] of concurrencies.entries()) {
      for (let round = 0; round < ROUNDS; round++) {
        for (const [si, server] of servers.entries()) {
          const r = await imagesPerSecond(server.url, concurrency, SECONDS / ROUNDS);
          perSecond[si]![ci]! += r.perSecond / ROUNDS;
          errors[si]![ci]! += r.errors;
        }
      }
    }
    for (const [si, [label]] of configs.entries()) {
      for (const [ci, concurrency] of concurrencies.entries()) {
        const e = errors[si]![ci]!;
        console.log(`    ${label.padEnd(30)} c=${String(concurrency).padStart(2)}: ${fmt(perSecond[si]![ci]!, 2)} images/s${e ? `, ${e} errors` : ''}`);
      }
    }
    const [batched, unbatched] = perSecond as [number[], number[]];
    console.log(`    ratio batched/unbatched: ${concurrencies.map((c, i) => `c=${c} ${fmt(batched[i]! / unbatched[i]!, 2)}x`).join(', ')}`);
  } finally {
    await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  }
}

async function modelsWhileSaturated(): Promise<void> {
  console.log(`\n[c] GET /v1/models p99 while 8 clients saturate generation (target: < 10 ms)`);
  const server = await startServerProcess(['serve', MODEL, '--log-level', 'warn', '--max-queue-size', '64']);
  try {
    await server.ready();
    const idle = await loadGet(`${server.url}/v1/models`, { connections: 4, seconds: 2 });
    const saturating = imagesPerSecond(server.url, 8);
    await new Promise((r) => setTimeout(r, 500));
    const busy = await loadGet(`${server.url}/v1/models`, { connections: 4, seconds: Math.max(1, SECONDS - 1) });
    const generation = await saturating;
    console.log(`    idle:        ${describe(idle)}`);
    console.log(`    saturated:   ${describe(busy)} (generation meanwhile: ${fmt(generation.perSecond, 2)} images/s)`);
  } finally {
    await server.stop('SIGKILL');
  }
}

export async function run(): Promise<void> {
  if (!existsSync(join(REPO_ROOT, MODEL, 'model_index.json'))) throw new Error(`${MODEL} is missing: run make tiny-models`);
  const parts = (process.env.BENCH_SERVING ?? 'a,b,c').split(',');
  if (parts.includes('a')) await modelsVsFastApi();
  if (parts.includes('b')) await batchedVsUnbatched();
  if (parts.includes('c')) await modelsWhileSaturated();
}
