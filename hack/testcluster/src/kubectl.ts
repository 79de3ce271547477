// The real kubectl against a test cluster, each instance with a private HOME and --cache-dir so parallel tests share
// no config or caches: run (exit code and output, never rejects on a non-zero exit), ok, apply, file, cleanup.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlTarget {
  kubeconfigPath: string;
}

/**
 * Runs the real kubectl against a test cluster with a private HOME and --cache-dir, so parallel tests never share
 * discovery/OpenAPI caches or user config.
 */
export class Kubectl {
  readonly home: string;
  readonly cacheDir: string;

  constructor(
    private readonly cluster: KubectlTarget,
    private readonly binary = process.env.KUBECTL ?? 'kubectl',
  ) {
    this.home = mkdtempSync(join(tmpdir(), 'kubectl-home-'));
    this.cacheDir = join(this.home, 'cache');
  }

  /** Runs kubectl; resolves with the exit code (never rejects on a non-zero exit). `stdin` is piped when given. */
  run(args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        this.binary,
        ['--kubeconfig', this.cluster.kubeconfigPath, '--cache-dir', this.cacheDir, ...args],
        { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.home, KUBECONFIG: this.cluster.kubeconfigPath }, timeout: opts.timeoutMs ?? 60000, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err && typeof (err as NodeJS.ErrnoException).code === 'string') return reject(err);
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
        },
      );
      if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
    });
  }

  /** Like run, but rejects with kubectl's stderr when it exits non-zero. */
  async ok(args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.run(args, opts);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  /** `kubectl apply -f -` of a YAML/JSON text. */
  apply(manifest: string, extra: string[] = []): Promise<KubectlResult> {
    return this.run(['apply', '-f', '-', ...extra], { stdin: manifest });
  }

  /** Writes a manifest to a file in the private HOME (for commands that need a path). */
  file(name: string, content: string): string {
    const p = join(this.home, name);
    writeFileSync(p, content);
    return p;
  }

  async cleanup(): Promise<void> {
    rmSync(this.home, { recursive: true, force: true });
  }
}
