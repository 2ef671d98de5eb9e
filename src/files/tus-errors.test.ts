import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Core } from '../app.js';
import { AppError } from '../shared/errors.js';
import { tusRoutes } from './tus.routes.js';

/**
 * The one error rule at the tus door: a failure the server cannot help right now reaches the tus
 * client with its real message and Retry-After and is logged as a warning; a bug is masked and
 * logged as an error. tus runs in a bare Fastify over a stub core whose quota check throws.
 */

let thrown: unknown;
const dir = mkdtempSync(path.join(tmpdir(), 'plaza-tus-errors-'));
const core = {
  config: { trustProxy: false, maxUploadBytes: 1024 * 1024 },
  storage: { root: dir, directIo: false },
  files: {
    uploadLimit: async () => {
      throw thrown;
    },
  },
} as unknown as Core;

const logs: { level: number }[] = [];
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => void logs.push(JSON.parse(line)) } } });
  app.addHook('onRequest', async (request) => {
    (request as { principal?: unknown }).principal = { user: { id: 7, role: 'user' }, sessionId: 's', via: 'bearer' };
  });
  await app.register(tusRoutes, { core });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => void logs.splice(0));

const create = () =>
  fetch(`${base}/api/files/tus`, {
    method: 'POST',
    headers: { 'tus-resumable': '1.0.0', 'upload-length': '3', 'upload-metadata': `filename ${Buffer.from('a.txt').toString('base64')}` },
  }).then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.text() }));

const errorsLogged = () => logs.filter((l) => l.level >= 50);
const warningsLogged = () => logs.filter((l) => l.level === 40);

describe('tus door errors', () => {
  it.each([
    { name: 'STORAGE_FULL', err: Object.assign(new Error('ENOSPC: no space left'), { code: 'ENOSPC' }), status: 507, code: 'STORAGE_FULL', retryAfter: null },
    { name: 'DATABASE_UNAVAILABLE', err: new AppError('DATABASE_UNAVAILABLE', 'The database is unavailable; retry shortly'), status: 503, code: 'DATABASE_UNAVAILABLE', retryAfter: '2' },
    { name: 'SERVER_BUSY', err: new AppError('SERVER_BUSY', 'The server is busy; retry in a moment', { retryAfter: 1 }), status: 503, code: 'SERVER_BUSY', retryAfter: '1' },
  ])('$name: its code, real message and Retry-After; a warning, not an error', async (f) => {
    thrown = f.err;
    const r = await create();
    expect(r.status).toBe(f.status);
    expect(JSON.parse(r.body).error.code).toBe(f.code);
    expect(JSON.parse(r.body).error.message).not.toBe('Internal server error');
    expect(r.retryAfter).toBe(f.retryAfter);
    expect(errorsLogged()).toEqual([]);
    expect(warningsLogged()).toHaveLength(1);
  });

  it('a bug: masked, logged as an error', async () => {
    thrown = new TypeError('secret detail of a bug');
    const r = await create();
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body).error).toEqual({ code: 'INTERNAL', message: 'Internal server error' });
    expect(errorsLogged()).toHaveLength(1);
  });
});
