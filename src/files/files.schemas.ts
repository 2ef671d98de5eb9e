import { Type } from 'typebox';
import type { FileInfo } from './files.service.js';

/** A file as the API shows it: Plaza's fields plus seed 004's names for the same facts. */
export const FileSchema = Type.Object(
  {
    id: Type.String(),
    ownerId: Type.Integer(),
    name: Type.String({ description: 'original name (metadata only, never a path)' }),
    category: Type.Union([Type.Literal('images'), Type.Literal('documents'), Type.Literal('files')]),
    size: Type.Integer(),
    sha256: Type.String(),
    mime: Type.String({ description: 'type sniffed from the content' }),
    createdAt: Type.Integer(),
    updatedAt: Type.Integer(),
    downloadUrl: Type.String(),
    filename: Type.String({ description: 'seed 004: stored name' }),
    original_filename: Type.String({ description: 'seed 004' }),
    path: Type.String({ description: 'seed 004: /uploads/<category>/<stored name>' }),
    content_type: Type.String({ description: 'seed 004' }),
  },
  { $id: 'File' },
);
export const FileRef = Type.Unsafe<ReturnType<typeof fileJson>>(Type.Ref('File'));

export function fileJson(f: FileInfo) {
  return {
    id: f.id,
    ownerId: f.ownerId,
    name: f.name,
    category: f.category,
    size: f.size,
    sha256: f.sha256,
    mime: f.mime,
    createdAt: f.createdAt,
    updatedAt: f.updatedAt,
    downloadUrl: `/api/files/${f.id}/content`,
    filename: f.storedName,
    original_filename: f.name,
    path: `/uploads/${f.category}/${f.storedName}`,
    content_type: f.mime,
  };
}

export const FileIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 255 }) });

export const FileListQuery = Type.Object(
  {
    category: Type.Optional(Type.Union([Type.Literal('images'), Type.Literal('documents'), Type.Literal('files')])),
    sort: Type.Optional(Type.Union([Type.Literal('created_at'), Type.Literal('original_name'), Type.Literal('size')])),
    order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'The previous page\'s nextCursor' })),
  },
  { additionalProperties: false },
);

export const RenameBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false });

export const UsageReply = Type.Object({
  usedBytes: Type.Integer(),
  quotaBytes: Type.Integer(),
  maxUploadBytes: Type.Integer(),
});

export const QuotaBody = Type.Object(
  { quotaBytes: Type.Union([Type.Integer({ minimum: 0, maximum: 2 ** 50 }), Type.Null()]) },
  { additionalProperties: false },
);
