// The completion marker of a pulled folder: written last (atomically) after every file is verified, removed before
// any change, and checked against the files' sizes. Its presence is what "complete" means.
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/** Written last, after every file is verified: its presence is what "complete" means. */
export const MARKER_FILE = '.hypergen-complete.json';

const fileSchema = z.object({ path: z.string(), size: z.number(), sha256: z.string().optional(), gitOid: z.string().optional() });
const markerSchema = z.object({
  source: z.string(),
  commit: z.string().optional(),
  /** Diffusers sources: the precision the weight files were chosen for (fp16 variants or full-precision files). */
  variant: z.string().optional(),
  files: z.array(fileSchema),
  completedAt: z.string(),
});

export type CachedFile = z.infer<typeof fileSchema>;
export type CompletionMarker = z.infer<typeof markerSchema>;

export async function readMarker(dir: string): Promise<CompletionMarker | undefined> {
  try {
    return markerSchema.parse(JSON.parse(await readFile(join(dir, MARKER_FILE), 'utf8')));
  } catch {
    return undefined;
  }
}

export async function writeMarker(dir: string, marker: Omit<CompletionMarker, 'completedAt'>): Promise<void> {
  const path = join(dir, MARKER_FILE);
  await writeFile(`${path}.tmp`, JSON.stringify({ ...marker, completedAt: new Date().toISOString() }, null, 2) + '\n');
  await rename(`${path}.tmp`, path);
}

/** A folder being changed is not complete, whatever happens next. */
export async function removeMarker(dir: string): Promise<void> {
  await unlink(join(dir, MARKER_FILE)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/** The marker's files are all there with their sizes (a cheap check; contents were verified when written). */
export async function isIntact(dir: string, marker: CompletionMarker): Promise<boolean> {
  const sizes = await Promise.all(marker.files.map((f) => stat(join(dir, f.path)).then((s) => s.size, () => -1)));
  return sizes.every((size, i) => size === marker.files[i]!.size);
}
