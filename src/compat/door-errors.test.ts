import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Core } from '../app.js';
import { setupFormHandler } from '../http/web.js';
import { AppError } from '../shared/errors.js';
import { acceptRawBodies } from './body.js';
import { createFileManager } from './filemanager.js';
import { createNetclassHttp } from './netclass-http.js';
import { createSocketProgram } from './socketprogram.js';

/**
 * The one error rule at each HTTP door this file names: a failure the server cannot help right
 * now (disk full, database down, busy) reaches the client with its real message in the door's
 * own words and its Retry-After, and is not logged as an error; a bug is masked and logged as one.
 * The doors' handlers run in a bare Fastify over a stub core whose service method throws.
 */

let thrown: unknown;
const fail = async () => {
  throw thrown;
};
const core = {
  config: { connectionLogin: false, cookieSecure: false },
  accounts: { register: fail },
  setup: { completeSetup: fail },
} as unknown as Core;

const logs: { level: number; msg: string }[] = [];
let app: FastifyInstance;

beforeAll(async () => {
  app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => void logs.push(JSON.parse(line)) } } });
  acceptRawBodies(app, 64 * 1024);
  const seed000 = createSocketProgram(core);
  const seed001 = createNetclassHttp(core);
  const seed002 = createFileManager(core);
  app.post('/seed000/register', (request, reply) => seed000.register(request, reply));
  app.put('/seed001', (request, reply) => seed001.put(request, reply));
  app.post('/seed002/register', (request, reply) => seed002.register(request, reply));
  app.post('/setup', (request, reply) => setupFormHandler(core, request, reply, new URLSearchParams('token=t&username=admin')));
  await app.ready();
});
afterAll(() => app.close());
beforeEach(() => void logs.splice(0));

const diskFull = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
const FAILURES = [
  { name: 'STORAGE_FULL', err: diskFull, status: 507, why: 'The server is out of storage space; try again later', retryAfter: undefined },
  {
    name: 'DATABASE_UNAVAILABLE',
    err: new AppError('DATABASE_UNAVAILABLE', 'The database is unavailable; retry shortly'),
    status: 503,
    why: 'The database is unavailable; retry shortly',
    retryAfter: '2',
  },
  {
    name: 'SERVER_BUSY',
    err: new AppError('SERVER_BUSY', 'The server is busy checking passwords; retry in a moment', { retryAfter: 1 }),
    status: 503,
    why: 'The server is busy checking passwords; retry in a moment',
    retryAfter: '1',
  },
];

/** Each door's request, and its words for an unavailable server and for a bug. */
const DOORS = [
  {
    name: 'seed 000',
    method: 'POST' as const,
    url: '/seed000/register',
    payload: JSON.stringify({ username: 'someone', password: 'long enough password' }),
    unavailable: (why: string) => `SERVER_ERROR: ${why}`,
    fault: 'SERVER_ERROR',
  },
  {
    name: 'seed 001',
    method: 'PUT' as const,
    url: '/seed001',
    payload: 'user:someone@example.com,long enough password',
    unavailable: (why: string) => `Server Error: ${why}`,
    fault: 'Server Error',
  },
  {
    name: 'seed 002',
    method: 'POST' as const,
    url: '/seed002/register',
    payload: 'username=someone&password=long+enough+password',
    unavailable: (why: string) => why,
    fault: 'Something went wrong; try again',
  },
  {
    name: 'setup page',
    method: 'POST' as const,
    url: '/setup',
    payload: '',
    unavailable: (why: string) => `<p class="err" role="alert">${why}</p>`,
    fault: '<p class="err" role="alert">Internal server error</p>',
  },
];

const errorsLogged = () => logs.filter((l) => l.level >= 50);
const warningsLogged = () => logs.filter((l) => l.level === 40);

describe.each(DOORS)('$name', (door) => {
  const call = () =>
    app.inject({ method: door.method, url: door.url, payload: door.payload, headers: { 'content-type': 'text/plain' } });

  it.each(FAILURES)('says $name with its real message and retry hint, logged as a warning only', async (f) => {
    thrown = f.err;
    const res = await call();
    expect(res.statusCode).toBe(f.status);
    if (door.name === 'setup page') expect(res.body).toContain(door.unavailable(f.why));
    else expect(res.body).toBe(door.unavailable(f.why));
    expect(res.headers['retry-after']).toBe(f.retryAfter);
    expect(errorsLogged()).toEqual([]);
    expect(warningsLogged()).toHaveLength(1);
  });

  it('masks a bug and logs it as an error', async () => {
    thrown = new TypeError('secret detail of a bug');
    const res = await call();
    expect(res.statusCode).toBe(500);
    if (door.name === 'setup page') expect(res.body).toContain(door.fault);
    else expect(res.body).toBe(door.fault);
    expect(res.body).not.toContain('secret detail');
    expect(res.headers['retry-after']).toBeUndefined();
    expect(errorsLogged()).toHaveLength(1);
  });
});
