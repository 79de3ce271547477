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
  readonly requests: GenerationRequest[] = [];
  /** Milliseconds each generation takes; aborts are honoured while waiting. */
  delayMs = 0;
  failWith: Error | undefined;

  constructor(private readonly loadDelayMs = 0) {}

  async load(): Promise<EngineInfo> {
    await new Promise((r) => setTimeout(r, this.loadDelayMs));
    this.info = SCRIPTED_INFO;
    return SCRIPTED_INFO;
  }

  async generate(request: GenerationRequest, signal?: AbortSignal): Promise<GenerationResult> {
    this.requests.push(request);
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
    const images = await Promise.all(
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
    return { images, timings: { unet: 0.001 } };
  }

  /** Batches run request by request here; what the tests check is how the queue forms them. */
  readonly batches: GenerationRequest[][] = [];

  async generateBatch(requests: GenerationRequest[], signal?: AbortSignal): Promise<GenerationResult[]> {
    this.batches.push(requests);
    return Promise.all(requests.map((request) => this.generate(request, signal)));
  }

  async close(): Promise<void> {}
}
