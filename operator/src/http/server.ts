// The operator's health port: /healthz (/livez) and /readyz answered from a HealthState, /metrics from a prom-client
// Registry. GET/HEAD only; everything else is 405 or 404.
import http from 'node:http';
import type { Registry } from 'prom-client';

export interface HealthState {
  /** Liveness: the process can do its work. */
  healthy(): boolean;
  /** Readiness: caches synced (or a healthy standby waiting for the lease). */
  ready(): boolean;
}

/** /healthz, /readyz and /metrics on one port. */
export function startHealthServer(host: string, port: number, registry: Registry, state: HealthState): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, { 'Content-Type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed\n');
    if (path === '/healthz' || path === '/livez') return state.healthy() ? reply(200, 'ok\n') : reply(503, 'unhealthy\n');
    if (path === '/readyz') return state.ready() ? reply(200, 'ok\n') : reply(503, 'not ready\n');
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => reply(200, text, registry.contentType),
        () => reply(500, 'metrics unavailable\n'),
      );
      return;
    }
    reply(404, 'not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
