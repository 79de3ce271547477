// The process pod runner on its own: pods of a Deployment become local processes with env, Secret/ConfigMap/emptyDir
// volumes (container paths mapped), init containers, readiness, restarts with back-off, Secret updates in place,
// grace periods, and Services reachable through the API server's proxy path. The "image" is plain node scripts.
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { stringify as toYaml } from 'yaml';
import { type TestCluster, startTestCluster } from '@hypergen/testcluster';
import { Kubectl } from '@hypergen/testcluster/kubectl';
import { ProcessPodRunner, startServiceProxy } from '@hypergen/testcluster/podrunner';

const SERVER = `
const http = require('http'), fs = require('fs');
const port = Number(process.argv[process.argv.indexOf('--port') + 1]);
const host = process.argv[process.argv.indexOf('--host') + 1];
const read = (p) => { try { return fs.readFileSync(p, 'utf8'); } catch { return null; } };
process.on('SIGTERM', () => { if (process.env.IGNORE_TERM !== '1') process.exit(0); });
http.createServer((req, res) => {
  if (req.url === '/readyz') return res.end(read(process.env.NOT_READY_FILE) === null ? 'ok' : (res.statusCode = 503, 'no'));
  if (req.url === '/echo') { res.setHeader('x-pod', process.env.POD_NAME); return req.pipe(res); }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ pod: process.env.POD_NAME, host, argv: process.argv.slice(2), env: { FROM_SECRET: process.env.FROM_SECRET, FROM_CM: process.env.FROM_CM, PLAIN: process.env.PLAIN, NS: process.env.NS },
    files: { key: read(process.env.KEY_FILE), conf: read(process.argv[2]), init: read(process.env.INIT_FILE) }, keyFile: process.env.KEY_FILE, auth: req.headers.authorization ?? null }));
}).listen(port, host);
`;
const INIT = `require('fs').writeFileSync(process.argv[2], 'init ran before ' + process.env.POD_NAME);`;
const CRASH = `console.log('about to fail'); process.exit(3);`;

let cluster: TestCluster;
let runner: ProcessPodRunner;
let kubectl: Kubectl;
let proxy: { url: string; close(): Promise<void> };

const until = async <T>(f: () => Promise<T | undefined | false>, what: string, timeoutMs = 30_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
const apply = (objs: object[]) => kubectl.ok(['apply', '-f', '-'], { stdin: objs.map((o) => toYaml(o)).join('---\n') });
const getJson = async (args: string[]) => JSON.parse(await kubectl.ok(['get', ...args, '-o', 'json']));
const raw = async (path: string) => JSON.parse(await kubectl.ok(['get', '--raw', path]));

function deployment(name: string, container: object, extra: { replicas?: number; initContainers?: object[]; grace?: number; volumes?: object[] } = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: extra.replicas ?? 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          ...(extra.grace !== undefined ? { terminationGracePeriodSeconds: extra.grace } : {}),
          ...(extra.initContainers ? { initContainers: extra.initContainers } : {}),
          containers: [container],
          volumes: extra.volumes ?? [],
        },
      },
    },
  };
}
const service = (name: string) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } });
const appVolume = { name: 'app', configMap: { name: 'app' } };

beforeAll(async () => {
  cluster = await startTestCluster({ podRunner: (api) => (runner = new ProcessPodRunner(api, { backoffMs: 100, maxBackoffMs: 400, probePeriodMs: 100 })) });
  kubectl = new Kubectl(cluster);
  proxy = await startServiceProxy(cluster.api, runner);
  await apply([
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app' }, data: { 'server.cjs': SERVER, 'init.cjs': INIT, 'crash.cjs': CRASH, settings: 'mode=test' } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds' }, stringData: { token: 'first', key: 'k1' } },
  ]);
});
afterAll(async () => {
  const pids = runner?.processes().map((p) => p.pid) ?? [];
  await proxy?.close();
  await cluster?.stop();
  await kubectl?.cleanup();
  // Cluster stop ends every pod process.
  for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
});

describe('process pod runner', () => {
  it('runs init containers first, then the container with env, mounted Secret/ConfigMap/emptyDir at mapped paths and the pod IP and container port forced', async () => {
    await apply([
      deployment(
        'web',
        {
          name: 'web',
          image: 'example/web:1',
          command: [process.execPath, '/app/server.cjs'],
          args: ['/etc/conf/settings', '--host', '0.0.0.0', '--port', '8080'],
          ports: [{ name: 'http', containerPort: 8080 }],
          readinessProbe: { httpGet: { path: '/readyz', port: 'http' } },
          env: [
            // $(VAR) expands variables defined earlier in the list only, as in Kubernetes.
            { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
            { name: 'PLAIN', value: 'v-$(NS)-$(LATER)' },
            { name: 'LATER', value: 'x' },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } },
            { name: 'FROM_CM', valueFrom: { configMapKeyRef: { name: 'app', key: 'settings' } } },
            { name: 'KEY_FILE', value: '/etc/creds/key' },
            { name: 'INIT_FILE', value: '/data/init.txt' },
          ],
          volumeMounts: [
            { name: 'app', mountPath: '/app' },
            { name: 'creds', mountPath: '/etc/creds', readOnly: true },
            { name: 'conf', mountPath: '/etc/conf' },
            { name: 'data', mountPath: '/data' },
          ],
        },
        {
          replicas: 2,
          initContainers: [{ name: 'init', image: 'example/web:1', command: [process.execPath, '/app/init.cjs', '/data/init.txt'], env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }], volumeMounts: [{ name: 'app', mountPath: '/app' }, { name: 'data', mountPath: '/data' }] }],
          volumes: [appVolume, { name: 'creds', secret: { secretName: 'creds' } }, { name: 'conf', configMap: { name: 'app', items: [{ key: 'settings', path: 'settings' }] } }, { name: 'data', emptyDir: {} }],
        },
      ),
      service('web'),
    ]);
    await kubectl.ok(['rollout', 'status', 'deployment/web', '--timeout=60s'], { timeoutMs: 70_000 });
    const pods = (await getJson(['pods', '-l', 'app=web'])).items;
    expect(pods).toHaveLength(2);
    for (const p of pods) {
      expect(p.status.phase).toBe('Running');
      expect(p.status.containerStatuses[0]).toMatchObject({ name: 'web', ready: true, restartCount: 0, state: { running: {} } });
    }
    const seen = new Map<string, { host: string; argv: string[]; env: Record<string, string>; files: Record<string, string | null>; keyFile: string; auth: string | null }>();
    await until(async () => {
      const info = await raw('/api/v1/namespaces/default/services/web:http/proxy/info');
      seen.set(info.pod, info);
      return seen.size === 2;
    }, 'both pods through the Service (round robin)');
    for (const [pod, info] of seen) {
      // Each pod listens on its own loopback address (its pod IP) and the container port itself.
      const podIP = pods.find((p: { metadata: { name: string } }) => p.metadata.name === pod).status.podIP;
      expect(podIP).toMatch(/^127\.\d+\.\d+\.\d+$/);
      expect(info.host).toBe(podIP);
      expect(info.argv.slice(-2)).toEqual(['--port', '8080']);
      expect(info.argv.filter((a: string) => a === '--port')).toHaveLength(1);
      expect(info.env).toEqual({ FROM_SECRET: 'first', FROM_CM: 'mode=test', PLAIN: 'v-default-$(LATER)', NS: 'default' });
      expect(info.files).toEqual({ key: 'k1', conf: 'mode=test', init: `init ran before ${pod}` });
      expect(info.keyFile).not.toMatch(/^\/etc\/creds/);
      // The API server path authenticates with the cluster token and never forwards it to pods.
      expect(info.auth).toBeNull();
    }
    // The kubectl-proxy-like listener passes the client's own credential through.
    const viaPlain = await fetch(`${proxy.url}/api/v1/namespaces/default/services/web:http/proxy/info`, { headers: { authorization: 'Bearer app-key' } });
    expect(((await viaPlain.json()) as { auth: string }).auth).toBe('Bearer app-key');
    // The server's streamed echo through the plain proxy listener (request and response bodies).
    const body = 'x'.repeat(256 * 1024);
    const echo = await fetch(`${proxy.url}/api/v1/namespaces/default/services/web:80/proxy/echo`, { method: 'POST', body });
    expect(echo.status).toBe(200);
    expect(await echo.text()).toBe(body);
    // An unknown Service is a clean NotFound, not a hang.
    expect((await kubectl.run(['get', '--raw', '/api/v1/namespaces/default/services/nope:http/proxy/'])).stderr).toMatch(/NotFound|not found/);
  }, 90_000);

  it('a Secret update reaches the mounted files by an atomic ..data swap', async () => {
    const info = await raw('/api/v1/namespaces/default/services/web:http/proxy/info');
    const dir = info.keyFile.replace(/\/key$/, '');
    expect(lstatSync(`${dir}/..data`).isSymbolicLink()).toBe(true);
    expect(readlinkSync(`${dir}/key`)).toBe('..data/key');
    const before = readlinkSync(`${dir}/..data`);
    await kubectl.ok(['patch', 'secret', 'creds', '--type=merge', '-p', JSON.stringify({ stringData: { key: 'k2' } })]);
    await until(async () => {
      const infos = await Promise.all([0, 1, 2, 3].map(() => raw('/api/v1/namespaces/default/services/web:http/proxy/info')));
      return infos.every((i) => i.files.key === 'k2');
    }, 'k2 in every pod', 5_000);
    expect(readlinkSync(`${dir}/..data`)).not.toBe(before);
  }, 30_000);

  it('a container that keeps dying goes to CrashLoopBackOff with growing restarts and its last exit code', async () => {
    await apply([deployment('crash', { name: 'crash', image: 'example/crash:1', command: [process.execPath, '/app/crash.cjs'], volumeMounts: [{ name: 'app', mountPath: '/app' }] }, { volumes: [appVolume] })]);
    const status = await until(async () => {
      const pod = (await getJson(['pods', '-l', 'app=crash'])).items[0];
      const cs = pod?.status?.containerStatuses?.[0];
      return cs?.restartCount >= 2 && cs.state.waiting?.reason === 'CrashLoopBackOff' ? cs : undefined;
    }, 'CrashLoopBackOff');
    expect(status).toMatchObject({ ready: false, lastState: { terminated: { exitCode: 3, reason: 'Error' } } });
    const name = (await kubectl.ok(['get', 'pods', '-l', 'app=crash', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
    expect(await kubectl.ok(['logs', name])).toContain('about to fail');
    await kubectl.ok(['delete', 'deployment', 'crash']);
  }, 60_000);

  it('a missing Secret key is CreateContainerConfigError until the Secret exists, then the container starts', async () => {
    await apply([
      deployment('late', {
        name: 'late', image: 'example/web:1', command: [process.execPath, '/app/server.cjs'], ports: [{ name: 'http', containerPort: 8080 }],
        env: [{ name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 'later', key: 'token' } } }],
        volumeMounts: [{ name: 'app', mountPath: '/app' }],
      }, { volumes: [appVolume] }),
      service('late'),
    ]);
    const waiting = await until(async () => (await getJson(['pods', '-l', 'app=late'])).items[0]?.status?.containerStatuses?.[0]?.state?.waiting, 'a waiting container');
    expect(waiting).toEqual({ reason: 'CreateContainerConfigError', message: "couldn't find key token in Secret default/later" });
    await apply([{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'later' }, stringData: { token: 'arrived' } }]);
    await kubectl.ok(['rollout', 'status', 'deployment/late', '--timeout=30s'], { timeoutMs: 40_000 });
    expect((await raw('/api/v1/namespaces/default/services/late:http/proxy/info')).env.FROM_SECRET).toBe('arrived');
    await kubectl.ok(['delete', 'deployment', 'late']);
  }, 60_000);

  it('an unready pod gets no traffic; deleting a pod SIGTERMs it, then SIGKILLs after terminationGracePeriodSeconds', async () => {
    await apply([
      deployment(
        'stubborn',
        {
          name: 'stubborn', image: 'example/web:1', command: [process.execPath, '/app/server.cjs'], ports: [{ name: 'http', containerPort: 8080 }],
          readinessProbe: { httpGet: { path: '/readyz', port: 'http' } },
          env: [{ name: 'IGNORE_TERM', value: '1' }, { name: 'NOT_READY_FILE', value: '/app/settings' }],
          volumeMounts: [{ name: 'app', mountPath: '/app' }],
        },
        { grace: 1, volumes: [appVolume] },
      ),
      service('stubborn'),
    ]);
    const pod = await until(async () => runner.processes().find((p) => p.pod.startsWith('stubborn-')), 'the stubborn process');
    const unready = await kubectl.run(['get', '--raw', '/api/v1/namespaces/default/services/stubborn:http/proxy/info']);
    expect(unready.code).not.toBe(0);
    expect(unready.stderr).toMatch(/ServiceUnavailable|no endpoints available/);
    await kubectl.ok(['delete', 'deployment', 'stubborn', '--wait=true']);
    await until(async () => {
      try {
        process.kill(pod.pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 'the process killed after the 1 s grace period', 15_000);
    expect(runner.processes().some((p) => p.pod === pod.pod)).toBe(false);
    expect(existsSync(`/proc/${pod.pid}`)).toBe(false);
  }, 60_000);
});
