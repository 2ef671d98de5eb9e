import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const MARKER = '.plaza-cluster';

/** What the marker check needs from the database (cluster.repository.ts). */
export interface MarkRecord {
  marked(): Promise<boolean>;
  mark(): Promise<void>;
}

/**
 * Several instances must share one uploads directory, and it must be the one their database
 * lists. The first instance of a cluster writes the database's id into `uploads/.plaza-cluster`
 * and records in the database that it did; every start checks it, so an instance pointed at its
 * own local directory (no marker, though the database says there is one) or at another team's
 * (another id) refuses to start instead of answering "missing from storage" for files stored
 * elsewhere. A restore carries the marker over to the uploads it puts in place.
 */
export async function checkUploadsMarker(uploadsRoot: string, clusterId: string, record: MarkRecord): Promise<void> {
  const file = path.join(uploadsRoot, MARKER);
  const found = await readMarker(file);
  if (found === clusterId) return;
  const fix = 'Every instance must use the same PLAZA_DATA_DIR, on a filesystem they share (docs/deployment.md).';
  if (found !== undefined) {
    throw new Error(`${uploadsRoot} holds the uploads of another database (cluster ${found}; this database is ${clusterId}). ${fix}`);
  }
  if (await record.marked()) {
    throw new Error(`${uploadsRoot} is not this cluster's uploads directory: the database's files are in one marked ${MARKER} (cluster ${clusterId}), and this one has no marker. ${fix}`);
  }
  await writeFile(file, `${clusterId}\n`, { mode: 0o600, flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  // Another instance may have written it first: it must hold the same id.
  if ((await readMarker(file)) !== clusterId) return checkUploadsMarker(uploadsRoot, clusterId, record);
  await record.mark();
}

async function readMarker(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').then(
    (s) => s.trim(),
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    },
  );
}
