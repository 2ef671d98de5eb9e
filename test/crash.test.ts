import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin } from './helpers/api.js';
import { serveProcess } from './helpers/process.js';
import { RawConnection } from './helpers/raw-http.js';

const dataDir = mkdtempSync(path.join(tmpdir(), 'plaza-crash-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const tusHeaders = (token: string, extra: Record<string, string> = {}) => ({
  'tus-resumable': '1.0.0',
  authorization: `Bearer ${token}`,
  ...extra,
});

describe('kill -9 in the middle of uploads', () => {
  it('lists no partial file after a restart, cleans temp files, and a tus upload resumes to the right SHA-256', async () => {
    const env = { PLAZA_DATA_DIR: dataDir, PLAZA_LOG_LEVEL: 'warn' };
    const first = await serveProcess(env);
    const user = await registerAndLogin(first.url, 'crasher');
    const before = await api(first.url, 'POST', '/api/files/raw', {
      token: user.accessToken,
      headers: { 'content-type': 'application/octet-stream', 'file-name': 'kept.txt' },
      body: 'acknowledged before the crash',
    });
    expect(before.status).toBe(201);

    // A tus upload that got its first 1 MiB acknowledged.
    const data = randomBytes(3 * 1024 * 1024);
    const created = await fetch(`${first.url}/api/files/tus`, {
      method: 'POST',
      headers: tusHeaders(user.accessToken, {
        'upload-length': String(data.length),
        'upload-metadata': `filename ${Buffer.from('resumed.bin').toString('base64')}`,
      }),
    });
    const location = created.headers.get('location') ?? '';
    const patched = await fetch(`${first.url}${location}`, {
      method: 'PATCH',
      headers: tusHeaders(user.accessToken, { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }),
      body: data.subarray(0, 1024 * 1024),
    });
    expect(patched.status).toBe(204);

    // A raw upload half sent when the process dies.
    const c = await RawConnection.open(first.port);
    c.write(
      `POST /api/files/raw HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.accessToken}\r\nContent-Type: application/octet-stream\r\nFile-Name: partial.bin\r\nContent-Length: ${20 * 1024 * 1024}\r\n\r\n`,
    );
    c.write(Buffer.alloc(4 * 1024 * 1024, 1));
    await new Promise((r) => setTimeout(r, 500));
    first.child.kill('SIGKILL');
    await first.exited;
    c.close();

    const second = await serveProcess(env);
    try {
      const list = await api(second.url, 'GET', '/api/files', { token: user.accessToken });
      expect(list.status).toBe(200);
      expect(list.body.files.map((f: { name: string }) => f.name)).toEqual(['kept.txt']);
      expect(readdirSync(path.join(dataDir, 'uploads', '.tmp'))).toEqual([]);

      const head = await fetch(`${second.url}${location}`, { method: 'HEAD', headers: tusHeaders(user.accessToken) });
      const offset = Number(head.headers.get('upload-offset'));
      expect(offset).toBe(1024 * 1024);
      const rest = await fetch(`${second.url}${location}`, {
        method: 'PATCH',
        headers: tusHeaders(user.accessToken, { 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }),
        body: data.subarray(offset),
      });
      expect(rest.status).toBe(200);
      const file = ((await rest.json()) as { file: { sha256: string; size: number } }).file;
      expect(file.size).toBe(data.length);
      expect(file.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});
