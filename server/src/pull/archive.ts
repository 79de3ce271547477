// pullArchive: a .tar / .tar.gz URL (optionally sha256-pinned) -> a verified ONNX pipeline in dir: resumable download,
// unpacked refusing unsafe paths (links and devices skipped), moved into place, then marked complete.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { isIntact, MARKER_FILE, readMarker, removeMarker, writeMarker } from './cache.js';
import type { PullContext, PullResult } from './context.js';
import { downloadFile } from './download.js';
import { isDiskFull, PullError } from './errors.js';
import { redact } from './http.js';
import { listFiles, verifyPipelineDir } from './pipeline.js';
import { formatBytes } from './progress.js';
import { isSafeRelativePath, type ModelSource } from './uri.js';

type ArchiveSource = Extract<ModelSource, { kind: 'archive' }>;

const STAGING = '.hypergen-staging';
const DOWNLOAD = '.hypergen-archive';
const RESERVED = [STAGING, DOWNLOAD, MARKER_FILE];

async function isGzip(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/** Unpacks regular files and folders into dest; links and devices are skipped, paths leaving dest are refused. */
async function extract(archive: string, dest: string, where: string, ctx: PullContext): Promise<number> {
  const extractor = tar.extract();
  let bytes = 0;
  const unpack = (async () => {
    for await (const entry of extractor) {
      const name = entry.header.name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
      if (name === '' || name === '.') {
        entry.resume();
        continue;
      }
      if (!isSafeRelativePath(name)) throw new PullError(`${where}: the archive holds an unsafe path '${name}'; refusing to unpack it`);
      if (RESERVED.includes(name.split('/')[0]!)) throw new PullError(`${where}: the archive holds '${name}', a name reserved for HyperGen's own files`);
      const target = join(dest, name);
      if (entry.header.type === 'directory') {
        await mkdir(target, { recursive: true });
        entry.resume();
      } else if (entry.header.type === 'file' || entry.header.type === 'contiguous-file') {
        await mkdir(dirname(target), { recursive: true });
        await pipeline(entry, createWriteStream(target));
        bytes += entry.header.size;
      } else {
        ctx.logger.warn({ model: where, entry: name, type: entry.header.type }, 'archive entry skipped: only files and folders are unpacked');
        entry.resume();
      }
    }
  })();
  const source = createReadStream(archive);
  const feed = (await isGzip(archive)) ? pipeline(source, createGunzip(), extractor) : pipeline(source, extractor);
  await Promise.all([feed, unpack]);
  return bytes;
}

/** The pipeline's root inside the unpacked archive: the top, or its only folder (archives often wrap one). */
async function pipelineRoot(staging: string): Promise<string> {
  const entries = await readdir(staging, { withFileTypes: true });
  if (entries.some((e) => e.name === 'model_index.json')) return staging;
  const only = entries.length === 1 && entries[0]!.isDirectory() ? join(staging, entries[0]!.name) : undefined;
  return only && (await stat(join(only, 'model_index.json')).then(() => true, () => false)) ? only : staging;
}

/** Downloads a .tar / .tar.gz (resumable, optionally sha256-pinned), unpacks it, verifies the pipeline, moves it into dir. */
export async function pullArchive(source: ArchiveSource, dir: string, ctx: PullContext): Promise<PullResult> {
  const where = redact(source.url);
  const id = source.sha256 ? `${source.url}#sha256=${source.sha256}` : source.url;
  await mkdir(dir, { recursive: true });
  const previous = await readMarker(dir);
  if (previous?.source === id && (await isIntact(dir, previous))) {
    ctx.logger.info({ model: where, dir }, 'model already complete; nothing downloaded');
    return { dir, downloaded: false };
  }
  if (ctx.offline) throw new PullError(`HF_HUB_OFFLINE is set and ${dir} holds no complete copy of ${where}`);
  await removeMarker(dir);
  const archive = join(dir, DOWNLOAD);
  const staging = join(dir, STAGING);
  let downloaded = 0;
  let unpacked = 0;
  try {
    ctx.logger.info({ model: where, dir }, 'pulling model archive');
    ctx.progress.start(1, 0);
    await downloadFile({
      url: source.url,
      dest: archive,
      name: where,
      expected: source.sha256 ? { sha256: source.sha256 } : {},
      retry: ctx.retry,
      logger: ctx.logger,
      signal: ctx.signal,
      onProgress: (bytes) => ctx.progress.update(where, (downloaded = bytes)),
    });
    ctx.progress.fileDone(where, downloaded);
    ctx.progress.finish();
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging);
    unpacked = await extract(archive, staging, where, ctx);
    const root = await pipelineRoot(staging);
    await verifyPipelineDir(root, where);
    const files = await listFiles(root);
    const sizes = await Promise.all(files.map((f) => stat(join(root, f)).then((s) => s.size)));
    for (const entry of await readdir(root)) {
      await rm(join(dir, entry), { recursive: true, force: true });
      await rename(join(root, entry), join(dir, entry));
    }
    await rm(archive, { force: true });
    await writeMarker(dir, { source: id, files: files.map((path, i) => ({ path, size: sizes[i]! })) });
    ctx.logger.info({ model: where, dir, files: files.length, bytes: unpacked, archiveBytes: downloaded }, 'model pulled');
    return { dir, downloaded: true };
  } catch (error) {
    if (isDiskFull(error)) {
      throw new PullError(`disk full in ${dir}: ${where} needed more than ${formatBytes(downloaded + unpacked)} (archive ${formatBytes(downloaded)}, unpacked so far ${formatBytes(unpacked)})`);
    }
    throw error;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
