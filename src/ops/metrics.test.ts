import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD } from '../../test/helpers/api.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';
import { ConfigError, loadConfig } from '../config.js';

const TOKEN = 'metrics-token-0123456789abcdef';

describe('/metrics', () => {
  let s: TestServer;
  let base: string;
  beforeAll(async () => {
    s = await startTestServer('sqlite', { PLAZA_METRICS_TOKEN: TOKEN, PLAZA_ADMIN_USERNAME: 'boss', PLAZA_ADMIN_PASSWORD: PASSWORD });
    base = `http://127.0.0.1:${s.port}`;
  });
  afterAll(async () => {
    await s?.close();
  });

  it('is off by default (404) and needs a long token', async () => {
    const off = await startTestServer('sqlite');
    try {
      expect((await api(`http://127.0.0.1:${off.port}`, 'GET', '/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    } finally {
      await off.close();
    }
    expect(() => loadConfig({ PLAZA_METRICS_TOKEN: 'short' })).toThrow(ConfigError);
  });

  it('answers 401 without the bearer token, Prometheus text with it', async () => {
    const none = await api(base, 'GET', '/metrics');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('UNAUTHENTICATED');
    expect((await api(base, 'GET', '/metrics', { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
    await api(base, 'GET', '/api/health');
    await api(base, 'GET', '/api/users/42');
    const login = await api(base, 'POST', '/api/auth/login', { json: { identifier: 'boss', password: PASSWORD } });
    await api(base, 'POST', '/api/admin/backups', { token: login.body.accessToken });
    const room = (await api(base, 'POST', '/api/chat/rooms', { token: login.body.accessToken, json: { name: 'metered' } })).body.room;
    for (let i = 0; i < 3; i++) await api(base, 'POST', `/api/chat/rooms/${room.id}/messages`, { token: login.body.accessToken, json: { body: `m${i}`, clientId: 'same-id' } });
    const r = await api(base, 'GET', '/metrics', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/plain');
    expect(r.text).toMatch(/plaza_http_requests_total\{method="GET",route="\/api\/health",status="200"\} 1/);
    // Route patterns, not raw URLs.
    expect(r.text).toMatch(/route="\/api\/users\/:id",status="401"/);
    expect(r.text).toContain('plaza_http_request_duration_seconds_bucket');
    expect(r.text).toMatch(/plaza_nodejs_eventloop_lag_p99_seconds \d/);
    expect(r.text).toMatch(/plaza_http_connections [1-9]/);
    expect(r.text).toMatch(/plaza_chat_connections 0/);
    expect(r.text).toMatch(/plaza_backup_age_seconds \d/);
    expect(r.text).toMatch(/plaza_db_query_duration_seconds_count [1-9]/);
    expect(r.text).toMatch(/plaza_chat_messages_total 1\n/); // one message, resent twice with its client id
    expect(r.text).toMatch(/plaza_chat_deliveries_total 0\n/); // nobody connected
    expect(r.text).toMatch(/plaza_db_query_errors_total 0/);
    expect(r.text).toMatch(/plaza_http_body_bytes_total\{direction="in",route="\/api\/auth\/login"\} [1-9]/);
    expect(r.text).not.toContain(TOKEN);
  });
});
