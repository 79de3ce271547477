// Serving benchmarks (issue "serving under load"), each measured side by side in one run:
//  a) GET /v1/models req/s and p99 at 64 connections: HyperGen vs FastAPI + uvicorn (the original Python stack);
//  b) images/s at concurrency 1, 4, 8, 16 with dynamic batching vs --max-batch-size 1, same pipeline;
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

/** Closed loop: `concurrency` clients post generation requests back to back for SECONDS. */
async function imagesPerSecond(url: string, concurrency: number): Promise<{ perSecond: number; errors: number }> {
  const deadline = performance.now() + SECONDS * 1000;
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

async function batchedVsUnbatched(): Promise<void> {
  console.log(`\n[b] images/s, ${IMAGE_BODY}, ${SECONDS} s per point (target: >= 2.5x at concurrency 8)`);
  const rows: string[] = [];
  const results: Record<string, number[]> = {};
  for (const [label, flags] of [
    ['batched (max-batch-size 16)', ['--max-batch-size', '16', '--batch-wait-ms', '20']],
    ['unbatched (max-batch-size 1)', ['--max-batch-size', '1']],
  ] as const) {
    const server = await startServerProcess(['serve', MODEL, '--log-level', 'warn', '--max-queue-size', '64', ...flags]);
    try {
      await server.ready();
      await imagesPerSecond(server.url, 2); // warm-up
      results[label] = [];
      for (const concurrency of [1, 4, 8, 16]) {
        const r = await imagesPerSecond(server.url, concurrency);
        results[label]!.push(r.perSecond);
        rows.push(`    ${label.padEnd(30)} c=${String(concurrency).padStart(2)}: ${fmt(r.perSecond, 2)} images/s${r.errors ? `, ${r.errors} errors` : ''}`);
      }
    } finally {
      await server.stop('SIGKILL');
    }
  }
  console.log(rows.join('\n'));
  const [batched, unbatched] = Object.values(results) as [number[], number[]];
  console.log(`    ratio batched/unbatched: ${[1, 4, 8, 16].map((c, i) => `c=${c} ${fmt(batched[i]! / unbatched[i]!, 2)}x`).join(', ')}`);
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
