import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { ChatClient } from '../../test/helpers/chat.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';
import { AppError } from '../shared/errors.js';
import { startTcpChatDoor, type TcpChatDoor, type TcpChatDoorOptions } from './tcpchat/door.js';
import { bodyOf, incompleteUtf8Tail, parseFileInfo, splitUtf8 } from './tcpchat/framing.js';
import { chatLine, deactivatedText, joinedText, leftText, rejoinedText } from './tcpchat/words.js';

/**
 * A raw socket that behaves like seed 003's tkinter client on the wire: it writes exactly what the
 * seed writes, each `send()` as one write, and keeps every read (chunk) it gets, so tests can check
 * the reply bytes in order and, where it matters, that frames arrived as separate reads.
 */
class SeedClient {
  readonly chunks: Buffer[] = [];
  private cursor = 0;
  private waiters: Array<() => void> = [];
  closed = false;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  static connect(port: number): Promise<SeedClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => resolve(new SeedClient(s)));
      s.once('error', reject);
    });
  }

  /** One `sock.send()` of the seed. */
  send(data: string | Buffer) {
    this.socket.write(data);
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Resolves when `pred` holds, re-checked on every read and on close. */
  async until(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.bytes().subarray(this.cursor).toString('utf8'))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The next bytes received are exactly `parts`, in order (byte-for-byte). */
  async expectNext(...parts: Array<string | Buffer>) {
    const want = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
    await this.until(() => this.closed || this.bytes().length >= this.cursor + want.length, `${want.length} bytes`);
    const got = this.bytes().subarray(this.cursor, this.cursor + want.length);
    expect(got.toString('utf8')).toBe(want.toString('utf8'));
    expect(got.equals(want)).toBe(true);
    this.cursor += want.length;
  }

  /** Nothing more arrives for `ms`. */
  async expectSilence(ms = 300) {
    await new Promise((r) => setTimeout(r, ms));
    expect(this.bytes().subarray(this.cursor).toString('utf8')).toBe('');
  }

  async expectClosed(timeoutMs = 5000) {
    await this.until(() => this.closed, 'the server to close', timeoutMs);
    expect(this.bytes().subarray(this.cursor).toString('utf8')).toBe('');
  }

  drop() {
    this.socket.destroy();
  }
}

const MESG = '[MESG]';
const mesg = (text: string) => [MESG, text];

/** Files on disk under the storage root (temp files included). */
function storedFiles(dataDir: string): string[] {
  const root = path.join(dataDir, 'uploads');
  const out: string[] = [];
  for (const dir of ['images', 'documents', 'files', '.tmp']) {
    for (const name of readdirSync(path.join(root, dir))) out.push(`${dir}/${name}`);
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('seed 003 wire helpers', () => {
  it('splits UTF-8 on character boundaries and finds unfinished characters', () => {
    const text = `${'가'.repeat(700)}abc😀${'나'.repeat(10)}`;
    const pieces = splitUtf8(Buffer.from(text));
    expect(pieces.length).toBe(3);
    for (const p of pieces) {
      expect(p.length).toBeLessThanOrEqual(1024);
      expect(Buffer.from(p.toString('utf8')).equals(p)).toBe(true);
    }
    expect(Buffer.concat(pieces).toString('utf8')).toBe(text);
    expect(splitUtf8(Buffer.from('short')).map(String)).toEqual(['short']);
    const an = Buffer.from('안');
    expect(incompleteUtf8Tail(an)).toBe(0);
    expect(incompleteUtf8Tail(an.subarray(0, 2))).toBe(2);
    expect(incompleteUtf8Tail(Buffer.from('a😀').subarray(0, 4))).toBe(3);
    expect(incompleteUtf8Tail(Buffer.from('abc'))).toBe(0);
  });

  it('parses file info lines and refuses paths and bad sizes', () => {
    expect(parseFileInfo('12,notes.txt')).toEqual({ size: 12, name: 'notes.txt' });
    expect(parseFileInfo('3,a,b.txt')).toEqual({ size: 3, name: 'a,b.txt' });
    for (const name of ['../x', '/etc/x', 'a/b', '..\\x', 'C:\\x', 'c:x', '..', '.', 'a\u0000b', '', ' ']) {
      expect(parseFileInfo(`5,${name}`)).toEqual({ error: 'name', size: 5 });
    }
    for (const info of ['abc,x.txt', '-1,x', ',x', '1.5,x', 'x.txt', '99999999999999999,x']) {
      expect(parseFileInfo(info)).toEqual({ error: 'size' });
    }
    expect(bodyOf('hello\n')).toBe('hello');
    expect(bodyOf('a\nb\r\n')).toBe('a\nb');
  });
});

describe.each(await testDatabases())('seed 003 raw TCP chat front door (%s)', (db) => {
  let server: TestServer;
  let base: string;
  const doors: TcpChatDoor[] = [];
  const clients: SeedClient[] = [];
  const sockets: ChatClient[] = [];
  let rooms = 0;
  const logged: string[] = [];

  /** A door bridged to a fresh room (so presence counts start at zero), with short timeouts. */
  async function door(extra: Partial<TcpChatDoorOptions> = {}) {
    const d = await startTcpChatDoor(server.core, {
      host: '127.0.0.1',
      port: 0,
      room: `room${++rooms}`,
      autoRegister: false,
      loginTimeoutMs: 400,
      partialGapMs: 200,
      fileIdleMs: 400,
      skipQuietMs: 300,
      log: (obj, msg) => logged.push(`${msg} ${String((obj as { err?: unknown }).err ?? '')}`),
      ...extra,
    });
    doors.push(d);
    return d;
  }

  async function connect(d: TcpChatDoor) {
    const c = await SeedClient.connect(d.port);
    clients.push(c);
    return c;
  }

  /** Connects and logs in the way the seed does; checks the welcome and the join notice. */
  async function enter(d: TcpChatDoor, id: string, count: number) {
    const c = await connect(d);
    c.send(`${id}/${PASSWORD}`);
    await c.expectNext('환영', ...mesg(joinedText(id, count)));
    return c;
  }

  /** A door with ann and bob logged in, in that order; ann has seen bob join. */
  async function annAndBob(extra: Partial<TcpChatDoorOptions> = {}) {
    const d = await door(extra);
    const ann = await newUser('ann');
    const bob = await newUser('bob');
    const a = await enter(d, ann.name, 1);
    const b = await enter(d, bob.name, 2);
    await a.expectNext(...mesg(joinedText(bob.name, 2)));
    return { d, ann, bob, a, b };
  }

  let users = 0;
  async function newUser(prefix = 'u') {
    const name = `${prefix}${++users}`;
    const login = await registerAndLogin(base, name);
    return { name, ...login };
  }

  beforeAll(async () => {
    server = await startTestServer(db, { PLAZA_MAX_UPLOAD_BYTES: '300000', PLAZA_PRESENCE_GRACE_SECONDS: '30' });
    base = server.url;
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.drop();
    await Promise.all(sockets.splice(0).map((s) => s.close()));
    await Promise.all(doors.splice(0).map((d) => d.close()));
  });
  afterAll(async () => {
    await server.close();
    // Nothing in these tests is a server fault.
    expect(logged.filter((m) => !m.includes('not reading'))).toEqual([]);
  });

  it('answers logins with the seed words: 환영, 비틀림, 아중복; a refused login closes only its own connection', async () => {
    const d = await door();
    const ann = await newUser('ann');
    const a = await enter(d, ann.name, 1);

    // Right id, wrong password (even while that id is online): 비틀림, then closed.
    const wrong = await connect(d);
    wrong.send(`${ann.name}/not-the-password`);
    await wrong.expectNext('비틀림');
    await wrong.expectClosed();

    // Right password while the id is online: 아중복 (ids are case-insensitive, as accounts are).
    const dup = await connect(d);
    dup.send(`${ann.name.toUpperCase()}/${PASSWORD}`);
    await dup.expectNext('아중복');
    await dup.expectClosed();

    // Unknown id (no auto-registration), no slash, empty id or password: 비틀림 and closed.
    for (const login of [`nobody/${PASSWORD}`, 'just-some-text', `/${PASSWORD}`, `${ann.name}/`]) {
      const bad = await connect(d);
      bad.send(login);
      await bad.expectNext('비틀림');
      await bad.expectClosed();
    }

    // Connecting and saying nothing: closed after the login timeout, without a word.
    const silent = await connect(d);
    await silent.expectClosed(3000);

    // The logged-in user never noticed any of it and still chats.
    a.send(MESG);
    a.send('still here\n');
    await a.expectNext(...mesg(chatLine(ann.name, 'still here')));
    await a.expectSilence(200);
  });

  it('a user already chatting on the web gets 아중복; auto-registration only when configured', async () => {
    const d = await door();
    const web = await newUser('web');
    const ws = await ChatClient.open(base, { token: web.accessToken });
    sockets.push(ws);
    const c = await connect(d);
    c.send(`${web.name}/${PASSWORD}`);
    await c.expectNext('아중복');
    await c.expectClosed();

    const auto = await door({ autoRegister: true });
    const n = await connect(auto);
    n.send(`newbie${users}/${PASSWORD}`);
    await n.expectNext('환영', ...mesg(joinedText(`newbie${users}`, 1)));
    const login = await api(base, 'POST', '/api/auth/login', { json: { identifier: `newbie${users}`, password: PASSWORD } });
    expect(login.status).toBe(200);
    // Auto-registration never takes over an existing account with a wrong password.
    const taken = await connect(auto);
    taken.send(`${web.name}/wrong-password-1`);
    await taken.expectNext('비틀림');
    await taken.expectClosed();
    // Seed ids Plaza cannot hold as usernames (e.g. 개구리) are refused like a wrong password.
    const korean = await connect(auto);
    korean.send(`개구리/${PASSWORD}`);
    await korean.expectNext('비틀림');
    await korean.expectClosed();
    // Without auto-registration an unknown id is refused.
    const plain = await connect(d);
    plain.send(`stranger${users}/${PASSWORD}`);
    await plain.expectNext('비틀림');
  });

  it('two TCP users chat: every member, sender included, gets [MESG] then [<id>] : <text>, each as its own read', async () => {
    const { ann, bob, a, b } = await annAndBob();

    // Exactly the seed: the header and the text (tkinter ends it with a newline) as two sends.
    a.send('[MESG]');
    a.send('안녕하세요\n');
    for (const c of [a, b]) await c.expectNext('[MESG]', `[${ann.name}] : 안녕하세요\n`);

    // Header and text in one write; a multi-line text.
    b.send('[MESG]첫 줄\n둘째 줄\n');
    for (const c of [a, b]) await c.expectNext('[MESG]', `[${bob.name}] : 첫 줄\n둘째 줄\n`);

    // Pacing: the welcome, each header and each payload arrived as a read of its own, so the
    // seed's recv(1024) / recv(10) / recv(1024) never see two of them glued together.
    expect(a.chunks.map((c) => c.toString('utf8'))).toEqual([
      '환영',
      '[MESG]',
      joinedText(ann.name, 1),
      '[MESG]',
      joinedText(bob.name, 2),
      '[MESG]',
      `[${ann.name}] : 안녕하세요\n`,
      '[MESG]',
      `[${bob.name}] : 첫 줄\n둘째 줄\n`,
    ]);
    await a.expectSilence(150);
    await b.expectSilence(0);
  });

  it('reassembles input split anywhere: inside a header, inside a UTF-8 character, several frames in one read', async () => {
    const d = await door();
    const ann = await newUser('ann');
    const a = await enter(d, ann.name, 1);

    a.send('[ME');
    await sleep(30);
    const text = Buffer.from('한글 메시지\n');
    a.send(Buffer.concat([Buffer.from('SG]'), text.subarray(0, 4)])); // cut inside '글'
    await sleep(80);
    a.send(text.subarray(4));
    await a.expectNext(...mesg(chatLine(ann.name, '한글 메시지')));

    a.send('[MESG]one\n[MESG]two\n[MESG]three\n');
    await a.expectNext(...mesg(chatLine(ann.name, 'one')), ...mesg(chatLine(ann.name, 'two')), ...mesg(chatLine(ann.name, 'three')));

    // Noise between frames is skipped; an empty text (tkinter's "\n") says nothing.
    a.send('garbage');
    await sleep(20);
    a.send('[MESG]\n');
    await sleep(100);
    a.send('[MESG]after noise\n');
    await a.expectNext(...mesg(chatLine(ann.name, 'after noise')));

    // A login glued to the first frame (a scripted client) works too.
    const bob = await newUser('bob');
    const b = await connect(d);
    b.send(`${bob.name}/${PASSWORD}\n[MESG]hi all\n`);
    await b.expectNext('환영', ...mesg(joinedText(bob.name, 2)), ...mesg(chatLine(bob.name, 'hi all')));
    await a.expectNext(...mesg(joinedText(bob.name, 2)), ...mesg(chatLine(bob.name, 'hi all')));
  });

  it('keeps every payload within 1024 bytes: long texts go out as several [MESG] frames, cut between characters', async () => {
    const d = await door();
    const ann = await newUser('ann');
    const a = await enter(d, ann.name, 1);
    const long = `${'가나다라'.repeat(300)}끝`; // 3,603 bytes
    a.send('[MESG]');
    a.send(`${long}\n`);
    const line = Buffer.from(chatLine(ann.name, long));
    const pieces = splitUtf8(line);
    expect(pieces.length).toBe(4);
    await a.expectNext(...pieces.flatMap((p) => [MESG, p]));
    for (const p of pieces) expect(p.length).toBeLessThanOrEqual(1024);
    // The whole text is one chat message.
    const h = await api(base, 'GET', `/api/chat/rooms`, { token: ann.accessToken });
    const room = h.body.rooms.find((r: { name: string }) => r.name === `room${rooms}`);
    const history = await api(base, 'GET', `/api/chat/rooms/${room.id}/messages`, { token: ann.accessToken });
    expect(history.body.messages.map((m: { body: string }) => m.body)).toEqual([long]);
  });

  it('bridges the room: a TCP user and a WebSocket user exchange messages and files, with one history', async () => {
    const d = await door({ room: 'lobby' });
    const ann = await newUser('ann');
    const bob = await newUser('bob');
    const a = await enter(d, ann.name, 1);

    const ws = await ChatClient.open(base, { token: bob.accessToken });
    sockets.push(ws);
    const joined = await ws.request({ type: 'join', name: 'lobby' });
    expect(joined).toMatchObject({ type: 'joined', room: { name: 'lobby' } });
    const roomId: number = joined.room.id;
    await a.expectNext(...mesg(joinedText(bob.name, 2)));

    // TCP → web.
    a.send('[MESG]');
    a.send('hello web\n');
    await a.expectNext(...mesg(chatLine(ann.name, 'hello web')));
    const m1 = await ws.next((f) => f.type === 'message' && f.body === 'hello web');
    expect(m1).toMatchObject({ room: roomId, kind: 'text', sender: { id: ann.user.id, name: ann.name } });

    // Web → TCP, in the seed's own form.
    const ack = await ws.request({ type: 'send', room: roomId, body: 'hi tcp 👋' });
    expect(ack.type).toBe('ack');
    await a.expectNext(...mesg(chatLine(bob.name, 'hi tcp 👋')));

    // A TCP file: the web user sees a file message and downloads it; TCP members get the bytes.
    const content = Buffer.from('hello world, 안녕 세계\n');
    a.send('[FILE]');
    a.send(`${content.length},notes.txt`);
    await sleep(150); // the seed sleeps 0.5 s here
    a.send(content);
    const fm = await ws.next((f) => f.type === 'message' && f.kind === 'file');
    expect(fm).toMatchObject({ sender: { name: ann.name }, body: 'notes.txt', file: { name: 'notes.txt', size: content.length } });
    const dl = await fetch(`${base}/api/files/${fm.file.id}/content`, { headers: { authorization: `Bearer ${bob.accessToken}` } });
    expect(dl.status).toBe(200);
    expect(Buffer.from(await dl.arrayBuffer()).equals(content)).toBe(true);
    await a.expectNext('[FILE]', `${content.length},notes.txt`, content);

    // A file shared on the web reaches the TCP user as bytes too.
    const webFile = randomBytes(70_000);
    const up = await api(base, 'POST', '/api/files/raw', {
      token: bob.accessToken,
      headers: { 'content-type': 'application/octet-stream', 'file-name': 'photo.bin' },
      body: webFile as unknown as string,
    });
    expect(up.status).toBe(201);
    const shared = await ws.request({ type: 'share', room: roomId, fileId: up.body.file.id });
    expect(shared.type).toBe('ack');
    await a.expectNext('[FILE]', `${webFile.length},photo.bin`, webFile);

    // History holds the TCP messages and the file, in order.
    const history = await api(base, 'GET', `/api/chat/rooms/${roomId}/messages`, { token: bob.accessToken });
    expect(history.status).toBe(200);
    expect(history.body.messages.map((m: any) => [m.sender.name, m.kind, m.body])).toEqual([
      [ann.name, 'text', 'hello web'],
      [bob.name, 'text', 'hi tcp 👋'],
      [ann.name, 'file', 'notes.txt'],
      [bob.name, 'file', 'photo.bin'],
    ]);

    // The web user leaves cleanly: the TCP user reads the seed's goodbye.
    await ws.close();
    sockets.splice(sockets.indexOf(ws), 1);
    await a.expectNext(...mesg(leftText(bob.name)));

    // A web user who only opens the app (already a member) shows up with the count.
    const again = await ChatClient.open(base, { token: bob.accessToken });
    sockets.push(again);
    await a.expectNext(...mesg(joinedText(bob.name, 2)));
  });

  it('relays a TCP file of several 64 KiB chunks to every TCP member, sender included', async () => {
    const { ann, bob, a, b } = await annAndBob();
    const data = randomBytes(150_000);
    a.send('[FILE]');
    a.send(`${data.length},big.bin`);
    await sleep(150);
    for (let i = 0; i < data.length; i += 65536) a.send(data.subarray(i, i + 65536));
    for (const c of [a, b]) await c.expectNext('[FILE]', `${data.length},big.bin`, data);
    // A message after the file is a frame of its own again.
    b.send('[MESG]got it\n');
    for (const c of [a, b]) await c.expectNext(...mesg(chatLine(bob.name, 'got it')));
    const files = await api(base, 'GET', '/api/files', { token: ann.accessToken });
    expect(files.body.files.map((f: { name: string; size: number }) => [f.name, f.size])).toEqual([['big.bin', 150_000]]);
  });

  it('[!EXIT] is a clean leave (퇴장); a drop is 비활성 and the user may come back with the right password (재입장)', async () => {
    const { d, bob, a, b } = await annAndBob();

    b.send('[!EXIT]');
    await b.expectNext('[!EXIT]');
    await b.expectClosed();
    await a.expectNext(...mesg(leftText(bob.name)));

    // After a clean leave the user is simply new again (the count had dropped).
    const b2 = await enter(d, bob.name, 2);
    await a.expectNext(...mesg(joinedText(bob.name, 2)));

    // The connection drops without [!EXIT]: deactivated, and still counted.
    b2.drop();
    await a.expectNext(...mesg(deactivatedText(bob.name)));

    const wrong = await connect(d);
    wrong.send(`${bob.name}/wrong-password-1`);
    await wrong.expectNext('비틀림');
    await wrong.expectClosed();

    const b3 = await connect(d);
    b3.send(`${bob.name}/${PASSWORD}`);
    await b3.expectNext('환영', ...mesg(rejoinedText(bob.name)));
    await a.expectNext(...mesg(rejoinedText(bob.name)));
    b3.send('[MESG]back\n');
    for (const c of [a, b3]) await c.expectNext(...mesg(chatLine(bob.name, 'back')));

    // A third user sees the count that kept the deactivated-then-back user.
    const cat = await newUser('cat');
    await enter(d, cat.name, 3);
    for (const c of [a, b3]) await c.expectNext(...mesg(joinedText(cat.name, 3)));
  });

  it('refuses bad files per connection: paths, bad sizes, over the limit or quota, lying sizes, cut connections; nothing is left on disk', async () => {
    const { ann, bob, a, b } = await annAndBob();
    const before = storedFiles(server.dataDir);

    const alive = async (word: string) => {
      a.send(`[MESG]${word}\n`);
      for (const c of [a, b]) if (!c.closed) await c.expectNext(...mesg(chatLine(ann.name, word)));
    };

    // A name that is a path: refused, its bytes read and dropped, the connection goes on.
    for (const name of ['../x', '/etc/x', '..\\..\\boot.ini']) {
      a.send('[FILE]');
      a.send(`5,${name}`);
      await sleep(100);
      a.send('abcde');
      await a.expectNext(...mesg('파일을 받을 수 없습니다: 파일 이름이 올바르지 않습니다.'));
      await alive(`after ${name}`);
    }

    // A size that is not a number: refused; input is skipped until the client is quiet.
    a.send('[FILE]');
    a.send('abc,x.txt');
    await sleep(100);
    a.send('some bytes');
    await a.expectNext(...mesg('파일을 받을 수 없습니다: 파일 크기가 올바르지 않습니다.'));
    await sleep(400);
    await alive('after a bad size');

    // Over the upload limit (300,000 bytes here): refused before a byte is stored.
    a.send('[FILE]');
    a.send('400000,big.bin');
    await sleep(100);
    a.send(randomBytes(400_000));
    await a.expectNext(...mesg('파일을 받을 수 없습니다: 업로드 한도를 넘는 크기입니다.'));
    await alive('after too big');

    // Over the user's quota.
    const admin = await server.core.accounts.createUser({ username: `boss${users}`, password: PASSWORD }, 'admin');
    await server.core.files.setQuota(admin, ann.user.id, 100);
    a.send('[FILE]');
    a.send('200,q.bin');
    await sleep(100);
    a.send(randomBytes(200));
    await a.expectNext(...mesg('파일을 받을 수 없습니다: 저장 공간이 부족합니다.'));
    await alive('after the quota');
    await server.core.files.setQuota(admin, ann.user.id, null);

    // A size that lies: fewer bytes, then silence. Abandoned after the idle time, nothing kept.
    a.send('[FILE]');
    a.send('100,lie.txt');
    await sleep(100);
    a.send('only ten b');
    await a.expectNext(...mesg('파일을 받을 수 없습니다: 파일 내용이 끝까지 오지 않았습니다.'));
    await alive('after the lie');

    // Bob disconnects in the middle of a file: Ann reads 비활성, nothing is kept.
    b.send('[FILE]');
    b.send('100000,cut.bin');
    await sleep(100);
    b.send(randomBytes(5000));
    await sleep(100);
    b.drop();
    await a.expectNext(...mesg(deactivatedText(bob.name)));
    await alive('after the cut');

    const files = await api(base, 'GET', '/api/files', { token: ann.accessToken });
    expect(files.body.total).toBe(0);
    const bobFiles = await api(base, 'GET', '/api/files', { token: bob.accessToken });
    expect(bobFiles.body.total).toBe(0);
    await a.until(() => storedFiles(server.dataDir).length === before.length, 'temp files to go', 3000).catch(() => {});
    expect(storedFiles(server.dataDir)).toEqual(before);
  });

  it('says an unavailable server in its own message (a send while the database is down, a file on a full disk), as a warning, not a logged fault', async () => {
    const warned: string[] = [];
    const { ann, a, b } = await annAndBob({
      warn: (obj, msg) => warned.push(`${msg} ${String((obj as { code?: unknown }).code ?? '')}`),
    });
    const messages = server.core.chat.messages;
    const files = server.core.files;
    const { enqueue } = messages;
    const { upload } = files;
    // What the drivers raise: PostgreSQL going down under a commit, ENOSPC from a file write.
    const down = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    messages.enqueue = async () => ({ committed: new Promise((_resolve, reject) => setImmediate(() => reject(down))) });
    files.upload = async () => {
      throw full;
    };
    try {
      a.send('[MESG]anyone?\n');
      await a.expectNext(...mesg('메시지를 보낼 수 없습니다: The database is unavailable; retry shortly.'));
      a.send('[FILE]');
      a.send('5,full.txt');
      await sleep(100);
      a.send('abcde');
      await a.expectNext(...mesg('파일을 받을 수 없습니다: The server is out of storage space; try again later.'));
    } finally {
      messages.enqueue = enqueue;
      files.upload = upload;
    }
    // The connection goes on; the other member heard nothing of the failures.
    a.send('[MESG]back up\n');
    for (const c of [a, b]) await c.expectNext(...mesg(chatLine(ann.name, 'back up')));
    expect(warned).toEqual(['seed 003 TCP message failed DATABASE_UNAVAILABLE', 'seed 003 TCP file failed STORAGE_FULL']);
    expect(logged.filter((m) => !m.includes('not reading'))).toEqual([]);
  });

  it('a login the bridged room refuses is cut without a word and shown to the operator as a warning, not a fault', async () => {
    const warned: string[] = [];
    const d = await door({ warn: (obj, msg) => warned.push(`${msg} ${String((obj as { code?: unknown }).code ?? '')}`) });
    const ann = await newUser('ann');
    const chatRooms = server.core.chat.rooms;
    const { joinOrCreateByName } = chatRooms;
    chatRooms.joinOrCreateByName = async () => {
      throw new AppError('NOT_FOUND', 'Room not found');
    };
    try {
      const c = await connect(d);
      c.send(`${ann.name}/${PASSWORD}`);
      await c.expectClosed();
    } finally {
      chatRooms.joinOrCreateByName = joinOrCreateByName;
    }
    expect(warned).toEqual(['seed 003 TCP login could not join the room NOT_FOUND']);
    expect(logged.filter((m) => !m.includes('not reading'))).toEqual([]);
  });

  it('bounds concurrent connections and survives clients that vanish at every step', async () => {
    const d = await door({ maxConnections: 2 });
    const ann = await newUser('ann');
    const a = await enter(d, ann.name, 1);
    const idle = await connect(d);
    const third = await connect(d);
    await third.expectClosed();
    idle.drop();
    await sleep(50);

    // Vanishing mid-login and right after a header, and a reset mid-text.
    const quick = await connect(d);
    quick.send(`${ann.name}/`);
    quick.drop();
    await sleep(50);
    const bob = await newUser('bob');
    const b = await enter(d, bob.name, 2);
    await a.expectNext(...mesg(joinedText(bob.name, 2)));
    b.send('[MESG]');
    b.socket.resetAndDestroy();
    await a.expectNext(...mesg(deactivatedText(bob.name)));

    a.send('[MESG]still fine\n');
    await a.expectNext(...mesg(chatLine(ann.name, 'still fine')));
  });

  it('drops a TCP client whose queue of paced frames grows past the bound; the web side sees it deactivated', async () => {
    const d = await door({ maxQueuedFrames: 4 });
    const cat = await newUser('cat');
    const dan = await newUser('dan');
    const c = await enter(d, cat.name, 1);
    const ws = await ChatClient.open(base, { token: dan.accessToken });
    sockets.push(ws);
    const joined = await ws.request({ type: 'join', name: `room${rooms}` });
    await c.expectNext(...mesg(joinedText(dan.name, 2)));
    for (let i = 0; i < 10; i++) ws.send({ type: 'send', room: joined.room.id, body: `flood ${i}` });
    const presence = await ws.next((f) => f.type === 'presence' && f.event === 'disconnected');
    expect(presence).toMatchObject({ user: { name: cat.name }, count: 2 });
    await c.until(() => c.closed, 'the slow client to be dropped');
    expect(logged.some((m) => m.includes('not reading'))).toBe(true);
  });
});

describe('seed 003 door wiring', () => {
  it('is off by default and starts with PLAZA_TCPCHAT_PORT, bridged into PLAZA_TCPCHAT_ROOM', async () => {
    const off = await startTestServer('sqlite');
    expect(off.tcpchatPort).toBeUndefined();
    await off.close();
    const server = await startTestServer('sqlite', { PLAZA_TCPCHAT_PORT: '0', PLAZA_TCPCHAT_ROOM: 'garden' });
    try {
      expect(server.banner.some((l) => l.includes('Seed 003 TCP chat door on 127.0.0.1:'))).toBe(true);
      await registerAndLogin(server.url, 'kim');
      const c = await SeedClient.connect(server.tcpchatPort as number);
      c.send(`kim/${PASSWORD}`);
      await c.until(() => c.bytes().toString('utf8').includes('환영'), 'welcome');
      const rooms = await api(server.url, 'GET', '/api/chat/rooms', {
        token: (await api(server.url, 'POST', '/api/auth/login', { json: { identifier: 'kim', password: PASSWORD } })).body.accessToken,
      });
      expect(rooms.body.rooms.map((r: any) => r.name)).toContain('garden');
      c.send('[!EXIT]');
      await c.until(() => c.closed || c.bytes().toString('utf8').includes('[!EXIT]'), 'exit');
      c.socket.destroy();
    } finally {
      await server.close();
    }
  });
});

describe('seed 003 door and disabled accounts', () => {
  it('cuts off a logged-in TCP user whose account is disabled', async () => {
    const server = await startTestServer('sqlite', {
      PLAZA_CHAT_HEARTBEAT_SECONDS: '1',
      PLAZA_ADMIN_USERNAME: 'boss',
      PLAZA_ADMIN_PASSWORD: 'boss-password-1',
    });
    const door = await startTcpChatDoor(server.core, { host: '127.0.0.1', port: 0, room: 'lobby', autoRegister: false });
    try {
      const lee = await registerAndLogin(server.url, 'lee');
      const c = await SeedClient.connect(door.port);
      c.send(`lee/${PASSWORD}`);
      await c.until(() => c.bytes().toString('utf8').includes('환영'), 'welcome');
      const boss = await server.core.users.findByUsername('boss');
      await server.core.users.adminUpdate(boss as NonNullable<typeof boss>, lee.user.id, { disabled: true });
      await c.until(() => c.closed, 'the door to close the disabled user', 5000);
      expect(c.closed).toBe(true);
      const deadline = Date.now() + 3000;
      while (server.core.chat.presenceOf(`u${lee.user.id}`) === 'online' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(server.core.chat.presenceOf(`u${lee.user.id}`)).not.toBe('online');
    } finally {
      await door.close();
      await server.close();
    }
  });
});
