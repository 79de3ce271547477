// The recorded sd15-tiny case of the parity fixtures (c01-euler-cfg, diffusers' own intermediates) run through one
// converted pipeline folder's graphs: its first UNet call and its final VAE decode, for comparing graph forms.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { float32Data, floatTensor } from '../../src/engine/pipeline/tensors.js';
import { readNpy, readNpyFloat32 } from './npy.js';

const PARITY = resolve('server/test/fixtures/parity');
/** The sd15-tiny diffusers folder the case was recorded with. */
export const SD15_TINY = join(PARITY, 'diffusers', 'sd15-tiny');
const rec = (name: string): string => join(PARITY, 'intermediates/torch-seed/sd15-tiny/c01-euler-cfg', `${name}.npy`);

/** The case's first UNet call (CFG batch 2: negative then prompt embeddings) through `dir`'s UNet. */
export async function recordedUnetCall(dir: string): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(join(dir, 'unet', 'model.onnx'));
  try {
    const sample = readNpy(rec('unet0_sample'));
    const batch = sample.shape[0] as number;
    const t = readNpyFloat32(rec('unet0_timestep'))[0] as number;
    const neg = readNpyFloat32(rec('text_embeds_negative'));
    const context = new Float32Array(neg.length * 2);
    context.set(neg);
    context.set(readNpyFloat32(rec('text_embeds_prompt')), neg.length);
    const out = await session.run({
      sample: floatTensor(session, 'sample', sample.data as Float32Array, sample.shape),
      timestep: floatTensor(session, 'timestep', new Float32Array(batch).fill(t), [batch]),
      encoder_hidden_states: floatTensor(session, 'encoder_hidden_states', context, [batch, 77, context.length / batch / 77]),
    });
    return float32Data(out.out_sample!, 'out_sample');
  } finally {
    await session.release();
  }
}

/** The case's final latents decoded by `dir`'s VAE decoder (divided by the scaling_factor of its config.json). */
export async function recordedDecode(dir: string): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(join(dir, 'vae_decoder', 'model.onnx'));
  try {
    const latents = readNpy(rec('final_latents'));
    const scaling = (JSON.parse(readFileSync(join(dir, 'vae_decoder', 'config.json'), 'utf8')) as { scaling_factor: number }).scaling_factor;
    const scaled = Float32Array.from(latents.data as Float32Array, (v) => v / scaling);
    const out = await session.run({ latent_sample: floatTensor(session, 'latent_sample', scaled, latents.shape) });
    return float32Data(out.sample!, 'sample');
  } finally {
    await session.release();
  }
}
