import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOrCreateSecret, SecretError } from './secret.js';

describe('server secret', () => {
  it('is generated once with mode 0600 and reused', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plaza-secret-'));
    const first = loadOrCreateSecret(dir);
    expect(first.created).toBe(true);
    expect(first.secret.length).toBeGreaterThanOrEqual(64);
    expect(statSync(path.join(dir, 'secret')).mode & 0o777).toBe(0o600);
    const second = loadOrCreateSecret(dir);
    expect(second).toEqual({ secret: first.secret, created: false });
  });

  it('refuses empty, short and well-known secrets', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plaza-secret-'));
    const file = path.join(dir, 'secret');
    for (const bad of [
      '',
      '   \n',
      'tooshort',
      '09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7',
      'a'.repeat(40),
    ]) {
      writeFileSync(file, bad, { mode: 0o600 });
      expect(() => loadOrCreateSecret(dir), JSON.stringify(bad)).toThrow(SecretError);
    }
    expect(() => loadOrCreateSecret(dir, 'changeme')).toThrow(/PLAZA_SECRET/);
    expect(readFileSync(file, 'utf8')).toBe('a'.repeat(40));
  });

  it('tightens a secret file readable by others', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plaza-secret-'));
    writeFileSync(path.join(dir, 'secret'), 'x7Gq'.repeat(16), { mode: 0o644 });
    loadOrCreateSecret(dir);
    expect(statSync(path.join(dir, 'secret')).mode & 0o777).toBe(0o600);
  });
});
