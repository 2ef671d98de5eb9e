import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin } from '../../test/helpers/api.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

const TOKEN = 'metrics-token-0123456789abcdef';

/** A request whose body goes out chunked (no Content-Length), in several writes. */
function chunked(port: number, method: string, path: string, headers: Record<string, string>, parts: Buffer[]) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    for (const p of parts) req.write(p);
    req.end();
  });
}

/** The value of one sample in Prometheus text (0 when absent). */
function sample(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('/metrics after real traffic', () => {
  let s: TestServer;
  let token: string;
  const scrape = async () => (await api(s.url, 'GET', '/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })).text;
  /** Bytes counted for a route since `before`, once the connection reported them (on close). */
  async function counted(before: string, direction: 'in' | 'out', route: string, expected: number) {
    let now = 0;
    for (let i = 0; i < 50; i++) {
      now = sample(await scrape(), 'plaza_http_body_bytes_total', `direction="${direction}",route="${route}"`) - sample(before, 'plaza_http_body_bytes_total', `direction="${direction}",route="${route}"`);
      if (now >= expected) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    return now;
  }

  beforeAll(async () => {
    s = await startTestServer('sqlite', { PLAZA_METRICS_TOKEN: TOKEN, PLAZA_NETCLASS_PORT: '0', PLAZA_TCPCHAT_PORT: '0' });
    token = (await registerAndLogin(s.url, 'meter')).accessToken;
  });
  afterAll(() => s?.close());

  it('counts a chunked upload (no Content-Length) by the bytes that arrived', async () => {
    const before = await scrape();
    const parts = [Buffer.alloc(70_000, 1), Buffer.alloc(30_001, 2)];
    const r = await chunked(s.port, 'POST', '/api/files/raw', { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'file-name': 'chunked.bin' }, parts);
    expect(r.status).toBe(201);
    expect(await counted(before, 'in', '/api/files/raw', 100_001)).toBe(100_001);
  });

  it('counts a tus PATCH stream and a ranged download by their bytes', async () => {
    const size = 50_000;
    const created = await fetch(`${s.url}/api/files/tus`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0', 'upload-length': String(size), 'upload-metadata': `filename ${Buffer.from('t.bin').toString('base64')}` },
    });
    expect(created.status).toBe(201);
    const location = created.headers.get('location') ?? '';
    const before = await scrape();
    const patched = await chunked(s.port, 'PATCH', location, { authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, [Buffer.alloc(20_000, 3), Buffer.alloc(30_000, 4)]);
    expect([200, 204]).toContain(patched.status);
    expect(patched.headers['upload-offset']).toBe(String(size));
    expect(await counted(before, 'in', '/api/files/tus/*', size)).toBe(size);

    const list = await api(s.url, 'GET', '/api/files', { token });
    const file = list.body.files.find((f: { name: string }) => f.name === 't.bin');
    const beforeGet = await scrape();
    const ranged = await fetch(`${s.url}/api/files/${file.id}/content`, { headers: { authorization: `Bearer ${token}`, range: 'bytes=100-1099' } });
    expect(ranged.status).toBe(206);
    expect((await ranged.arrayBuffer()).byteLength).toBe(1000);
    expect(await counted(beforeGet, 'out', '/api/files/:id/content', 1000)).toBe(1000);
    // A HEAD writes no body: nothing counted for it.
    const head = await fetch(`${s.url}/api/files/${file.id}/content`, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } });
    expect(head.status).toBe(200);
    const whole = await fetch(`${s.url}/api/files/${file.id}/content`, { headers: { authorization: `Bearer ${token}` } });
    expect((await whole.arrayBuffer()).byteLength).toBe(size);
    expect(await counted(beforeGet, 'out', '/api/files/:id/content', 1000 + size)).toBe(1000 + size);
  });

  it('gauges open TCP-door connections per door', async () => {
    const ports = { seed001: s.netclassPort as number, seed003: s.tcpchatPort as number };
    const open = (port: number) =>
      new Promise<net.Socket>((resolve, reject) => {
        const c = net.connect(port, '127.0.0.1', () => resolve(c));
        c.on('error', reject);
      });
    const sockets = [await open(ports.seed001), await open(ports.seed001), await open(ports.seed003)];
    const gauge = async (door: string, want: number) => {
      let v = -1;
      for (let i = 0; i < 50 && v !== want; i++) {
        v = sample(await scrape(), 'plaza_tcp_connections', `door="${door}"`);
        if (v !== want) await new Promise((r) => setTimeout(r, 20));
      }
      return v;
    };
    expect(await gauge('seed001', 2)).toBe(2);
    expect(await gauge('seed003', 1)).toBe(1);
    for (const c of sockets) c.destroy();
    expect(await gauge('seed001', 0)).toBe(0);
    expect(await gauge('seed003', 0)).toBe(0);
  });
});
