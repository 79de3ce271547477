// The repository's public-project files: licence, contributor guide, changelog, and the CI/release workflows and
// shell scripts checked by Debian's yamllint and shellcheck (.ci/run installs both).
import { describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../src/server-process.js';

const tracked = (...patterns: string[]): string[] =>
  execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', ...patterns], { cwd: REPO_ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((path) => path && existsSync(join(REPO_ROOT, path)));

function lint(tool: string, args: string[]): { code: number | null; output: string } {
  const run = spawnSync(tool, args, { cwd: REPO_ROOT, encoding: 'utf8' });
  if (run.error) throw new Error(`${tool} is not installed (.ci/run installs it): ${run.error.message}`);
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('repository hygiene', () => {
  it('has the Apache-2.0 licence package.json declares, a contributor guide and a changelog', () => {
    expect(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).license).toBe('Apache-2.0');
    expect(readFileSync(join(REPO_ROOT, 'LICENSE'), 'utf8')).toContain('Apache License\n                           Version 2.0, January 2004');
    for (const file of ['CONTRIBUTING.md', 'CHANGELOG.md']) expect(readFileSync(join(REPO_ROOT, file), 'utf8').length).toBeGreaterThan(200);
  });

  it('runs .ci/run in its CI workflow and builds images and the chart on release', () => {
    expect(readFileSync(join(REPO_ROOT, '.github/workflows/ci.yml'), 'utf8')).toContain('bash .ci/run');
    const release = readFileSync(join(REPO_ROOT, '.github/workflows/release.yml'), 'utf8');
    for (const needle of ['server/Dockerfile', 'operator/Dockerfile', 'ghcr.io/hypergen/hypergen:', 'ghcr.io/hypergen/hypergen-operator:', 'helm push']) {
      expect(release).toContain(needle);
    }
  });

  it('passes yamllint on the workflows and examples', () => {
    const files = tracked('.github/workflows/*.yml', 'examples/*.yaml');
    expect(files.length).toBeGreaterThanOrEqual(3);
    const result = lint('yamllint', ['-c', '.yamllint.yaml', '--strict', ...files]);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });

  it('passes shellcheck on every shell script', () => {
    const files = [...tracked('*.sh'), '.ci/run'];
    const result = lint('shellcheck', ['--severity=style', ...files]);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });
});
