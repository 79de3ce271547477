// The machine's dense float32 throughput as onnxruntime achieves it: an N x N by N x N MatMul graph, built on
// the fly, timed on the same execution provider settings as the engine (CPU, all optimisations).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';

const { onnx } = onnxProto;

function matmulModel(size: number): Uint8Array {
  const tensor = (name: string) => ({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: size }, { dimValue: size }] } } },
  });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'hypergen-bench',
    graph: {
      name: 'matmul',
      node: [{ opType: 'MatMul', input: ['a', 'b'], output: ['c'], name: 'matmul' }],
      input: [tensor('a'), tensor('b')],
      output: [tensor('c')],
    },
  }).finish();
}

export interface MatmulPeak {
  size: number;
  bestSeconds: number;
  gflops: number;
}

/** Best of `runs` timed MatMuls (after one warm-up), in GFLOP/s (2 N^3 FLOPs per product). */
export async function matmulPeak(size = 1024, runs = 8): Promise<MatmulPeak> {
  const dir = mkdtempSync(join(tmpdir(), 'hg-matmul-'));
  try {
    const path = join(dir, 'matmul.onnx');
    writeFileSync(path, matmulModel(size));
    const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
    const data = Float32Array.from({ length: size * size }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
    const feeds = { a: new ort.Tensor('float32', data, [size, size]), b: new ort.Tensor('float32', data, [size, size]) };
    await session.run(feeds);
    let best = Infinity;
    for (let r = 0; r < runs; r++) {
      const start = process.hrtime.bigint();
      await session.run(feeds);
      best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
    }
    await session.release();
    return { size, bestSeconds: best, gflops: (2 * size ** 3) / best / 1e9 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
