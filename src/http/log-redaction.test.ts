import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

/**
 * Node hands a request it cannot parse to the client-error handler with `err.rawPacket`: the raw
 * request bytes, cookies and passwords included. The server's logger never writes them.
 */
describe('error logs carry no raw request bytes', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('sqlite');
  });
  afterAll(() => server.close());

  it("the running logger's err serializer drops rawPacket and keeps the rest", () => {
    const log = server.app.log as unknown as Record<symbol, Record<string, (v: unknown) => Record<string, unknown>>>;
    const sym = Object.getOwnPropertySymbols(log).find((s) => s.toString() === 'Symbol(pino.serializers)')!;
    const err = Object.assign(new Error('Parse Error: Invalid header value char'), {
      code: 'HPE_INVALID_HEADER_TOKEN',
      rawPacket: Buffer.from('POST /api/auth/login HTTP/1.1\r\nCookie: plaza_session=secret\r\n\r\n{"password":"hunter2"}'),
      cause: Object.assign(new Error('inner'), { rawPacket: Buffer.from('secret') }),
    });
    const out = log[sym]!.err!(err);
    expect(JSON.stringify(out)).not.toMatch(/secret|hunter2|rawPacket/);
    expect(out).toMatchObject({ type: 'Error', message: 'Parse Error: Invalid header value char', code: 'HPE_INVALID_HEADER_TOKEN' });
    expect(out.stack).toEqual(expect.any(String));
  });
});
