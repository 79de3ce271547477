import { mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { ApiKeys, FileKeys, parseKeyFile } from '../../src/auth/api-keys.js';

const silent = pino({ level: 'silent' });

describe('parseKeyFile', () => {
  it('takes one key per line, skipping blanks and comments, trimming CRLF and spaces', () => {
    expect(parseKeyFile('# rotated 2026-11\nsk-a\r\n\n  sk-b  \n#sk-c\n')).toEqual(['sk-a', 'sk-b']);
  });
});

describe('ApiKeys', () => {
  it('matches any of its keys and nothing else', () => {
    const keys = new ApiKeys(['sk-a', 'sk-b']);
    expect(keys.matches('sk-a')).toBe(true);
    expect(keys.matches('sk-b')).toBe(true);
    expect(keys.matches('sk-')).toBe(false);
    expect(keys.matches('sk-a ')).toBe(false);
    expect(new ApiKeys([]).matches('')).toBe(false);
  });
});

describe('FileKeys', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'hg-keys-'));
    dirs.push(dir);
    return dir;
  };

  it('re-reads the file when it changes: overlap, then only the new key', () => {
    const path = join(tempDir(), 'keys');
    writeFileSync(path, 'sk-old\n');
    const source = new FileKeys(path, silent);
    expect(source.current().matches('sk-old')).toBe(true);
    writeFileSync(path, 'sk-old\nsk-new-longer\n');
    expect(source.current().matches('sk-old')).toBe(true);
    expect(source.current().matches('sk-new-longer')).toBe(true);
    writeFileSync(path, 'sk-new-longer\n');
    expect(source.current().matches('sk-old')).toBe(false);
    expect(source.current().matches('sk-new-longer')).toBe(true);
  });

  it('follows a Kubernetes-style atomic symlink swap', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'v1'), 'sk-one\n');
    writeFileSync(join(dir, 'v2'), 'sk-two\n');
    symlinkSync(join(dir, 'v1'), join(dir, '..data'));
    symlinkSync(join(dir, '..data'), join(dir, 'api-key'));
    const source = new FileKeys(join(dir, 'api-key'), silent);
    expect(source.current().matches('sk-one')).toBe(true);
    symlinkSync(join(dir, 'v2'), join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    expect(source.current().matches('sk-one')).toBe(false);
    expect(source.current().matches('sk-two')).toBe(true);
  });

  it('keeps the last good keys while the file is missing', () => {
    const path = join(tempDir(), 'keys');
    writeFileSync(path, 'sk-kept\n');
    const source = new FileKeys(path, silent);
    rmSync(path);
    expect(source.current().matches('sk-kept')).toBe(true);
  });

  it('refuses everything when the file holds no keys', () => {
    const path = join(tempDir(), 'keys');
    writeFileSync(path, '# none yet\n\n');
    expect(new FileKeys(path, silent).current().matches('')).toBe(false);
  });
});
