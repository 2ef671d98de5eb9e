import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin } from '../../test/helpers/api.js';
import { ChatClient } from '../../test/helpers/chat.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';
import { MAX_BODY_CHARS } from './chat.schemas.js';
import { parseClientFrame } from './protocol.js';

/** The frame schema's words: each failure names its field, as before the frames were a TypeBox union. */
describe('client frames checked against the schema', () => {
  const refused = (frame: unknown) => {
    try {
      parseClientFrame(JSON.stringify(frame));
    } catch (err) {
      return { code: (err as { code: string }).code, message: (err as Error).message };
    }
    return undefined;
  };

  it('names the field and what it must be', () => {
    const cases: Array<[unknown, string]> = [
      [{ type: 'dm', user: {} }, '"user" must be a user id or a username'],
      [{ type: 'dm', user: '' }, '"user" must be a user id or a username'],
      [{ type: 'create', name: 'x', visibility: 'secret' }, '"visibility" must be "public" or "private"'],
      [{ type: 'create', name: 'x'.repeat(65) }, '"name" is longer than 64 characters'],
      [{ type: 'ping', ref: 7 }, '"ref" must be a string'],
      [{ type: 'history', room: 1.5 }, '"room" must be a whole number ≥ 0'],
      [{ type: 'history', room: 2 ** 60 }, '"room" must be a whole number ≥ 0'],
      [{ type: 'resume', rooms: Array.from({ length: 501 }, () => ({ room: 1, after: 0 })) }, '"rooms" has more than 500 entries'],
      [{ type: 'resume', rooms: [{ room: -1, after: 0 }] }, 'each of "rooms" must be {"room": <id>, "after": <sequence>}'],
      [{ type: 'bye', ref: 'x' }, '"bye" frames have no field "ref"'],
      [{ type: 'invite', room: 1 }, '"invite" frames need "user"'],
      [{ type: 'join' }, '"join" frames need either "room" or "name"'],
      [{ type: 'share', fileId: 'f', room: 1, user: 2 }, '"share" frames need either "room" or "user" (a direct message)'],
    ];
    for (const [frame, message] of cases) expect({ frame, ...refused(frame) }).toEqual({ frame, code: 'VALIDATION_FAILED', message });
  });

  it('takes a field sent as null for a field not sent, and passes valid frames through typed', () => {
    expect(parseClientFrame('{"type":"send","room":3,"user":null,"body":"hi","ref":null}')).toEqual({ type: 'send', room: 3, body: 'hi' });
    expect(refused({ type: 'send', room: 3, body: null })).toEqual({ code: 'VALIDATION_FAILED', message: '"send" frames need "body"' });
    const frame = parseClientFrame('{"type":"resume","rooms":[{"room":3,"after":41}],"ref":"r1"}');
    expect(frame.type === 'resume' && frame.rooms[0]).toEqual({ room: 3, after: 41 });
  });

  it('counts a message body in UTF-16 units, as the services do', () => {
    expect(refused({ type: 'send', room: 1, body: '😀'.repeat(MAX_BODY_CHARS / 2 + 1) })).toEqual({
      code: 'VALIDATION_FAILED',
      message: `"body" is longer than ${MAX_BODY_CHARS} characters`,
    });
    expect(parseClientFrame(JSON.stringify({ type: 'send', room: 1, body: '😀'.repeat(MAX_BODY_CHARS / 2) })).type).toBe('send');
  });
});

describe('the native chat endpoint', () => {
  let server: TestServer;
  let ann: Awaited<ReturnType<typeof registerAndLogin>>;
  const open: ChatClient[] = [];
  beforeAll(async () => {
    server = await startTestServer('sqlite');
    ann = await registerAndLogin(server.url, 'ann');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  afterAll(() => server.close());

  /** A raw GET without Upgrade, as curl or a browser's address bar sends it. */
  function plainGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(`${server.url}${path}`, { headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('answers a plain GET (no Upgrade) with 426 and Plaza\'s JSON error, logged in or not, without spending a ticket', async () => {
    const ticket = (await api(server.url, 'POST', '/api/chat/ticket', { token: ann.accessToken })).body.ticket;
    for (const [path, headers] of [
      ['/api/chat', {}],
      ['/api/chat', { authorization: `Bearer ${ann.accessToken}` }],
      [`/api/chat?ticket=${ticket}`, {}],
    ] as const) {
      const r = await plainGet(path, headers);
      expect(r.status, path).toBe(426);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(r.headers.upgrade).toBe('websocket');
      expect(JSON.parse(r.body)).toEqual({
        error: { code: 'BAD_REQUEST', message: 'This is a WebSocket endpoint: connect with Upgrade: websocket' },
      });
    }
    const c = await ChatClient.open(server.url, { ticket });
    open.push(c);
    expect(c.hello.user.name).toBe('ann');
  });

  it('documents the WebSocket route and its frames in /openapi.json', async () => {
    const doc = (await api(server.url, 'GET', '/openapi.json')).body;
    const route = doc.paths['/api/chat']?.get;
    expect(route.description).toContain('#/components/schemas/ChatClientFrame');
    expect(Object.keys(route.responses)).toEqual(expect.arrayContaining(['101', '401', '426']));
    const { ChatClientFrame, ChatServerFrame } = doc.components.schemas;
    // @fastify/swagger writes a `const` as a one-value `enum`.
    const typeOf = (s: any) => s.properties.type.const ?? s.properties.type.enum?.[0];
    const types = (u: any) => u.anyOf.map(typeOf);
    expect(types(ChatClientFrame)).toEqual(['send', 'share', 'history', 'resume', 'join', 'create', 'leave', 'rooms', 'members', 'invite', 'remove', 'dm', 'read', 'ping', 'bye']);
    expect(types(ChatServerFrame)).toEqual(expect.arrayContaining(['hello', 'message', 'presence', 'membership', 'direct', 'error', 'ack', 'history', 'resumed', 'read', 'pong']));
    expect(ChatClientFrame.discriminator).toEqual({ propertyName: 'type' });
    const send = ChatClientFrame.anyOf[0];
    expect(send.properties.body.maxLength).toBe(MAX_BODY_CHARS);
    // The message shape is the REST one too.
    const restMessage = doc.paths['/api/chat/rooms/{room}/messages'].get.responses['200'].content['application/json'].schema.properties.messages.items;
    const frameMessage = ChatServerFrame.anyOf.find((s: any) => typeOf(s) === 'message');
    expect(Object.keys(frameMessage.properties)).toEqual(['type', ...Object.keys(restMessage.properties)]);
  });

  it('gives an over-long message VALIDATION_FAILED on REST and on the socket, however its characters are counted', async () => {
    const a = await ChatClient.open(server.url, { token: ann.accessToken });
    open.push(a);
    const room = (await a.request({ type: 'create', name: 'long' })).room.id;
    const ascii = 'x'.repeat(MAX_BODY_CHARS + 1);
    // 8,001 code points (under a code-point count of 16,000) but 16,002 UTF-16 units.
    const emoji = '😀'.repeat(MAX_BODY_CHARS / 2 + 1);
    for (const body of [ascii, emoji]) {
      const rest = await api(server.url, 'POST', `/api/chat/rooms/${room}/messages`, { token: ann.accessToken, json: { body } });
      expect([rest.status, rest.body.error?.code]).toEqual([400, 'VALIDATION_FAILED']);
      // A frame that fails its schema is answered without a ref (as before the schema).
      a.send({ type: 'send', room, body });
      expect(await a.next((f) => f.type === 'error')).toMatchObject({ code: 'VALIDATION_FAILED', message: /"body" is longer than 16000/ });
    }
    expect((await a.request({ type: 'send', room, body: 'x'.repeat(MAX_BODY_CHARS) })).type).toBe('ack');
  });
});

describe('native chat errors by the one rule', () => {
  it('an unavailable database is said as itself, with its retry hint, not masked', async () => {
    const server = await startTestServer('sqlite');
    try {
      const ann = await registerAndLogin(server.url, 'ann');
      const a = await ChatClient.open(server.url, { token: ann.accessToken });
      await server.core.database.close();
      const err = await a.request({ type: 'create', name: 'down' });
      expect(err).toMatchObject({ type: 'error', code: 'DATABASE_UNAVAILABLE', message: 'The database is unavailable; retry shortly', retryAfter: 2 });
      await a.close();
    } finally {
      await server.close();
    }
  });
});
