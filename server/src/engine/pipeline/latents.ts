// Per-image seeds, generators and noise as diffusers draws them with a list of CPU generators
// (`generator=[torch.Generator("cpu").manual_seed(seed + i) for i in range(n)]`): diffusers' randn_tensor draws each
// image's [1, ...] tensor from that image's own generator, so a batched image equals the same seed alone.
import { TorchGenerator } from '../noise.js';

/** The seed of image i of a request: (seed + i) mod 2^32, the value torch's mt19937 seeds with, returned per image. */
export function imageSeed(seed: number, index: number): number {
  return (seed + index) % 2 ** 32;
}

/** One generator per image of each request, in request order. */
export function imageGenerators(requests: readonly { seed: number; n: number }[]): TorchGenerator[] {
  return requests.flatMap((r) => Array.from({ length: r.n }, (_, i) => new TorchGenerator(imageSeed(r.seed, i))));
}

/**
 * randn_tensor(shape [1, ...imageShape], generator=g) for each image, concatenated on the batch axis, times `scale`
 * in float32 (prepare_latents: latents * init_noise_sigma; per-step noise: scale 1).
 */
export function drawNoise(generators: readonly TorchGenerator[], imageShape: readonly number[], scale = 1): Float32Array {
  const size = imageShape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size * generators.length);
  generators.forEach((generator, i) => {
    const noise = generator.randn([1, ...imageShape]);
    if (scale !== 1) for (let k = 0; k < size; k++) noise[k]! *= scale;
    out.set(noise, i * size);
  });
  return out;
}
