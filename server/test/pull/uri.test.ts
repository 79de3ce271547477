import { describe, expect, it } from '@jest/globals';
import { isNeededFile, missingFiles } from '../../src/pull/pipeline.js';
import { isModelUri, parseModelSource } from '../../src/pull/uri.js';

describe('model URIs', () => {
  it('parses hf:// with revision and subfolder, in either order', () => {
    expect(parseModelSource('hf://org/name')).toEqual({ kind: 'hf', repo: 'org/name', revision: 'main', subfolder: '' });
    expect(parseModelSource('hf://org/name@v1.0/onnx/')).toEqual({ kind: 'hf', repo: 'org/name', revision: 'v1.0', subfolder: 'onnx' });
    expect(parseModelSource('hf://org/name@refs/pr/3/onnx')).toEqual({ kind: 'hf', repo: 'org/name', revision: 'refs/pr/3', subfolder: 'onnx' });
    expect(parseModelSource('hf://org/name/onnx@abc')).toEqual({ kind: 'hf', repo: 'org/name', revision: 'abc', subfolder: 'onnx' });
    expect(() => parseModelSource('hf://name')).toThrow(/not a valid Hub URI/);
    expect(() => parseModelSource('hf://org/name/../x')).toThrow(/not a plain relative path/);
  });

  it('maps pvc://CLAIM/path under the PVC root, archives with an optional sha256, and plain paths', () => {
    expect(parseModelSource('pvc://cache/sd/v1', '/mnt')).toEqual({ kind: 'pvc', claim: 'cache', path: '/mnt/cache/sd/v1' });
    expect(parseModelSource('pvc://cache')).toEqual({ kind: 'pvc', claim: 'cache', path: '/models/cache' });
    expect(() => parseModelSource('pvc://cache/../etc')).toThrow(/not a valid PVC URI/);
    expect(parseModelSource(`https://h/m.tar.gz#sha256=${'A'.repeat(64)}`)).toEqual({ kind: 'archive', url: 'https://h/m.tar.gz', sha256: 'a'.repeat(64) });
    expect(() => parseModelSource('https://h/m.zip')).toThrow(/only .tar, .tar.gz and .tgz/);
    expect(parseModelSource('models/tiny-sd')).toEqual({ kind: 'path', path: 'models/tiny-sd' });
    expect(['hf://a/b', 'pvc://c', 'https://h/x.tar', 'models/x'].map(isModelUri)).toEqual([true, true, true, false]);
  });
});

describe('ONNX pipeline file selection', () => {
  const sd = ['text_encoder', 'unet', 'vae_decoder', 'tokenizer', 'scheduler'];
  it('keeps the graphs, their external data, configs and tokenizer files; skips other formats and variants', () => {
    const keep = ['model_index.json', 'unet/model.onnx', 'unet/model.onnx_data', 'unet/weights.pb', 'unet/config.json', 'tokenizer/vocab.json', 'scheduler/scheduler_config.json'];
    const skip = ['README.md', 'unet/diffusion_pytorch_model.safetensors', 'unet/model.fp16.onnx', 'unet/model_fp16.onnx', 'unet/model_fp16.onnx_data', 'vae_encoder/model.onnx', 'safety_checker/model.onnx', 'text_encoder/pytorch_model.bin', 'unet/model.ckpt'];
    expect(keep.filter((p) => isNeededFile(p, sd))).toEqual(keep);
    expect(skip.filter((p) => isNeededFile(p, sd))).toEqual([]);
  });

  it('lists what is missing, SDXL components included when model_index names them', () => {
    const index = { text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'], tokenizer_2: ['transformers', 'CLIPTokenizer'] };
    const present = new Set(['model_index.json', 'text_encoder/model.onnx', 'text_encoder/config.json', 'unet/model.onnx', 'unet/config.json', 'vae_decoder/model.onnx', 'vae_decoder/config.json', 'tokenizer/tokenizer.json', 'scheduler/scheduler_config.json']);
    expect(missingFiles(present, {})).toEqual([]);
    expect(missingFiles(present, index)).toEqual(['text_encoder_2/model.onnx', 'text_encoder_2/config.json', 'tokenizer_2/vocab.json', 'tokenizer_2/merges.txt']);
  });
});
