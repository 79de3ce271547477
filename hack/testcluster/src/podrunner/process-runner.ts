// ProcessPodRunner: a kubelet that runs each container as a local `hypergen` process on its own loopback pod IP,
// with env, volumes as host folders, init containers, readiness probes, CrashLoopBackOff restarts and graceful stop.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ObjectApi } from '../api.js';
import { type KubeletApi, type PodRunner, crashLoopStatus, runningStatus } from '../pods.js';
import { type JsonObject, type KubeObject, arrayOr, asNumber, asObject, asString, at, nowTime, objectOr, objectsOf } from '../types.js';
import { mapPath, projectedFiles, writeAtomic } from './volumes.js';

/** The compiled `hypergen` CLI of this checkout (server/dist/cli.js; `tsc -b` must have run). */
const CLI = fileURLToPath(new URL('../../../../server/dist/cli.js', import.meta.url));

/** A port free on 127.0.0.1 right now (the OS picks it; the pod's process binds it a moment later). */
async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('freePort: no TCP address');
  return address.port;
}

export interface ProcessRunnerOptions {
  /** Host folder standing in for each PersistentVolumeClaim (claim name -> folder), e.g. { models: 'REPO/models' }. */
  claims?: Record<string, string>;
  /** The image's entrypoint (default: `node server/dist/cli.js`, the `hypergen` of the server image). */
  entrypoint?: string[];
  /** Readiness probe period (default 500 ms; faster than the pod's own periodSeconds so tests converge quickly). */
  probePeriodMs?: number;
  /** First restart back-off, doubled per crash up to maxBackoffMs (the kubelet's 10 s -> 300 s, scaled down). */
  backoffMs?: number;
  maxBackoffMs?: number;
}

interface Container {
  /** the core/v1 Container */
  spec: JsonObject;
  /** port on the pod's address serving each container port (the container port itself, unless the pod shares 127.0.0.1) */
  ports: Map<number, number>;
  child?: ChildProcess;
  exited?: Promise<void>;
  ready: boolean;
  restarts: number;
  log: string;
}

interface RunningPod {
  ns: string;
  name: string;
  uid: string;
  dir: string;
  /** the pod's IP: a loopback address of its own (see allocatePodAddress) */
  ip: string;
  mounts: Map<string, string>; // volume name -> host folder
  containers: Container[];
  stopping: boolean;
  timers: Set<NodeJS.Timeout>;
  kubelet: KubeletApi;
}

const LOG_LIMIT = 2 * 1024 * 1024;

const canBind = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(true)));
  });

/**
 * A pod IP as in a cluster: every address of 127.0.0.0/8 is loopback on Linux, so each pod gets its own 127.x.y.z
 * (random, so that several test clusters on one machine do not collide) where all its container ports are free, and
 * serves them on the container ports themselves: podIP:containerPort is reachable, as EndpointSlices promise.
 * Where the system has no such addresses (macOS has only 127.0.0.1), pods share 127.0.0.1 on free host ports.
 */
async function allocatePodAddress(containerPorts: number[]): Promise<{ ip: string; ports: Map<number, number> }> {
  for (let attempt = 0; attempt < 32; attempt++) {
    const ip = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
    let free = true;
    for (const p of containerPorts) if (!(free = await canBind(ip, p))) break;
    if (free && (containerPorts.length > 0 || (await canBind(ip, 0)))) return { ip, ports: new Map(containerPorts.map((p) => [p, p])) };
  }
  const ports = new Map<number, number>();
  for (const p of containerPorts) ports.set(p, await freePort());
  return { ip: '127.0.0.1', ports };
}

/**
 * A kubelet that runs each container as a local process of the server's entrypoint (the image's `hypergen`):
 * env (incl. secretKeyRef/configMapKeyRef), Secret/ConfigMap/emptyDir/PVC volumes as host folders with container
 * paths in args and env rewritten to them, init containers first, --host/--port forced to the pod IP (its own loopback address) and container port,
 * readiness from the container's httpGet readinessProbe, restarts with back-off (CrashLoopBackOff), SIGTERM then
 * SIGKILL after the grace period on delete. Secret and ConfigMap changes reach mounted files like the kubelet's
 * atomic writer (`..data` symlink swap).
 */
export class ProcessPodRunner implements PodRunner {
  private readonly pods = new Map<string, RunningPod>();
  private readonly stopping = new Set<Promise<void>>();
  private readonly unsubscribe: () => void;
  private readonly entrypoint: string[];

  constructor(
    private readonly api: ObjectApi,
    private readonly opts: ProcessRunnerOptions = {},
  ) {
    this.entrypoint = opts.entrypoint ?? [process.execPath, CLI];
    this.unsubscribe = api.store.subscribe((ev) => {
      if (ev.storage !== '/secrets' && ev.storage !== '/configmaps') return;
      const kind = ev.storage === '/secrets' ? 'secret' : 'configMap';
      const { namespace, name } = ev.obj.metadata;
      setImmediate(() => this.refreshVolumes(kind, namespace ?? '', name));
    });
  }

  private get(kind: 'secrets' | 'configmaps', ns: string, name: string): KubeObject | undefined {
    return this.api.getStored(this.api.registry.find('', 'v1', kind)!, ns, name);
  }

  start(pod: KubeObject, kubelet: KubeletApi): void {
    const { name } = pod.metadata;
    const ns = pod.metadata.namespace ?? '';
    const uid = pod.metadata.uid ?? '';
    if (this.pods.has(uid)) return;
    const rp: RunningPod = { ns, name, uid, dir: mkdtempSync(join(tmpdir(), `pod-${name}-`)), ip: '127.0.0.1', mounts: new Map(), containers: [], stopping: false, timers: new Set(), kubelet };
    this.pods.set(uid, rp);
    void this.run(rp, pod).catch((e) => this.append(rp, undefined, `runner: ${(e as Error).message}\n`));
  }

  private after(rp: RunningPod, ms: number, f: () => void): void {
    const t = setTimeout(() => {
      rp.timers.delete(t);
      if (!rp.stopping) f();
    }, ms);
    rp.timers.add(t);
  }

  private append(rp: RunningPod, c: Container | undefined, text: string): void {
    const target = c ?? rp.containers[0];
    if (!target) return;
    target.log = (target.log + text).slice(-LOG_LIMIT);
  }

  private writeVolume(rp: RunningPod, vol: JsonObject): void {
    const volName = String(vol.name);
    const dir = join(rp.dir, 'volumes', volName);
    const secret = asObject(vol.secret);
    const configMap = asObject(vol.configMap);
    const claim = asObject(vol.persistentVolumeClaim);
    if (secret) writeAtomic(dir, projectedFiles(secret, this.get('secrets', rp.ns, String(secret.secretName)), 'secret'));
    else if (configMap) writeAtomic(dir, projectedFiles(configMap, this.get('configmaps', rp.ns, String(configMap.name)), 'configMap'));
    else if (claim) {
      const host = this.opts.claims?.[String(claim.claimName)];
      if (!host) throw new Error(`persistentvolumeclaim "${claim.claimName}" has no host folder in this test cluster`);
      rp.mounts.set(volName, host);
      return;
    } else mkdirSync(dir, { recursive: true }); // emptyDir and anything else: a fresh folder
    rp.mounts.set(volName, dir);
  }

  private refreshVolumes(kind: 'secret' | 'configMap', ns: string, name: string): void {
    for (const rp of this.pods.values()) {
      if (rp.ns !== ns || rp.stopping) continue;
      const pod = this.api.store.get('/pods', ns, rp.name);
      for (const vol of objectsOf(at(pod, 'spec', 'volumes'))) {
        const ref = kind === 'secret' ? at(vol, 'secret', 'secretName') : at(vol, 'configMap', 'name');
        if (ref === name && rp.mounts.has(String(vol.name))) this.writeVolume(rp, vol);
      }
    }
  }

  private envOf(rp: RunningPod, pod: KubeObject, c: JsonObject, mounts: Array<{ mountPath: string; hostPath: string }>): Record<string, string> {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOSTNAME: rp.name };
    const keyRef = (kind: 'secrets' | 'configmaps', ref: JsonObject): string | undefined => {
      const obj = this.get(kind, rp.ns, String(ref.name));
      const raw = at(obj, 'data', String(ref.key));
      if (raw === undefined) {
        if (ref.optional) return undefined;
        throw new Error(`couldn't find key ${ref.key} in ${kind === 'secrets' ? 'Secret' : 'ConfigMap'} ${rp.ns}/${ref.name}`);
      }
      return kind === 'secrets' ? Buffer.from(String(raw), 'base64').toString() : String(raw);
    };
    for (const from of objectsOf(c.envFrom)) {
      const kind = from.secretRef ? 'secrets' : 'configmaps';
      const ref = objectOr(from.secretRef ?? from.configMapRef);
      const obj = this.get(kind, rp.ns, String(ref.name));
      if (!obj && !ref.optional) throw new Error(`${kind === 'secrets' ? 'secret' : 'configmap'} "${ref.name}" not found`);
      for (const [k, v] of Object.entries(objectOr(obj?.data))) env[`${from.prefix ?? ''}${k}`] = kind === 'secrets' ? Buffer.from(String(v), 'base64').toString() : String(v);
    }
    const fields: Record<string, string> = { 'metadata.name': rp.name, 'metadata.namespace': rp.ns, 'metadata.uid': rp.uid, 'spec.nodeName': asString(at(pod, 'spec', 'nodeName')) ?? '', 'status.podIP': rp.ip, 'status.hostIP': '127.0.0.1' };
    for (const e of objectsOf(c.env)) {
      let v: string | undefined;
      const valueFrom = objectOr(e.valueFrom);
      const secretKeyRef = asObject(valueFrom.secretKeyRef);
      const configMapKeyRef = asObject(valueFrom.configMapKeyRef);
      const fieldRef = asObject(valueFrom.fieldRef);
      if (secretKeyRef) v = keyRef('secrets', secretKeyRef);
      else if (configMapKeyRef) v = keyRef('configmaps', configMapKeyRef);
      else if (fieldRef) v = fields[String(fieldRef.fieldPath)] ?? '';
      else v = String(e.value ?? '').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n: string) => env[n] ?? m);
      if (v !== undefined) env[String(e.name)] = mapPath(v, mounts);
    }
    return env;
  }

  /** Command line of a container with container paths mapped and, for serving containers, the forced host/port. */
  private commandOf(c: JsonObject, mounts: Array<{ mountPath: string; hostPath: string }>, host: string, port: number | undefined): string[] {
    const map = (a: string) => mapPath(a, mounts);
    const cmd = arrayOr(c.command).map(String);
    const args = arrayOr(c.args).map(String);
    const argv = !cmd.length || cmd[0] === 'hypergen' ? [...this.entrypoint, ...[...cmd.slice(1), ...args].map(map)] : [...cmd, ...args].map(map);
    if (port === undefined) return argv;
    const out: string[] = [];
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === '--port' || a === '--host') i++;
      else if (!a.startsWith('--port=') && !a.startsWith('--host=')) out.push(a);
    }
    return [...out, '--host', host, '--port', String(port)];
  }

  private async run(rp: RunningPod, pod: KubeObject): Promise<void> {
    const podSpec = objectOr(pod.spec);
    const specs = objectsOf(podSpec.containers);
    const portsOf = (c: JsonObject): number[] => objectsOf(c.ports).map((p) => Number(p.containerPort));
    const address = await allocatePodAddress(specs.flatMap(portsOf));
    rp.ip = address.ip;
    for (const spec of specs) {
      const ports = new Map<number, number>();
      for (const p of portsOf(spec)) ports.set(p, address.ports.get(p)!);
      rp.containers.push({ spec, ports, ready: false, restarts: 0, log: '' });
    }
    if (rp.stopping) return;
    rp.kubelet.updateStatus(rp.ns, rp.name, (p) => ({
      ...objectOr(p.status),
      phase: 'Pending',
      hostIP: '10.0.0.1',
      podIP: rp.ip,
      podIPs: [{ ip: rp.ip }],
      startTime: at(p, 'status', 'startTime') ?? nowTime(),
      containerStatuses: specs.map((s) => ({ name: s.name, image: s.image, imageID: '', ready: false, started: false, restartCount: 0, state: { waiting: { reason: arrayOr(podSpec.initContainers).length ? 'PodInitializing' : 'ContainerCreating' } } })),
    }));
    try {
      for (const vol of objectsOf(podSpec.volumes)) this.writeVolume(rp, vol);
    } catch (e) {
      this.append(rp, undefined, `volumes: ${(e as Error).message}\n`);
      this.failConfig(rp, (e as Error).message, pod);
      return;
    }
    for (const init of objectsOf(podSpec.initContainers)) {
      const c: Container = { spec: init, ports: new Map(), ready: false, restarts: 0, log: '' };
      for (let attempt = 0; ; attempt++) {
        if (rp.stopping) return;
        const code = await this.spawnContainer(rp, pod, c, rp.containers[0]).catch((e: Error) => (this.configError(rp, e), -1));
        if (rp.stopping) return;
        if (code === 0) break;
        await new Promise((r) => this.after(rp, this.backoff(attempt + 1), () => r(undefined)));
      }
    }
    for (const c of rp.containers) void this.keepRunning(rp, pod, c);
    this.probeLoop(rp);
  }

  private configError(rp: RunningPod, e: Error): void {
    rp.kubelet.updateStatus(rp.ns, rp.name, (p) => ({
      ...objectOr(p.status),
      containerStatuses: objectsOf(at(p, 'status', 'containerStatuses')).map((s) => ({ ...s, ready: false, started: false, state: { waiting: { reason: 'CreateContainerConfigError', message: e.message } } })),
    }));
  }

  private failConfig(rp: RunningPod, message: string, pod: KubeObject): void {
    this.configError(rp, new Error(message));
    // The kubelet retries; so do we, once the referenced objects may exist.
    this.after(rp, 1000, () => {
      rp.containers = [];
      void this.run(rp, this.api.store.get('/pods', rp.ns, rp.name) ?? pod);
    });
  }

  private backoff(restarts: number): number {
    const base = this.opts.backoffMs ?? 1000;
    return Math.min(this.opts.maxBackoffMs ?? 30_000, base * 2 ** Math.max(0, restarts - 1));
  }

  /** Runs a container to exit; resolves with its exit code (or -1 when it could not start). */
  private async spawnContainer(rp: RunningPod, pod: KubeObject, c: Container, logTo: Container | undefined): Promise<number> {
    const mounts = objectsOf(c.spec.volumeMounts)
      .filter((m) => rp.mounts.has(String(m.name)))
      .map((m) => ({ mountPath: String(m.mountPath), hostPath: join(rp.mounts.get(String(m.name))!, asString(m.subPath) ?? '') }));
    // A missing Secret/ConfigMap key throws: the caller reports CreateContainerConfigError and retries.
    const env = this.envOf(rp, pod, c.spec, mounts);
    const port = c.ports.values().next().value as number | undefined;
    if (port !== undefined) Object.assign(env, { HYPERGEN_HOST: rp.ip, HYPERGEN_PORT: String(port) });
    const [file, ...args] = this.commandOf(c.spec, mounts, rp.ip, port);
    const cwd = c.spec.workingDir ? mapPath(String(c.spec.workingDir), mounts) : rp.dir;
    const child = spawn(file!, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    c.child = child;
    if (logTo === undefined) rp.kubelet.updateStatus(rp.ns, rp.name, (p) => runningStatus(p, false));
    const sink = logTo ?? c;
    child.stdout!.on('data', (b: Buffer) => this.append(rp, sink, b.toString()));
    child.stderr!.on('data', (b: Buffer) => this.append(rp, sink, b.toString()));
    const exited = new Promise<number>((resolve) => {
      child.once('error', (e) => {
        this.append(rp, sink, `start: ${e.message}\n`);
        resolve(-1);
      });
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + 15 : -1)));
    });
    c.exited = exited.then(() => undefined);
    return exited;
  }

  /** restartPolicy Always: a dying container is restarted after a growing back-off, reported as CrashLoopBackOff. */
  private async keepRunning(rp: RunningPod, pod: KubeObject, c: Container): Promise<void> {
    while (!rp.stopping) {
      let code: number;
      try {
        code = await this.spawnContainer(rp, pod, c, undefined);
      } catch (e) {
        this.configError(rp, e as Error);
        await new Promise((r) => this.after(rp, 1000, () => r(undefined)));
        continue;
      }
      c.ready = false;
      if (rp.stopping) return;
      c.restarts++;
      rp.kubelet.updateStatus(rp.ns, rp.name, (p) => crashLoopStatus(p, { container: asString(c.spec.name), restartCount: c.restarts, exitCode: code, message: c.log.slice(-512) }));
      await new Promise((r) => this.after(rp, this.backoff(c.restarts), () => r(undefined)));
    }
  }

  private probeLoop(rp: RunningPod): void {
    const period = this.opts.probePeriodMs ?? 500;
    const tick = async () => {
      let changed = false;
      for (const c of rp.containers) {
        const alive = !!c.child && c.child.exitCode === null && c.child.signalCode === null;
        const probe = asObject(at(c.spec, 'readinessProbe', 'httpGet'));
        let ready = alive;
        if (alive && probe) {
          const containerPort = typeof probe.port === 'number' ? probe.port : asNumber(objectsOf(c.spec.ports).find((p) => p.name === probe.port)?.containerPort);
          const hostPort = containerPort === undefined ? undefined : c.ports.get(containerPort);
          const res = hostPort ? await fetch(`http://${rp.ip}:${hostPort}${probe.path ?? '/'}`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined) : undefined;
          await res?.body?.cancel();
          ready = !!res && res.status >= 200 && res.status < 400;
        }
        if (ready !== c.ready) changed = true;
        c.ready = ready;
      }
      if (rp.stopping) return;
      const podReady = rp.containers.every((c) => c.ready);
      if (changed && rp.containers.every((c) => c.child && c.child.exitCode === null)) rp.kubelet.updateStatus(rp.ns, rp.name, (p) => runningStatus(p, podReady));
      this.after(rp, period, () => void tick());
    };
    this.after(rp, period, () => void tick());
  }

  stop(pod: KubeObject): void {
    const rp = this.pods.get(pod.metadata.uid ?? '');
    if (!rp) return;
    const grace = pod.metadata.deletionGracePeriodSeconds ?? asNumber(at(pod, 'spec', 'terminationGracePeriodSeconds')) ?? 30;
    const done = this.terminate(rp, grace * 1000);
    this.stopping.add(done);
    void done.finally(() => this.stopping.delete(done));
  }

  /** SIGTERM, SIGKILL after graceMs, then the pod's folders go. */
  private async terminate(rp: RunningPod, graceMs: number): Promise<void> {
    rp.stopping = true;
    for (const t of rp.timers) clearTimeout(t);
    rp.timers.clear();
    await Promise.all(
      rp.containers.map(async (c) => {
        const child = c.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exit = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exit;
        clearTimeout(timer);
      }),
    );
    this.pods.delete(rp.uid);
    rmSync(rp.dir, { recursive: true, force: true });
  }

  endpoint(pod: KubeObject, port: number): { host: string; port: number } | undefined {
    const rp = this.pods.get(pod.metadata.uid ?? '');
    if (!rp) return undefined;
    for (const c of rp.containers) {
      const hostPort = c.ports.get(port);
      if (hostPort && c.child && c.child.exitCode === null) return { host: rp.ip, port: hostPort };
    }
    return undefined;
  }

  logs(pod: KubeObject, container?: string): string {
    const rp = this.pods.get(pod.metadata.uid ?? '');
    const c = rp?.containers.find((x) => !container || x.spec.name === container);
    return c?.log ?? '';
  }

  /** Processes that are alive now, per pod name (for tests). */
  processes(): Array<{ namespace: string; pod: string; pid: number }> {
    return [...this.pods.values()].flatMap((rp) =>
      rp.containers.filter((c) => c.child && c.child.exitCode === null && c.child.signalCode === null).map((c) => ({ namespace: rp.ns, pod: rp.name, pid: c.child!.pid! })),
    );
  }

  /** Cluster stop: every process gets SIGTERM and, 2 s later, SIGKILL. */
  async close(): Promise<void> {
    this.unsubscribe();
    await Promise.all([...[...this.pods.values()].map((rp) => this.terminate(rp, 2000)), ...this.stopping]);
  }
}
