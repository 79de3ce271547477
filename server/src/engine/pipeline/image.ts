// VAE output -> 8-bit RGB -> PNG/JPEG/WebP. sharp encodes on libuv's thread pool, off the JavaScript thread.
import sharp from 'sharp';
import type { OutputFormat } from '../types.js';

/** Image `index` of a [batch, 3, H, W] tensor in [-1, 1] as interleaved RGB bytes: round(clamp(x/2 + 0.5) * 255). */
export function toRgb(pixels: Float32Array, index: number, width: number, height: number): Buffer {
  const plane = width * height;
  const base = index * 3 * plane;
  const rgb = Buffer.alloc(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const value = Math.min(1, Math.max(0, pixels[base + c * plane + p]! / 2 + 0.5));
      rgb[3 * p + c] = Math.round(value * 255);
    }
  }
  return rgb;
}

export const MIME_TYPES: Record<OutputFormat, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };

/** compression 0..100: JPEG/WebP quality (default 90), PNG zlib effort 0..9 (default 6). */
export function encodeImage(rgb: Buffer, width: number, height: number, format: OutputFormat, compression?: number): Promise<Buffer> {
  const image = sharp(rgb, { raw: { width, height, channels: 3 } });
  switch (format) {
    case 'png':
      return image.png({ compressionLevel: compression === undefined ? 6 : Math.round((compression * 9) / 100) }).toBuffer();
    case 'jpeg':
      return image.jpeg({ quality: Math.max(1, compression ?? 90) }).toBuffer();
    case 'webp':
      return image.webp({ quality: Math.max(1, compression ?? 90) }).toBuffer();
  }
}
