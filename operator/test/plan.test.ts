import { describe, expect, it } from '@jest/globals';
import { plan } from '../src/resources/plan.js';
import { ingressURL, planIngress } from '../src/resources/ingress.js';
import { API_KEY_PREFIX, planApiKeySecret, planPeerKeySecret } from '../src/resources/secret.js';
import { planService, serviceURL } from '../src/resources/service.js';
import { planCachePvc } from '../src/resources/pvc.js';
import { HASH_ANNOTATION } from '../src/resources/meta.js';
import { config, cr, fixedBytes, plannedDeployment } from './support/fixtures.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const podSpec = (d: Obj) => d.spec.template.spec as Obj;
const server = (d: Obj) => podSpec(d).containers[0] as Obj;
const argAfter = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('planning: the generated API key Secret', () => {
  it('is planned with a 32-byte random sk-hg- key when no secretRef is given', () => {
    const secret = planApiKeySecret(cr(), fixedBytes) as Obj;
    expect(secret.metadata.name).toBe('demo-api-key');
    const key = Buffer.from(secret.data['api-key'], 'base64').toString();
    expect(key.startsWith(API_KEY_PREFIX)).toBe(true);
    expect(Buffer.from(key.slice(API_KEY_PREFIX.length), 'base64url')).toEqual(Buffer.alloc(32, 7));
  });
  it('differs with different randomness and is absent when the CR names its own Secret', () => {
    const a = planApiKeySecret(cr(), fixedBytes) as Obj;
    const b = planApiKeySecret(cr(), (n) => Buffer.alloc(n, 9)) as Obj;
    expect(a.data['api-key']).not.toBe(b.data['api-key']);
    expect(planApiKeySecret(cr({ apiKey: { secretRef: { name: 'mine' } } }), fixedBytes)).toBeUndefined();
  });
});

describe('planning: Deployment', () => {
  const d = plannedDeployment(cr({ gpu: { count: 1 } }), config) as Obj;

  it('runs serve with the model dir, model id, key file and GPU device', () => {
    const c = server(d);
    expect(c.image).toBe('registry.test/hypergen:1.2.3');
    expect(c.args.slice(0, 4)).toEqual(['serve', '/models/model', '--model-id', 'org/model']);
    expect(argAfter(c.args, '--api-key-file')).toBe('/etc/hypergen/api-key/api-key');
    expect(argAfter(c.args, '--device')).toBe('cuda');
    expect(argAfter(c.args, '--dtype')).toBe('fp16');
    expect(argAfter(c.args, '--port')).toBe('8000');
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8000, protocol: 'TCP' }]);
  });

  it('mounts the key from the Secret as a file (no env var, so rotation needs no restart)', () => {
    const vol = podSpec(d).volumes.find((v: Obj) => v.name === 'api-key');
    expect(vol.secret.secretName).toBe('demo-api-key');
    expect(server(d).volumeMounts).toContainEqual({ name: 'api-key', mountPath: '/etc/hypergen/api-key', readOnly: true });
    expect(JSON.stringify(server(d).env)).not.toMatch(/API_KEY/);
  });

  it('uses a referenced Secret and key when given', () => {
    const own = plannedDeployment(cr({ apiKey: { secretRef: { name: 'mine', key: 'k' } } }), config) as Obj;
    expect(podSpec(own).volumes.find((v: Obj) => v.name === 'api-key').secret.secretName).toBe('mine');
    expect(argAfter(server(own).args, '--api-key-file')).toBe('/etc/hypergen/api-key/k');
  });

  it('sets GPU limits from gpu.count and resourceName, and a toleration for the GPU taint', () => {
    expect(server(d).resources).toEqual({ limits: { 'nvidia.com/gpu': '1' } });
    const amd = plannedDeployment(cr({ gpu: { count: 2, resourceName: 'amd.com/gpu' }, resources: { requests: { cpu: '2' }, limits: { memory: '8Gi' } } }), config) as Obj;
    expect(server(amd).resources).toEqual({ requests: { cpu: '2' }, limits: { memory: '8Gi', 'amd.com/gpu': '2' } });
    expect(podSpec(amd).tolerations).toEqual([{ key: 'amd.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
  });

  it('defaults to one GPU and has no GPU limits, device cpu and fp32 when count is 0', () => {
    expect(server(plannedDeployment(cr(), config) as Obj).resources.limits['nvidia.com/gpu']).toBe('1');
    const cpu = plannedDeployment(cr({ gpu: { count: 0 } }), config) as Obj;
    expect(server(cpu).resources).toBeUndefined();
    expect(podSpec(cpu).tolerations).toBeUndefined();
    expect(argAfter(server(cpu).args, '--device')).toBe('cpu');
    expect(argAfter(server(cpu).args, '--dtype')).toBe('fp32');
  });

  it('passes serving options as flags', () => {
    const s = plannedDeployment(
      cr({ serving: { maxBatchSize: 8, batchWaitMs: 25, maxQueueSize: 99, defaultSteps: 4, defaultGuidanceScale: 1.5, scheduler: 'lcm', dtype: 'fp32' } }),
      config,
    ) as Obj;
    const args = server(s).args as string[];
    expect(argAfter(args, '--max-batch-size')).toBe('8');
    expect(argAfter(args, '--batch-wait-ms')).toBe('25');
    expect(argAfter(args, '--max-queue-size')).toBe('99');
    expect(argAfter(args, '--default-steps')).toBe('4');
    expect(argAfter(args, '--default-guidance-scale')).toBe('1.5');
    expect(argAfter(args, '--default-scheduler')).toBe('lcm');
    expect(argAfter(args, '--dtype')).toBe('fp32');
    expect((plannedDeployment(cr(), config) as Obj).spec.template.spec.containers[0]?.args).not.toContain('--default-steps');
  });

  it('has a restricted security context on pod and every container', () => {
    const ps = podSpec(d);
    expect(ps.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(ps.automountServiceAccountToken).toBe(false);
    for (const c of [...ps.initContainers, ...ps.containers]) {
      expect(c.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
    }
    // Read-only root: everything the process writes goes to volumes.
    expect(server(d).volumeMounts.map((m: Obj) => m.mountPath)).toEqual(expect.arrayContaining(['/tmp', '/dev/shm']));
  });

  it('probes /livez and /readyz on the named port, with a generous startup budget', () => {
    const c = server(d);
    expect(c.startupProbe.httpGet).toEqual({ path: '/livez', port: 'http', scheme: 'HTTP' });
    expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBeGreaterThanOrEqual(1800);
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/livez');
  });

  it('has memory-backed /dev/shm', () => {
    expect(podSpec(d).volumes).toContainEqual({ name: 'dshm', emptyDir: { medium: 'Memory' } });
    expect(server(d).volumeMounts).toContainEqual({ name: 'dshm', mountPath: '/dev/shm' });
  });

  it('pulls the model in an init container into an emptyDir, hf://<model> by default', () => {
    const init = podSpec(d).initContainers[0];
    expect(init.args).toEqual(['pull', 'hf://org/model', '--dir', '/models/model', '--dtype', 'fp16']);
    expect(init.image).toBe(server(d).image);
    expect(podSpec(d).volumes).toContainEqual({ name: 'model', emptyDir: {} });
    expect(server(d).volumeMounts).toContainEqual({ name: 'model', mountPath: '/models', readOnly: true });
  });

  it("converts a diffusers repository in the init container to the precision the server's flags would convert to", () => {
    // The server converts to fp16 only for an explicit GPU provider with --dtype fp16 (server/src/serve.ts).
    const cases: [Obj, string, string, string][] = [
      [{ gpu: { count: 1 } }, 'cuda', 'fp16', 'fp16'],
      [{ gpu: { count: 1, provider: 'webgpu' } }, 'webgpu', 'fp16', 'fp16'],
      [{ gpu: { count: 1 }, serving: { dtype: 'fp32' } }, 'cuda', 'fp32', 'fp32'],
      [{ gpu: { count: 0 } }, 'cpu', 'fp32', 'fp32'],
      [{ gpu: { count: 0 }, serving: { dtype: 'fp16' } }, 'cpu', 'fp16', 'fp32'],
    ];
    for (const [spec, device, serverDtype, initDtype] of cases) {
      const p = plannedDeployment(cr({ source: { uri: 'hf://org/fine-tune' }, ...spec }), config) as Obj;
      const init = podSpec(p).initContainers[0];
      expect([argAfter(server(p).args, '--device'), argAfter(server(p).args, '--dtype'), argAfter(init.args, '--dtype')]).toEqual([device, serverDtype, initDtype]);
      expect(init.args.slice(0, 4)).toEqual(['pull', 'hf://org/fine-tune', '--dir', server(p).args[1]]);
    }
  });

  it('appends the revision and passes the Hugging Face token from its Secret', () => {
    const s = plannedDeployment(cr({ source: { uri: 'hf://a/b', revision: 'v2', tokenSecretRef: { name: 'hf' } } }), config) as Obj;
    const init = podSpec(s).initContainers[0];
    expect(init.args[1]).toBe('hf://a/b@v2');
    expect(init.env).toContainEqual({ name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: 'hf', key: 'token' } } });
    expect(JSON.stringify(server(s).env)).not.toMatch(/HF_TOKEN/);
  });

  it('keeps the model on a cache PVC: an existing claim, or the one it creates by size', () => {
    const existing = plannedDeployment(cr({ cache: { pvc: { claimName: 'shared' } } }), config) as Obj;
    expect(podSpec(existing).volumes).toContainEqual({ name: 'model', persistentVolumeClaim: { claimName: 'shared' } });
    expect(planCachePvc(cr({ cache: { pvc: { claimName: 'shared' } } }))).toBeUndefined();
    const sized = cr({ cache: { pvc: { size: '20Gi', storageClassName: 'fast' } } });
    expect(podSpec(plannedDeployment(sized, config) as Obj).volumes).toContainEqual({ name: 'model', persistentVolumeClaim: { claimName: 'demo-model-cache' } });
    expect(planCachePvc(sized)?.spec).toEqual({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '20Gi' } }, storageClassName: 'fast' });
  });

  it('serves a pvc:// source straight from the read-only claim, without an init container', () => {
    const p = plannedDeployment(cr({ source: { uri: 'pvc://models/tiny-sd' }, gpu: { count: 0 } }), config) as Obj;
    expect(podSpec(p).initContainers).toBeUndefined();
    expect(server(p).args[1]).toBe('/models/models/tiny-sd');
    expect(podSpec(p).volumes).toContainEqual({ name: 'model', persistentVolumeClaim: { claimName: 'models', readOnly: true } });
    expect(server(p).volumeMounts).toContainEqual({ name: 'model', mountPath: '/models/models', readOnly: true });
  });

  it('copies placement, pod metadata, env and pull secrets', () => {
    const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } };
    const p = plannedDeployment(
      cr({
        gpu: { count: 0 },
        nodeSelector: { pool: 'gpu' },
        tolerations: [{ key: 'x', operator: 'Exists' }],
        affinity,
        priorityClassName: 'high',
        podLabels: { team: 'ml', 'app.kubernetes.io/instance': 'hijack' },
        podAnnotations: { a: 'b' },
        env: [{ name: 'FOO', value: 'bar' }],
        imagePullSecrets: [{ name: 'regcred' }],
        image: 'custom:1',
        imagePullPolicy: 'Always',
      }),
      config,
    ) as Obj;
    const ps = podSpec(p);
    expect(ps.nodeSelector).toEqual({ pool: 'gpu' });
    expect(ps.tolerations).toEqual([{ key: 'x', operator: 'Exists' }]);
    expect(ps.affinity).toEqual(affinity);
    expect(ps.priorityClassName).toBe('high');
    expect(ps.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(p.spec.template.metadata.labels.team).toBe('ml');
    // The selector labels cannot be overridden by podLabels.
    expect(p.spec.template.metadata.labels['app.kubernetes.io/instance']).toBe('demo');
    expect(p.spec.template.metadata.annotations).toEqual({ a: 'b' });
    expect(server(p).env).toContainEqual({ name: 'FOO', value: 'bar' });
    expect(server(p).image).toBe('custom:1');
    expect(server(p).imagePullPolicy).toBe('Always');
  });

  it('has app.kubernetes.io labels, an owner reference, and a content hash that follows the spec', () => {
    expect(d.metadata.labels).toEqual({
      'app.kubernetes.io/name': 'hypergen',
      'app.kubernetes.io/instance': 'demo',
      'app.kubernetes.io/component': 'server',
      'app.kubernetes.io/managed-by': 'hypergen-operator',
    });
    expect(d.metadata.ownerReferences).toEqual([
      { apiVersion: 'hypergen.io/v1alpha1', kind: 'HyperGenModel', name: 'demo', uid: 'uid-1', controller: true, blockOwnerDeletion: true },
    ]);
    expect(d.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'hypergen', 'app.kubernetes.io/instance': 'demo' });
    const again = plannedDeployment(cr({ gpu: { count: 1 } }), config);
    const changed = plannedDeployment(cr({ gpu: { count: 2 } }), config);
    expect(again.metadata.annotations?.[HASH_ANNOTATION]).toBe(d.metadata.annotations[HASH_ANNOTATION]);
    expect(changed.metadata.annotations?.[HASH_ANNOTATION]).not.toBe(d.metadata.annotations[HASH_ANNOTATION]);
  });

  it('sets replicas only when the CR does', () => {
    expect('replicas' in d.spec).toBe(false);
    expect((plannedDeployment(cr({ replicas: 3 }), config) as Obj).spec.replicas).toBe(3);
    expect((plannedDeployment(cr({ replicas: 0 }), config) as Obj).spec.replicas).toBe(0);
  });
});

describe('planning: Service and Ingress', () => {
  it('exposes port 80 named http to the server port', () => {
    const s = planService(cr()) as Obj;
    expect(s.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
    expect(s.spec.selector).toEqual({ 'app.kubernetes.io/name': 'hypergen', 'app.kubernetes.io/instance': 'demo' });
    expect(serviceURL(cr())).toBe('http://demo.ml.svc.cluster.local/v1');
  });

  it('plans an Ingress only when enabled, with class, TLS and annotations', () => {
    expect(planIngress(cr())).toBeUndefined();
    expect(planIngress(cr({ ingress: { enabled: false, host: 'a.b' } }))).toBeUndefined();
    const i = planIngress(
      cr({ ingress: { enabled: true, host: 'img.example.com', className: 'nginx', path: '/sd', tls: { secretName: 'tls' }, annotations: { x: 'y' } } }),
    ) as Obj;
    expect(i.spec.ingressClassName).toBe('nginx');
    expect(i.spec.tls).toEqual([{ hosts: ['img.example.com'], secretName: 'tls' }]);
    expect(i.metadata.annotations).toEqual({ x: 'y' });
    expect(i.spec.rules[0].http.paths[0]).toEqual({ path: '/sd', pathType: 'Prefix', backend: { service: { name: 'demo', port: { name: 'http' } } } });
    expect(ingressURL(cr({ ingress: { enabled: true, host: 'img.example.com', path: '/sd', tls: { secretName: 'tls' } } }))).toBe('https://img.example.com/sd/v1');
    expect(ingressURL(cr({ ingress: { enabled: true, host: 'img.example.com' } }))).toBe('http://img.example.com/v1');
  });
});

describe('planning: whole plan', () => {
  it('is deterministic for the same inputs and lists each owned kind once', () => {
    const a = plan(cr({ ingress: { enabled: true, host: 'h.example' } }), config, fixedBytes);
    const b = plan(cr({ ingress: { enabled: true, host: 'h.example' } }), config, fixedBytes);
    expect([...a.objects.keys()]).toEqual(['Secret', 'Deployment', 'Service', 'Ingress']);
    expect(JSON.stringify([...a.objects])).toBe(JSON.stringify([...b.objects]));
    const own = plan(cr({ apiKey: { secretRef: { name: 's' } } }), config, fixedBytes).objects;
    expect([...own.keys()]).toEqual(['Secret', 'Deployment', 'Service']);
    expect(own.get('Secret')!.map((s) => s.metadata.name)).toEqual(['demo-peer-key']);
    expect(a.objects.get('Secret')!.map((s) => s.metadata.name)).toEqual(['demo-api-key', 'demo-peer-key']);
  });
});

describe('planning: replicas serve each other url images (issue 13)', () => {
  const d = plannedDeployment(cr(), config) as Obj;

  it('generates a peer key Secret, mounts it as a file and gives the server its pod IP', () => {
    const secret = planPeerKeySecret(cr(), fixedBytes) as Obj;
    expect(secret.metadata.name).toBe('demo-peer-key');
    expect(Buffer.from(Buffer.from(secret.data['peer-key'], 'base64').toString(), 'base64url')).toEqual(Buffer.alloc(32, 7));
    expect(podSpec(d).volumes).toContainEqual({ name: 'peer-key', secret: { secretName: 'demo-peer-key', defaultMode: 0o440 } });
    expect(server(d).volumeMounts).toContainEqual({ name: 'peer-key', mountPath: '/etc/hypergen/peer-key', readOnly: true });
    expect(argAfter(server(d).args, '--peer-key-file')).toBe('/etc/hypergen/peer-key/peer-key');
    expect(server(d).env).toContainEqual({ name: 'HYPERGEN_PEER_ADDRESS', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } });
  });
});

describe('planning: drain on termination (issue 13)', () => {
  it('sleeps in preStop, then gives the server a drain delay and a shutdown grace that fit the grace period', () => {
    const d = plannedDeployment(cr(), config) as Obj;
    const grace = podSpec(d).terminationGracePeriodSeconds as number;
    const sleep = Number(server(d).lifecycle.preStop.exec.command[1]);
    expect(server(d).lifecycle.preStop.exec.command[0]).toBe('sleep');
    expect(sleep).toBeGreaterThan(0);
    const drainDelay = Number(argAfter(server(d).args, '--drain-delay-s'));
    const serverGrace = Number(argAfter(server(d).args, '--shutdown-grace-s'));
    expect(drainDelay).toBeGreaterThan(0);
    expect(drainDelay).toBeLessThan(serverGrace);
    expect(sleep + serverGrace).toBeLessThan(grace);
  });
});
