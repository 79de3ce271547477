// A local folder -> a mock Hub repository: every file with its git blob id, LFS files (by the Hub's .gitattributes
// patterns) with their sha256 and pointer blob id, and a commit id derived from the contents.
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';

export interface RepoFile {
  path: string;
  data: Buffer;
  /** git blob id: sha1("blob SIZE\0" + content); the ETag of a regular file on the Hub. */
  gitOid: string;
  /** Set for files stored through Git LFS: the content's sha256 (X-Linked-Etag) and a pointer file's blob id. */
  lfs?: { sha256: string; pointerOid: string };
}

export interface Repo {
  id: string;
  commit: string;
  files: Map<string, RepoFile>;
}

// Close to the .gitattributes the Hub gives a new repository, plus the ONNX external data names.
const LFS = /\.(onnx|onnx_data|onnx\.data|pb|bin|safetensors|ckpt|pt|pth|h5|msgpack|ot|gguf|tar|tar\.gz|tgz|zip)$|_data$/i;

export function isLfsPath(path: string): boolean {
  return LFS.test(path);
}

const gitBlobId = (data: Buffer) => createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');

/** A repository whose files are those of a local folder; the commit is derived from their contents. */
export async function loadRepo(id: string, dir: string): Promise<Repo> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = new Map<string, RepoFile>();
  const commit = createHash('sha1');
  const paths = entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'));
  for (const path of paths.sort()) {
    const data = await readFile(join(dir, path));
    const file: RepoFile = { path, data, gitOid: gitBlobId(data) };
    if (isLfsPath(path)) {
      const sha256 = createHash('sha256').update(data).digest('hex');
      const pointer = Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${data.length}\n`);
      file.lfs = { sha256, pointerOid: gitBlobId(pointer) };
    }
    files.set(path, file);
    commit.update(`${path}\0${file.lfs?.sha256 ?? file.gitOid}\0`);
  }
  return { id, commit: commit.digest('hex'), files };
}
