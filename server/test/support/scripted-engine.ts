// A test double of the Engine seam for HTTP-layer tests: it answers with real (tiny, solid-colour) images whose
// colour derives from the seed, and can be made slow or failing. The real engine is tested in test/engine/.
import sharp from 'sharp';
import type { Engine, EngineInfo, GenerationRequest, GenerationResult } from '../../src/engine/types.js';
import { imageSeed } from '../../src/engine/pipeline/latents.js';

export const SCRIPTED_INFO: EngineInfo = {
  family: 'sd',
  device: 'cpu',
  deviceReason: 'scripted test engine',
  dtype: 'fp32',
  defaults: { width: 64, height: 64, steps: 4, guidanceScale: 7.5, scheduler: 'euler' },
  limits: { sizeMultiple: 8, minSize: 64, maxSize: 512, maxSteps: 50 },
};

export class ScriptedEngine implements Engine {
  info: EngineInfo | undefined;
  /** Every request generated, in order, whichever batch it ran in. */
  readonly requests: GenerationRequest[] = [];
  /** Milliseconds each generate() call (one batch) takes; aborts are honoured while waiting. */
  delayMs = 0;
  failWith: Error | undefined;

  constructor(private readonly loadDelayMs = 0) {}

  async load(): Promise<EngineInfo> {
    await new Promise((r) => setTimeout(r, this.loadDelayMs));
    this.info = SCRIPTED_INFO;
    return SCRIPTED_INFO;
  }

  /** Every generate() call's batch, in order: a lone request is a call of size 1. What the queue tests check. */
  readonly calls: GenerationRequest[][] = [];

  async generate(requests: GenerationRequest[], signal?: AbortSignal): Promise<GenerationResult[]> {
    this.calls.push(requests);
    this.requests.push(...requests);
    if (this.delayMs > 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, this.delayMs);
        signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(signal.reason);
        });
      });
    }
    if (this.failWith) throw this.failWith;
    return Promise.all(requests.map(async (request) => ({ images: await this.images(request), timings: { unet: 0.001 } })));
  }

  private images(request: GenerationRequest) {
    return Promise.all(
      Array.from({ length: request.n }, async (_, i) => {
        const seed = imageSeed(request.seed, i);
        const data = await sharp({
          create: { width: request.width, height: request.height, channels: 3, background: { r: seed % 256, g: (seed >> 8) % 256, b: 7 } },
        })
          .toFormat(request.outputFormat)
          .toBuffer();
        return { data, mimeType: `image/${request.outputFormat}`, seed };
      }),
    );
  }

  async close(): Promise<void> {}
}
