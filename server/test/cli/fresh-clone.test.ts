// Issue 13 item 10: on a fresh clone, `npm ci` links a `hypergen` bin that works. npm links bins before the root's
// prepare script builds dist/, and skips a bin whose file does not exist, so the bin must be a committed file. This
// checks out the committed tree (git archive HEAD: no build outputs, no untracked files), runs npm ci from the local
// cache, and runs `npx hypergen` before and after building the server.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from '@jest/globals';
import { REPO_ROOT } from '../../../hack/src/server-process.js';

const dir = mkdtempSync(join(tmpdir(), 'hg-fresh-clone-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (command: string, args: string[], cwd = dir) => {
  const r = spawnSync(command, args, {
    cwd, encoding: 'utf8', timeout: 240_000,
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
};

it('npm ci on the committed tree links `hypergen`; npx hypergen says to build, then --help works once built', () => {
  // What npm ci and the server build read: the workspace manifests, the lockfile, the server's sources.
  const paths = ['package.json', 'package-lock.json', 'tsconfig.base.json', 'server', 'operator/package.json', 'hack/package.json'];
  const archive = spawnSync('git', ['archive', '--format=tar', 'HEAD', ...paths], { cwd: REPO_ROOT, maxBuffer: 1 << 30 });
  expect(archive.status).toBe(0);
  expect(spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout }).status).toBe(0);
  expect(existsSync(join(dir, 'server/dist'))).toBe(false);

  // --ignore-scripts: the root's prepare (tsc -b of every workspace) is the slow part; it runs after bins are linked.
  const ci = run('npm', ['ci', '--prefer-offline', '--ignore-scripts']);
  expect(ci).toMatchObject({ code: 0 });
  expect(existsSync(join(dir, 'node_modules/.bin/hypergen'))).toBe(true);

  const unbuilt = run('npx', ['--no-install', 'hypergen', '--help']);
  expect(unbuilt.code).toBe(1);
  expect(unbuilt.out).toContain('build first');

  expect(run('npx', ['tsc', '-b', 'server'])).toMatchObject({ code: 0 });
  const help = run('npx', ['--no-install', 'hypergen', '--help']);
  expect(help).toMatchObject({ code: 0 });
  expect(help.out).toMatch(/Usage: hypergen/);
  expect(help.out).toContain('serve');
  const serveHelp = run('npx', ['--no-install', 'hypergen', 'serve', '--help']);
  expect(serveHelp.out).toContain('--trusted-proxies');
}, 300_000);
