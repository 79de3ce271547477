// hack/gpu-check.sh where there is no GPU (CI, this machine): one line saying so and exit 0; a bad argument exits 2.
// A machine with a GPU would run the whole check, so there the first test is skipped.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { REPO_ROOT } from '../../src/server-process.js';

const SCRIPT = join(REPO_ROOT, 'hack', 'gpu-check.sh');
const onPath = (name: string) => (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, name)));
const hasGpu = onPath('nvidia-smi') || existsSync('/dev/nvidia0') || (existsSync('/dev/dri') && readdirSync('/dev/dri').some((f) => f.startsWith('renderD')));

const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync('bash', [SCRIPT, ...args], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, GPU_CHECK_FORCE: '', ...env } });

describe('hack/gpu-check.sh', () => {
  (hasGpu ? it.skip : it)('degrades to one line and exit 0 without a GPU', () => {
    const { status, stdout, stderr } = run([]);
    expect(status).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toBe('gpu-check: no GPU on this machine (no nvidia-smi, no /dev/nvidia0, no /dev/dri/renderD*): nothing to measure\n');
  });

  it('exits 2 on an unknown argument, saying so', () => {
    const { status, stdout } = run(['--gpu']);
    expect(status).toBe(2);
    expect(stdout).toMatch(/^gpu-check: unknown argument '--gpu' \(usage: /);
  });
});
