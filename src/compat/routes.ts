import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../app.js';
import { homePage, setupFormHandler } from '../http/web.js';
import type { WebApp } from '../http/webapp.js';
import { acceptMultipart, closeAfterUploadError } from '../files/upload-intake.js';
import { adclusterFileRoutes, adclusterRoutes } from './adcluster.js';
import { acceptRawBodies, formFields, isFormBody, rawBody, wantsHtml } from './body.js';
import { createFileManager } from './filemanager.js';
import { createNetclassHttp } from './netclass-http.js';
import { createSocketProgram } from './socketprogram.js';

/**
 * The seed front doors on the main HTTP port. Several seeds share a path (`/register`, `/login`,
 * `/`); each request goes to the seed whose client it looks like.
 */
export async function compatRoutes(app: FastifyInstance, { core }: { core: Core }) {
  acceptRawBodies(app, 64 * 1024);
  const s000 = createSocketProgram(core);
  const s001 = createNetclassHttp(core);
  const s002 = createFileManager(core);
  const hide = { schema: { hide: true } };

  // Seed 000 posts JSON; seed 002 posts HTML forms.
  app.post('/register', hide, (req, reply) =>
    isFormBody(req) ? s002.register(req, reply) : s000.register(req, reply),
  );
  app.post('/login', hide, (req, reply) => (isFormBody(req) ? s002.login(req, reply) : s000.login(req, reply)));
  app.put('/privilege', hide, s000.privilege);
  app.post('/privilege', hide, s000.privilege);
  app.head('/images', hide, s000.checkImagesKey);

  app.get('/logout', hide, s002.logout);
  app.post('/logout', hide, s002.logout);

  // `/`: a browser gets the web app; other clients get seed 001's semantics (with seed 004's welcome).
  app.head('/', hide, s001.head);
  app.get('/', hide, (req: FastifyRequest, reply: FastifyReply) =>
    wantsHtml(req) ? homePage(core, req, reply) : s001.get(req, reply),
  );
  app.post('/', hide, s001.post);
  app.put('/', hide, s001.put);

  app.post('/setup', hide, async (req, reply) =>
    setupFormHandler(core, req, reply, formFields(await rawBody(req, 64 * 1024))),
  );

  adclusterRoutes(app, core);
}

/** Seed routes that take uploads: multipart parsing, raw bodies streamed, errors in each seed's form. */
export async function compatFileRoutes(app: FastifyInstance, { core, webapp }: { core: Core; webapp: WebApp }) {
  // Only multipart is parsed; every other body stays unread for the handler to stream or read.
  app.removeAllContentTypeParsers();
  await acceptMultipart(app, core.config.maxUploadBytes);
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));
  app.addHook('onError', async (request, reply) => closeAfterUploadError(request, reply));
  const s000 = createSocketProgram(core);
  const s002 = createFileManager(core);
  const hide = { schema: { hide: true } };
  app.get('/images', hide, s000.image);
  app.post('/images', hide, s000.image);
  app.post('/upload', hide, s002.upload);
  app.get('/download/:filename', hide, s002.download);
  // Seed 002's client asks for its JSON list; a browser opening /files gets the web app.
  app.get('/files', hide, (req, reply) => (wantsHtml(req) ? webapp.sendIndex(req, reply) : s002.list(req, reply)));
  adclusterFileRoutes(app, core);
}
