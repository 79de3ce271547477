// The services/proxy subresource (Service port -> a ready selected pod, round robin, streamed both ways) and a
// plain-HTTP loopback listener for that path alone, standing in for `kubectl proxy`.
import { once } from 'node:events';
import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ObjectApi } from '../api.js';
import { labelSelectorFromObject, matchesLabels } from '../selectors.js';
import { asNumber, at, objectsOf } from '../types.js';
import type { PodRunner } from '../pods.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}

/**
 * The API server's services/proxy subresource: `NAME[:PORT]` (or `http:NAME:PORT`) resolves the Service port (by name
 * or number) to its targetPort, picks the ready pods matching the Service selector round robin and relays the request
 * to the runner's endpoint for that container port, streaming the response back.
 */
export function serviceProxy(api: ObjectApi, runner: PodRunner, opts: { passAuthorization?: boolean } = {}) {
  // body: the API server hands over the read body; the plain listener below streams the request instead.
  const next = new Map<string, number>();
  return (ns: string, service: string, rest: string, req: IncomingMessage, res: ServerResponse, body?: Buffer): void => {
    const parts = service.split(':');
    const [name, portRef] = parts.length === 3 ? [parts[1]!, parts[2]] : [parts[0]!, parts[1]];
    const svc = api.store.get('/services', ns, name);
    if (!svc) return status(res, 404, 'NotFound', `services "${name}" not found`);
    const ports = objectsOf(at(svc, 'spec', 'ports'));
    const sp = portRef ? ports.find((p) => p.name === portRef || String(p.port) === portRef) : ports[0];
    if (!sp) return status(res, 503, 'ServiceUnavailable', `no endpoints available for service "${service}"`);
    const target = sp.targetPort ?? sp.port;
    const svcSelector = at(svc, 'spec', 'selector');
    const selector = labelSelectorFromObject({ matchLabels: svcSelector ?? {} }) ?? [];
    const candidates = api.store
      .list('/pods', ns)
      .filter((p) => svcSelector && matchesLabels(selector, p.metadata.labels) && !p.metadata.deletionTimestamp)
      .filter((p) => objectsOf(at(p, 'status', 'conditions')).some((c) => c.type === 'Ready' && c.status === 'True'))
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
      .flatMap((p) => {
        const containerPort =
          typeof target === 'number' || /^\d+$/.test(String(target))
            ? Number(target)
            : asNumber(objectsOf(at(p, 'spec', 'containers')).flatMap((c) => objectsOf(c.ports)).find((cp) => cp.name === target)?.containerPort);
        const ep = containerPort === undefined ? undefined : runner.endpoint?.(p, containerPort);
        return ep ? [ep] : [];
      });
    if (!candidates.length) return status(res, 503, 'ServiceUnavailable', `no endpoints available for service "${service}"`);
    const key = `${ns}/${name}`;
    const i = (next.get(key) ?? 0) % candidates.length;
    next.set(key, i + 1);
    const ep = candidates[i]!;
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k) && (!body || k !== 'content-length')) headers[k] = v;
    // The API server consumes the credential it authenticated (never forwarded to pods), like kube-apiserver.
    if (!opts.passAuthorization) delete headers.authorization;
    if (body) headers['content-length'] = String(body.length);
    else if (req.headers['transfer-encoding']) headers['transfer-encoding'] = req.headers['transfer-encoding'];
    const upstream = request({ host: ep.host, port: ep.port, method: req.method, path: rest, headers }, (up) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
      res.writeHead(up.statusCode ?? 502, out);
      up.pipe(res);
    });
    upstream.on('error', (e) => {
      if (!res.headersSent) status(res, 503, 'ServiceUnavailable', `error trying to reach service: ${e.message}`);
      else res.destroy(e);
    });
    res.on('close', () => upstream.destroy());
    if (body) upstream.end(body);
    else req.pipe(upstream);
  };
}

const PROXY_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/services\/([^/]+)\/proxy(\/.*)?$/;

/**
 * A plain-HTTP loopback listener for the services/proxy path only, standing in for `kubectl proxy` (which holds the
 * cluster credential): the client's own Authorization header (the model's API key) goes through to the pod, which
 * the authenticated API server path cannot do because it consumes that header. Streams both bodies.
 */
export async function startServiceProxy(api: ObjectApi, runner: PodRunner): Promise<{ url: string; close(): Promise<void> }> {
  const proxy = serviceProxy(api, runner, { passAuthorization: true });
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = PROXY_PATH.exec(url.pathname);
    if (!m) return status(res, 404, 'NotFound', 'only /api/v1/namespaces/NS/services/NAME[:PORT]/proxy/... is served here');
    proxy(decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), (m[3] ?? '/') + url.search, req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
