// The GPU check's measurements (hack/gpu-check.sh): `case` loads one pipeline on one device and prints one JSON
// line per batch size (s/step, s/image; measured, or extrapolated from a few steps when the full run would not fit
// its budget, and then labelled so); `table` prints those lines as one table. Figures only, no assertions.
//   node hack/dist/bench/gpu-check.js case --model DIR --device webgpu|cuda|cpu --size 1024 --steps 30
//        [--batches 1,4] [--budget-s 120] [--probe-steps 2] [--no-warmup] [--label sdxl-shape]   >> rows.jsonl
//   node hack/dist/bench/gpu-check.js table rows.jsonl
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createEngine } from '@hypergen/server/engine/index.js';
import type { GenerationRequest, GenerationResult } from '@hypergen/server/engine/types.js';
import { stepTimes } from './step-times.js';

export interface Row {
  label: string;
  size: string;
  steps: number;
  device: string;
  /** What the engine reported: the device it loaded on and why. */
  deviceReason?: string;
  dtype?: string;
  batch?: number;
  stepS?: number;
  imageS?: number;
  loadS?: number;
  /** 'measured' (the full run), 'extrapolated from K steps', or why there is no figure. */
  note: string;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

interface CaseOptions {
  model: string;
  label: string;
  device: 'webgpu' | 'cuda' | 'cpu';
  size: number;
  steps: number;
  batches: number[];
  budgetS: number;
  probeSteps: number;
  warmup: boolean;
}

/**
 * Seconds of the fixed part (text encoders, VAE, PNG) and of one UNet step (whole batch) of one generation, from its
 * result and the step times the engine logged for it.
 */
function split(result: GenerationResult, steps: number[]): { fixedS: number; stepS: number } {
  return { fixedS: result.timings.total! - sum(steps), stepS: median(steps) };
}

export async function measureCase(o: CaseOptions, emit: (row: Row) => void): Promise<void> {
  const started = performance.now();
  const left = () => o.budgetS - (performance.now() - started) / 1000;
  const base = { label: o.label, size: `${o.size}x${o.size}`, steps: o.steps, device: o.device };
  // fp16 asked for everywhere: the exports are fp16 (onnxruntime's CPU provider runs them with casts to float32).
  const telemetry = stepTimes();
  const engine = createEngine({ modelDir: o.model, device: o.device, dtype: 'fp16', logger: telemetry.logger });
  const generate = async (request: GenerationRequest) => (await engine.generate([request]))[0]!;
  try {
    let info;
    try {
      info = await engine.load();
    } catch (error) {
      emit({ ...base, note: `not loaded: ${(error as Error).message}` });
      return;
    }
    const loadS = (performance.now() - started) / 1000;
    // Progress on stderr (the rows go to stdout): a run stopped at its limit still shows how far it got.
    const progress = (what: string) => process.stderr.write(`gpu-check: ${o.label} on ${o.device}: ${what} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
    progress(`loaded on ${info.device}, ${info.dtype}: ${info.deviceReason}`);
    const loaded = { ...base, deviceReason: info.deviceReason, dtype: info.dtype, loadS };
    for (const batch of o.batches) {
      const request = (steps: number): GenerationRequest => ({
        prompt: 'a photo of an astronaut riding a horse on the moon',
        n: batch,
        width: o.size,
        height: o.size,
        steps,
        guidanceScale: info.defaults.guidanceScale > 1 ? info.defaults.guidanceScale : 7.5,
        seed: 42,
        scheduler: 'euler',
        outputFormat: 'png',
      });
      // First runs at a shape compile shaders / pick kernels: not counted.
      if (o.warmup) {
        await generate(request(1));
        progress(`batch ${batch} warmed up`);
      }
      const probe = await generate(request(o.probeSteps));
      progress(`batch ${batch}: ${o.probeSteps} step${o.probeSteps > 1 ? 's' : ''} in ${probe.timings.total!.toFixed(2)} s`);
      const { fixedS, stepS } = split(probe, telemetry.last());
      const predicted = fixedS + o.steps * stepS;
      if (o.probeSteps < o.steps && predicted * 1.2 < left()) {
        const full = await generate(request(o.steps));
        emit({ ...loaded, batch, stepS: split(full, telemetry.last()).stepS, imageS: full.timings.total! / batch, note: 'measured' });
      } else {
        const note = o.probeSteps >= o.steps ? 'measured' : `extrapolated from ${o.probeSteps} step${o.probeSteps > 1 ? 's' : ''}`;
        emit({ ...loaded, batch, stepS, imageS: predicted / batch, note });
      }
    }
  } finally {
    await engine.close();
  }
}

export function formatTable(rows: Row[]): string {
  const f = (n: number | undefined) => (n === undefined ? '-' : n < 10 ? n.toFixed(3) : n.toFixed(1));
  const head = ['shape', 'size', 'steps', 'device', 'dtype', 'batch', 's/step', 's/image', 'load s', 'note'];
  const body = rows.map((r) => [r.label, r.size, String(r.steps), r.device, r.dtype ?? '-', r.batch === undefined ? '-' : String(r.batch), f(r.stepS), f(r.imageS), f(r.loadS), r.note]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (i === head.length - 1 ? 0 : b[i]!.length))));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  const reasons = [...new Set(rows.filter((r) => r.deviceReason !== undefined).map((r) => `${r.device}: ${r.deviceReason}`))];
  return [line(head), ...body.map(line), '', 's/step: one UNet step of the whole batch (classifier-free guidance: 2 x batch rows); s/image: the generation (text encoders, all steps, VAE, PNG) / batch', ...reasons.map((r) => `  ${r}`)].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'table') {
    if (rest.length !== 1) throw new Error('table needs one file of JSON lines');
    const rows = readFileSync(rest[0]!, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Row);
    console.log(formatTable(rows));
    return 0;
  }
  if (command !== 'case') throw new Error(`unknown command ${command ?? '(none)'}: case or table`);
  const { values } = parseArgs({
    args: rest,
    options: {
      model: { type: 'string' },
      label: { type: 'string' },
      device: { type: 'string' },
      size: { type: 'string' },
      steps: { type: 'string' },
      batches: { type: 'string', default: '1,4' },
      'budget-s': { type: 'string', default: '120' },
      'probe-steps': { type: 'string', default: '2' },
      'no-warmup': { type: 'boolean', default: false },
    },
  });
  const device = values.device;
  if (device !== 'webgpu' && device !== 'cuda' && device !== 'cpu') throw new Error(`--device must be webgpu, cuda or cpu, got ${device}`);
  if (!values.model) throw new Error('--model DIR is required');
  const int = (name: string, v: string | undefined) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
    return n;
  };
  await measureCase(
    {
      model: values.model,
      label: values.label ?? values.model,
      device,
      size: int('size', values.size),
      steps: int('steps', values.steps),
      batches: values.batches.split(',').map((b) => int('batches', b)),
      budgetS: int('budget-s', values['budget-s']),
      probeSteps: int('probe-steps', values['probe-steps']),
      warmup: !values['no-warmup'],
    },
    (row) => console.log(JSON.stringify(row)),
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`gpu-check: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
