import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../app.js';
import { presentedAccessKey, requireAdmin } from '../../http/auth.js';
import { errors } from '../../http/schemas.js';
import { csvChunks, jsonChunks } from './console-export.js';

const CellSchema = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);
const Chart = Type.Object(
  {
    type: Type.Union([Type.Literal('bar'), Type.Literal('line'), Type.Literal('pie')]),
    x: Type.String({ maxLength: 200 }),
    y: Type.Array(Type.String({ maxLength: 200 }), { maxItems: 8 }),
  },
  { additionalProperties: false },
);
const Saved = Type.Object({
  id: Type.String(),
  name: Type.String(),
  sql: Type.String(),
  chart: Type.Union([Chart, Type.Null()]),
  createdAt: Type.Integer(),
  updatedAt: Type.Integer(),
});
const Name = Type.String({ minLength: 1, maxLength: 100 });
/** Long enough for PLAZA_CONSOLE_MAX_SQL_CHARS' ceiling; the setting itself is checked by the service. */
const Sql = Type.String({ minLength: 1, maxLength: 1_000_000 });
const Key = Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'your access key (or send it as X-Plaza-Key or the key cookie)' }));
const QueryBody = Type.Object(
  {
    sql: Sql,
    write: Type.Optional(Type.Boolean({ description: 'the write switch: run in a transaction that commits (needs a valid access key)' })),
    unmask: Type.Optional(Type.Boolean({ description: 'show password and token hashes (needs a valid access key)' })),
    key: Key,
  },
  { additionalProperties: false },
);
const ExportBody = Type.Object(
  { sql: Sql, format: Type.Union([Type.Literal('csv'), Type.Literal('json')]), unmask: Type.Optional(Type.Boolean()), key: Key },
  { additionalProperties: false },
);
const TableName = Type.Object({ name: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$' }) });
const SavedId = Type.Object({ id: Type.String({ pattern: '^qry_[A-Za-z0-9_-]{1,64}$' }) });

const typed = (app: FastifyInstance) => app.withTypeProvider<TypeBoxTypeProvider>();
type Routes = ReturnType<typeof typed>;

const keyOf = (request: FastifyRequest, body: { key?: string | undefined }) => body.key ?? presentedAccessKey(request);

/** Admin `/api/admin/console`: the database console (ops/console/, decision 0009). */
export async function consoleRoutes(app: FastifyInstance, { core }: { core: Core }) {
  const r = typed(app);
  const tags = ['console'];
  const { console: dbConsole } = core;

  r.get('/admin/console/tables', { schema: { tags, summary: 'Tables with their row counts (admin)', response: { 200: Type.Object({ tables: Type.Array(Type.Object({ name: Type.String(), rowCount: Type.Integer() })) }), ...errors(401, 403) } } }, async (request) => {
    requireAdmin(request);
    return { tables: await dbConsole.tables() };
  });

  r.get(
    '/admin/console/tables/:name',
    {
      schema: {
        tags,
        summary: "A table's columns, indexes, row count and first rows (hashes masked) (admin)",
        params: TableName,
        response: {
          200: Type.Object({
            name: Type.String(),
            rowCount: Type.Integer(),
            columns: Type.Array(Type.Object({ name: Type.String(), type: Type.String(), nullable: Type.Boolean(), primaryKey: Type.Boolean(), default: Type.Union([Type.String(), Type.Null()]) })),
            indexes: Type.Array(Type.Object({ name: Type.String(), unique: Type.Boolean(), definition: Type.Union([Type.String(), Type.Null()]) })),
            sample: Type.Object({ columns: Type.Array(Type.String()), rows: Type.Array(Type.Array(CellSchema)) }),
          }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      requireAdmin(request);
      return dbConsole.table(request.params.name);
    },
  );

  r.post(
    '/admin/console/query',
    {
      schema: {
        tags,
        summary: 'Run one SQL statement: read-only unless `write` (admin; write and unmask need an access key)',
        body: QueryBody,
        response: {
          200: Type.Object({
            columns: Type.Array(Type.String()),
            rows: Type.Array(Type.Array(CellSchema)),
            truncated: Type.Boolean({ description: 'more rows than PLAZA_CONSOLE_MAX_ROWS: the rest were not read' }),
            changes: Type.Union([Type.Integer(), Type.Null()]),
            durationMs: Type.Integer(),
            mode: Type.Union([Type.Literal('read'), Type.Literal('write')]),
          }),
          ...errors(400, 401, 403, 422, 503),
        },
      },
    },
    async (request) => {
      const admin = requireAdmin(request).user;
      const b = request.body;
      return dbConsole.run(admin, { sql: b.sql, write: b.write, unmask: b.unmask, key: keyOf(request, b) }, { ip: request.ip });
    },
  );

  r.post(
    '/admin/console/export',
    {
      schema: {
        tags,
        summary: 'Stream a read-only result as CSV (formula-safe) or JSON (admin; at most PLAZA_CONSOLE_EXPORT_MAX_ROWS rows)',
        body: ExportBody,
        response: { 200: Type.Unsafe({ type: 'string' }), ...errors(400, 401, 403, 422, 503) },
      },
    },
    async (request, reply) => {
      const admin = requireAdmin(request).user;
      const b = request.body;
      const chunks = dbConsole.exportRows(admin, { sql: b.sql, unmask: b.unmask, key: keyOf(request, b) }, b.format, { ip: request.ip });
      // The first chunk (the columns) comes before the answer starts: a refused or failing query
      // still gets its JSON error; a failure later cuts the download short.
      const first = await chunks.next();
      if (first.done) throw new Error('a console run ends with its end chunk');
      const text = b.format === 'csv' ? csvChunks(first.value, chunks) : jsonChunks(first.value, chunks);
      const stamp = new Date(core.clock.now()).toISOString().replace(/[-:]|\.\d+/g, '');
      return reply
        .header('content-type', b.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8')
        .header('content-disposition', `attachment; filename="plaza-query-${stamp}.${b.format}"`)
        .header('cache-control', 'no-store')
        .send(Readable.from(text));
    },
  );

  r.get(
    '/admin/console/history',
    {
      schema: {
        tags,
        summary: 'Your last console queries, newest first (from the audit log) (admin)',
        response: { 200: Type.Object({ history: Type.Array(Type.Record(Type.String(), Type.Unknown())) }), ...errors(401, 403) },
      },
    },
    async (request) => ({ history: await dbConsole.history(requireAdmin(request).user) }),
  );

  savedQueryRoutes(r, core);
}

/** Each admin's saved queries. */
function savedQueryRoutes(r: Routes, core: Core) {
  const tags = ['console'];
  const { console: dbConsole } = core;
  r.get('/admin/console/saved', { schema: { tags, summary: 'Your saved queries (admin)', response: { 200: Type.Object({ queries: Type.Array(Saved) }), ...errors(401, 403) } } }, async (request) => ({
    queries: await dbConsole.saved.list(requireAdmin(request).user),
  }));

  r.post(
    '/admin/console/saved',
    {
      schema: {
        tags,
        summary: 'Save a query with its chart settings (admin)',
        body: Type.Object({ name: Name, sql: Sql, chart: Type.Optional(Type.Union([Chart, Type.Null()])) }, { additionalProperties: false }),
        response: { 201: Type.Object({ query: Saved }), ...errors(400, 401, 403, 409) },
      },
    },
    async (request, reply) => reply.code(201).send({ query: await dbConsole.saved.create(requireAdmin(request).user, request.body) }),
  );

  r.patch(
    '/admin/console/saved/:id',
    {
      schema: {
        tags,
        summary: 'Rename or change a saved query (admin)',
        params: SavedId,
        body: Type.Object({ name: Type.Optional(Name), sql: Type.Optional(Sql), chart: Type.Optional(Type.Union([Chart, Type.Null()])) }, { additionalProperties: false }),
        response: { 200: Type.Object({ query: Saved }), ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => ({ query: await dbConsole.saved.update(requireAdmin(request).user, request.params.id, request.body) }),
  );

  r.delete(
    '/admin/console/saved/:id',
    { schema: { tags, summary: 'Delete a saved query (admin)', params: SavedId, response: { 200: Type.Object({ deleted: Type.String() }), ...errors(400, 401, 403, 404) } } },
    async (request) => {
      await dbConsole.saved.remove(requireAdmin(request).user, request.params.id);
      return { deleted: request.params.id };
    },
  );
}
