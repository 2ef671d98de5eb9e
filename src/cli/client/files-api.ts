import { EXIT } from '../exit-codes.js';
import type { ApiClient } from './api-client.js';
import { ClientError } from './errors.js';

/** A file as the server lists it (the fields the client uses). */
export interface RemoteFile {
  id: string;
  name: string;
  category: 'images' | 'documents' | 'files';
  size: number;
  sha256: string;
  mime: string;
  createdAt: number;
  updatedAt: number;
}

export interface ListOptions {
  category?: string | undefined;
  sort?: string | undefined;
  order?: string | undefined;
}

const PAGE = 500;

/** Every file the caller sees, page by page. */
export async function listFiles(api: ApiClient, o: ListOptions = {}): Promise<{ files: RemoteFile[]; total: number }> {
  const files: RemoteFile[] = [];
  let total = 0;
  for (let offset = 0; ; offset += PAGE) {
    const page = await api.request<{ files: RemoteFile[]; total: number }>('GET', '/api/files', {
      query: { category: o.category, sort: o.sort, order: o.order, limit: PAGE, offset },
    });
    files.push(...page.files);
    total = page.total;
    if (page.files.length < PAGE || files.length >= total) return { files, total };
  }
}

const looksLikeId = (ref: string) => /^fil_[A-Za-z0-9_-]+$/.test(ref);

/** A file by id (`fil_…`) or by its name; a name several files share is refused with their ids. */
export async function findFile(api: ApiClient, ref: string): Promise<RemoteFile> {
  if (looksLikeId(ref)) {
    try {
      return (await api.request<{ file: RemoteFile }>('GET', `/api/files/${encodeURIComponent(ref)}`)).file;
    } catch (err) {
      if (!(err instanceof ClientError && err.exit === EXIT.notFound)) throw err;
    }
  }
  const matches = (await listFiles(api)).files.filter((f) => f.name === ref);
  if (matches.length === 0) throw new ClientError('NOT_FOUND', `No file named "${ref}". See \`plaza files\`.`, EXIT.notFound);
  if (matches.length > 1) {
    throw new ClientError(
      'AMBIGUOUS',
      `${matches.length} files are named "${ref}": ${matches.map((f) => f.id).join(', ')}. Name one by its id.`,
      EXIT.conflict,
    );
  }
  return matches[0] as RemoteFile;
}
