// startHubMock: a local Hugging Face Hub download API on 127.0.0.1 over mock repositories: revision listings, resolve
// URLs redirecting to a CDN origin, ranged transfers, optional gating, a request log and injectable faults.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadRepo, type Repo } from './repo.js';

/** A failure to inject once (or `times` times) into the next matching request. */
export type Fault =
  /** Answer with this status instead (on the listing, the resolve URL or a static file). */
  | { kind: 'status'; on: 'listing' | 'file'; path?: string; status: number; times?: number }
  /** Send the first afterBytes bytes of the body, then drop the connection. */
  | { kind: 'cut'; path: string; afterBytes: number; times?: number }
  /** Send the right length with wrong bytes. */
  | { kind: 'corrupt'; path: string; times?: number };

export interface LoggedRequest {
  server: 'hub' | 'cdn';
  method: string;
  url: string;
  /** The repo file or static file whose bytes were asked for, if any. */
  path?: string;
  range?: string;
  authorization: boolean;
  status: number;
  /** Body bytes written (fewer than announced when a transfer was cut). */
  bytes: number;
}

export interface HubMockOptions {
  /** Repository id (org/name) -> local folder served as its main branch. */
  repos: Record<string, string>;
  /** When set, every repository is gated: requests need 'Authorization: Bearer TOKEN'. */
  token?: string;
  /** Name -> bytes served at /files/NAME (archives for https:// model URIs). */
  files?: Record<string, Buffer>;
  /** The Hub's port on 127.0.0.1 (default: any free one); the CDN always takes a free one. */
  port?: number;
}

export interface HubMock {
  /** The Hub endpoint (HF_ENDPOINT). */
  url: string;
  /** The CDN that resolve URLs of LFS files redirect to (another origin, like the real Hub's). */
  cdnUrl: string;
  repos: Map<string, Repo>;
  requests: LoggedRequest[];
  faults: Fault[];
  close(): Promise<void>;
}

const ERROR_MESSAGES: Record<string, string> = {
  RepoNotFound: 'Repository not found',
  RevisionNotFound: 'Invalid rev id',
  EntryNotFound: 'Entry not found',
  GatedRepo: 'Access to this model is restricted. You must have access to it and be authenticated to access it.',
};

/**
 * A local stand-in for the Hugging Face Hub's download API on 127.0.0.1: revision listings with LFS metadata,
 * resolve URLs with 302 redirects to a CDN origin, ranged transfers, optional gating, a request log and faults.
 */
export async function startHubMock(options: HubMockOptions): Promise<HubMock> {
  const repos = new Map<string, Repo>();
  for (const [id, dir] of Object.entries(options.repos)) repos.set(id, await loadRepo(id, dir));
  const lfsBlobs = new Map<string, { path: string; data: Buffer }>();
  for (const repo of repos.values()) for (const f of repo.files.values()) if (f.lfs) lfsBlobs.set(f.lfs.sha256, f);
  const requests: LoggedRequest[] = [];
  const faults: Fault[] = [];

  const takeFault = (match: (f: Fault) => boolean): Fault | undefined => {
    const index = faults.findIndex(match);
    if (index < 0) return undefined;
    const fault = faults[index]!;
    if ((fault.times ?? 1) <= 1) faults.splice(index, 1);
    else fault.times = (fault.times ?? 1) - 1;
    return fault;
  };

  const log = (server: LoggedRequest['server'], req: IncomingMessage, res: ServerResponse, path?: string) => {
    const entry: LoggedRequest = {
      server, method: req.method ?? 'GET', url: req.url ?? '/', path, range: req.headers.range,
      authorization: req.headers.authorization !== undefined, status: 0, bytes: 0,
    };
    requests.push(entry);
    res.on('close', () => (entry.status = res.statusCode));
    return entry;
  };

  const hubError = (res: ServerResponse, status: number, code: string) => {
    res.writeHead(status, { 'content-type': 'application/json', 'x-error-code': code, 'x-error-message': ERROR_MESSAGES[code] ?? code });
    res.end(JSON.stringify({ error: ERROR_MESSAGES[code] ?? code }));
  };

  /** Serves data honouring Range, with the path's cut/corrupt faults applied. */
  const sendBytes = (entry: LoggedRequest, req: IncomingMessage, res: ServerResponse, data: Buffer, path: string, headers: Record<string, string>) => {
    let start = 0;
    let end = data.length - 1;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), end) : end;
      if (start >= data.length) {
        res.writeHead(416, { 'content-range': `bytes */${data.length}` });
        res.end();
        return;
      }
    }
    let body = data.subarray(start, end + 1);
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      ...(range ? { 'content-range': `bytes ${start}-${end}/${data.length}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    const fault = takeFault((f) => (f.kind === 'cut' || f.kind === 'corrupt') && f.path === path);
    if (fault?.kind === 'corrupt') {
      body = Buffer.from(body);
      body[body.length >> 1] = body[body.length >> 1]! ^ 0xff;
    }
    if (fault?.kind === 'cut') {
      const part = body.subarray(0, Math.max(0, fault.afterBytes - start));
      entry.bytes = part.length;
      res.write(part, () => res.socket?.destroy());
      return;
    }
    entry.bytes = body.length;
    res.end(body);
  };

  const authorize = (req: IncomingMessage, res: ServerResponse, repoKnown: boolean): boolean => {
    const auth = req.headers.authorization;
    if (!repoKnown) {
      // Like the Hub: anonymous callers cannot tell a missing repository from a private one.
      hubError(res, auth ? 404 : 401, 'RepoNotFound');
      return false;
    }
    if (options.token === undefined) return true;
    if (!auth) return (hubError(res, 401, 'GatedRepo'), false);
    if (auth !== `Bearer ${options.token}`) return (hubError(res, 403, 'GatedRepo'), false);
    return true;
  };

  const hub = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://hub');
    const listing = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const file = /^\/files\/(.+)$/.exec(url.pathname);
    const path = resolve ? decodeURIComponent(resolve[3]!) : file ? decodeURIComponent(file[1]!) : undefined;
    const entry = log('hub', req, res, path);
    if (req.method !== 'GET' && req.method !== 'HEAD') return hubError(res, 405, 'MethodNotAllowed');
    const status = takeFault((f) => f.kind === 'status' && (listing ? f.on === 'listing' : f.on === 'file' && f.path === path));
    if (status?.kind === 'status') return hubError(res, status.status, 'InjectedFault');

    if (file) {
      const data = options.files?.[path!];
      return data ? sendBytes(entry, req, res, data, path!, {}) : hubError(res, 404, 'EntryNotFound');
    }
    const match = listing ?? resolve;
    if (!match) return hubError(res, 404, 'RepoNotFound');
    const repo = repos.get(match[1]!);
    if (!authorize(req, res, repo !== undefined)) return;
    const revision = decodeURIComponent(match[2]!);
    if (revision !== 'main' && revision !== repo!.commit) return hubError(res, 404, 'RevisionNotFound');

    if (listing) {
      const blobs = url.searchParams.get('blobs') === 'true';
      const siblings = [...repo!.files.values()].map((f) =>
        blobs
          ? { rfilename: f.path, size: f.data.length, blobId: f.lfs?.pointerOid ?? f.gitOid, ...(f.lfs ? { lfs: { sha256: f.lfs.sha256, size: f.data.length, pointerSize: 134 } } : {}) }
          : { rfilename: f.path },
      );
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ _id: repo!.commit.slice(0, 24), id: repo!.id, modelId: repo!.id, sha: repo!.commit, private: false, gated: options.token ? 'manual' : false, siblings }));
    }
    const repoFile = repo!.files.get(path!);
    if (!repoFile) return hubError(res, 404, 'EntryNotFound');
    const common = { 'x-repo-commit': repo!.commit };
    if (repoFile.lfs) {
      res.writeHead(302, {
        ...common,
        etag: `"${repoFile.lfs.pointerOid}"`,
        'x-linked-etag': `"${repoFile.lfs.sha256}"`,
        'x-linked-size': String(repoFile.data.length),
        location: `${cdnUrl}/repos/${repoFile.lfs.sha256.slice(0, 2)}/${repoFile.lfs.sha256}?X-Amz-Signature=mock-signature`,
      });
      return void res.end();
    }
    sendBytes(entry, req, res, repoFile.data, repoFile.path, { ...common, etag: `"${repoFile.gitOid}"` });
  });

  const cdn = createServer((req, res) => {
    const sha256 = /^\/repos\/[0-9a-f]{2}\/([0-9a-f]{64})$/.exec(new URL(req.url ?? '/', 'http://cdn').pathname)?.[1];
    const blob = sha256 ? lfsBlobs.get(sha256) : undefined;
    const entry = log('cdn', req, res, blob?.path);
    if (!blob) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return void res.end('NoSuchKey');
    }
    sendBytes(entry, req, res, blob.data, blob.path, { etag: `"${sha256}"` });
  });

  const listen = async (server: Server, port = 0) => {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const url = await listen(hub, options.port);
  const cdnUrl = await listen(cdn);
  const close = (server: Server) =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { url, cdnUrl, repos, requests, faults, close: async () => void (await Promise.all([close(hub), close(cdn)])) };
}
