// AutoencoderKL.tiled_decode (diffusers): latents larger than the VAE's own tile are decoded in overlapping tiles
// whose seams are blended linearly, so the decoder's activations are one tile's whatever the image size. Pure
// given `decodeTile` (the VAE decoder session in the pipeline).

/** The tile geometry diffusers derives from the VAE config (AutoencoderKL.__init__). */
export interface VaeTiling {
  /** tile_latent_min_size: sample_size / 2 ** (len(block_out_channels) - 1). */
  readonly latentTile: number;
  /** tile_sample_min_size: the config's sample_size (pixels). */
  readonly sampleTile: number;
  /** tile_overlap_factor: 0.25 in every diffusers release. */
  readonly overlap: number;
}

export const TILE_OVERLAP_FACTOR = 0.25;

/** The geometry for a VAE of `sampleSize` pixels and scale factor `vaeScaleFactor` (2 ** (blocks - 1)). */
export function vaeTiling(sampleSize: number, vaeScaleFactor: number): VaeTiling {
  return { latentTile: Math.trunc(sampleSize / vaeScaleFactor), sampleTile: sampleSize, overlap: TILE_OVERLAP_FACTOR };
}

/** Whether diffusers tiles these latents ([B, C, h, w]): either side larger than one latent tile (AutoencoderKL._decode). */
export const needsTiling = (tiling: VaeTiling, latentShape: readonly number[]): boolean =>
  latentShape[2]! > tiling.latentTile || latentShape[3]! > tiling.latentTile;

/** A [B, C, H, W] float tensor. */
export interface Planar {
  data: Float32Array;
  shape: [number, number, number, number];
}

/** z[:, :, top:top+h, left:left+w] (clipped at the edges as Python slices are). */
function crop(z: Planar, top: number, left: number, height: number, width: number): Planar {
  const [b, c, H, W] = z.shape;
  const h = Math.min(height, H - top);
  const w = Math.min(width, W - left);
  const out = new Float32Array(b * c * h * w);
  for (let plane = 0; plane < b * c; plane++) {
    for (let y = 0; y < h; y++) {
      const from = plane * H * W + (top + y) * W + left;
      out.set(z.data.subarray(from, from + w), (plane * h + y) * w);
    }
  }
  return { data: out, shape: [b, c, h, w] };
}

/** AutoencoderKL.blend_v: the first rows of `b` fade in from the last rows of `a` (in place, as upstream). */
function blendV(a: Planar, b: Planar, extent: number): void {
  const [batch, c, ha, w] = a.shape;
  const hb = b.shape[2];
  const e = Math.min(ha, hb, extent);
  for (let plane = 0; plane < batch * c; plane++) {
    for (let y = 0; y < e; y++) {
      const t = y / e;
      const ia = plane * ha * w + (ha - e + y) * w;
      const ib = plane * hb * w + y * w;
      for (let x = 0; x < w; x++) b.data[ib + x] = a.data[ia + x]! * (1 - t) + b.data[ib + x]! * t;
    }
  }
}

/** AutoencoderKL.blend_h: the first columns of `b` fade in from the last columns of `a` (in place). */
function blendH(a: Planar, b: Planar, extent: number): void {
  const [batch, c, h, wa] = a.shape;
  const wb = b.shape[3];
  const e = Math.min(wa, wb, extent);
  for (let plane = 0; plane < batch * c; plane++) {
    for (let y = 0; y < h; y++) {
      const ia = plane * h * wa + y * wa + wa - e;
      const ib = plane * h * wb + y * wb;
      for (let x = 0; x < e; x++) {
        const t = x / e;
        b.data[ib + x] = a.data[ia + x]! * (1 - t) + b.data[ib + x]! * t;
      }
    }
  }
}

/** Writes `tile` at (top, left) of `out` ([B, C, H, W]). */
function paste(out: Planar, tile: Planar, top: number, left: number): void {
  const [b, c, h, w] = tile.shape;
  const [, , H, W] = out.shape;
  for (let plane = 0; plane < b * c; plane++) {
    for (let y = 0; y < h; y++) out.data.set(tile.data.subarray((plane * h + y) * w, (plane * h + y + 1) * w), plane * H * W + (top + y) * W + left);
  }
}

/**
 * AutoencoderKL.tiled_decode, step by step: (1) split the latents into tiles of `latentTile` every
 * latentTile * (1 - overlap) latents and decode each; (2) in row-major order, blend each decoded tile with the one
 * above and the one to its left over sampleTile * overlap pixels (in place, so later blends see earlier ones, as in
 * upstream); (3) keep the first sampleTile - blend pixels of each tile in both directions and join them.
 */
export async function tiledDecode(latents: Planar, tiling: VaeTiling, decodeTile: (tile: Planar) => Promise<Planar>): Promise<Planar> {
  const stride = Math.trunc(tiling.latentTile * (1 - tiling.overlap));
  const blend = Math.trunc(tiling.sampleTile * tiling.overlap);
  const limit = tiling.sampleTile - blend;
  const [, , h, w] = latents.shape;
  // 1. decode the tiles
  const rows: Planar[][] = [];
  for (let i = 0; i < h; i += stride) {
    const row: Planar[] = [];
    for (let j = 0; j < w; j += stride) row.push(await decodeTile(crop(latents, i, j, tiling.latentTile, tiling.latentTile)));
    rows.push(row);
  }
  // 2. blend the seams
  rows.forEach((row, i) =>
    row.forEach((tile, j) => {
      if (i > 0) blendV(rows[i - 1]![j]!, tile, blend);
      if (j > 0) blendH(row[j - 1]!, tile, blend);
    }),
  );
  // 3. crop and join
  const kept = rows.map((row) => row.map((tile) => crop(tile, 0, 0, limit, limit)));
  const height = kept.reduce((sum, row) => sum + row[0]!.shape[2], 0);
  const width = kept[0]!.reduce((sum, tile) => sum + tile.shape[3], 0);
  const [batch, channels] = kept[0]![0]!.shape;
  const out: Planar = { data: new Float32Array(batch * channels * height * width), shape: [batch, channels, height, width] };
  let top = 0;
  for (const row of kept) {
    let left = 0;
    for (const tile of row) {
      paste(out, tile, top, left);
      left += tile.shape[3];
    }
    top += row[0]!.shape[2];
  }
  return out;
}
