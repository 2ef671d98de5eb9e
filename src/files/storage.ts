import { randomBytes } from 'node:crypto';
import { constants, type Dirent } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { AppError } from '../shared/errors.js';
import type { Category } from './categories.js';
import { createDeletionHolds } from './deletion-holds.js';
import { probeDirectIo } from './disk-writer.js';
import { adopt, adoptHashed, type Received, type ReceiveOptions, receive } from './receiving.js';

export { createDigest, type Received, type ReceiveOptions } from './receiving.js';

const CATEGORIES: Category[] = ['images', 'documents', 'files'];

export type Storage = ReturnType<typeof createStorage>;

/**
 * Files on disk under `<dataDir>/uploads/{images,documents,files}/`. An upload streams into
 * `uploads/.tmp/` (same filesystem) while it is hashed and measured; only a complete, fsync'd file
 * is renamed into place. Names on disk are always ours, never a client's.
 */
export function createStorage(dataDir: string, { directIo = true }: { directIo?: boolean } = {}) {
  const root = path.join(dataDir, 'uploads');
  const tempDir = path.join(root, '.tmp');
  /** Uploads bypass the page cache (see disk-writer.ts): asked for, and the filesystem takes it. */
  let direct = false;
  /** The uploads folder with every symlink resolved (the data dir itself may be a link), set by init. */
  let realRoot: string | undefined;
  const holds = createDeletionHolds(root);

  async function init(cleanTemp: boolean): Promise<void> {
    for (const dir of [tempDir, ...CATEGORIES.map((c) => path.join(root, c))]) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    }
    if (cleanTemp) {
      // Leftovers of uploads interrupted by a crash: never listed, removed at start.
      const left: Dirent[] = await readdir(tempDir, { withFileTypes: true });
      await Promise.all(left.map((d) => rm(path.join(tempDir, d.name), { force: true, recursive: true })));
    }
    direct = directIo && (await probeDirectIo(tempDir));
    realRoot = await realpath(root);
  }

  /**
   * Whether a stored file's path stays inside the uploads folder once every link is resolved:
   * O_NOFOLLOW covers the last component only, and a category folder replaced by a symlink
   * must not lead out of storage.
   */
  async function staysInside(category: Category, file: string): Promise<boolean> {
    const base = realRoot ?? (await realpath(root));
    const real = await realpath(file).catch(() => undefined);
    return real !== undefined && real === path.join(base, category, path.basename(file));
  }

  function pathOf(category: Category, storedName: string): string {
    const p = path.resolve(root, category, storedName);
    if (!CATEGORIES.includes(category) || path.dirname(p) !== path.join(root, category)) {
      throw new AppError('NOT_FOUND', 'No such file');
    }
    return p;
  }

  /** Moves a received file into its category under a fresh random name; fsyncs the directory. */
  async function commit(received: Received, category: Category, ext: string): Promise<string> {
    const storedName = `${randomBytes(16).toString('base64url')}${ext ? `.${ext}` : ''}`;
    const target = pathOf(category, storedName);
    await rename(received.tempPath, target);
    const dir = await open(path.dirname(target), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    return storedName;
  }

  async function discard(received: Received): Promise<void> {
    await unlink(received.tempPath).catch(() => {});
  }

  /**
   * Opens a stored file for reading without following symlinks; NOT_FOUND if it is not a plain
   * file. O_NONBLOCK: a FIFO planted in its place would otherwise hold a thread-pool thread (and
   * the request) until some writer opened it; for a regular file the flag changes nothing.
   */
  async function openForRead(category: Category, storedName: string): Promise<{ fh: FileHandle; size: number; mtimeMs: number }> {
    let fh: FileHandle | undefined;
    try {
      const file = pathOf(category, storedName);
      if (!(await staysInside(category, file))) throw new AppError('NOT_FOUND', 'The file is missing from storage');
      fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      const st = await fh.stat();
      if (!st.isFile()) throw new AppError('NOT_FOUND', 'No such file');
      return { fh, size: st.size, mtimeMs: st.mtimeMs };
    } catch (err) {
      await fh?.close().catch(() => {});
      if (err instanceof AppError) throw err;
      throw new AppError('NOT_FOUND', 'The file is missing from storage');
    }
  }

  async function remove(category: Category, storedName: string): Promise<void> {
    // While a backup runs, the bytes are kept aside for it (deletion-holds.ts).
    await holds.dispose(pathOf(category, storedName), category, storedName);
    // Its cached thumbnails go with it.
    const thumbs = path.join(root, '.thumbs');
    const names = await readdir(thumbs).catch(() => [] as string[]);
    await Promise.all(names.filter((n) => n.startsWith(`${storedName}-`)).map((n) => unlink(path.join(thumbs, n)).catch(() => {})));
  }

  /**
   * A listed file for a backup: from its place, or from where a delete made during the backup
   * kept it. The move between the two is one rename, so one of three tries finds it.
   */
  async function openForBackup(category: Category, storedName: string): Promise<{ fh: FileHandle; size: number; mtimeMs: number }> {
    const kept = async () => {
      const fh = await open(holds.keptPath(category, storedName), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      const st = await fh.stat();
      return { fh, size: st.size, mtimeMs: st.mtimeMs };
    };
    return openForRead(category, storedName).catch(() => kept().catch(() => openForRead(category, storedName)));
  }

  /** Stored files older than `before` (ms), per category: candidates for the orphan sweep. */
  async function listOlderThan(before: number): Promise<{ category: Category; storedName: string }[]> {
    const out: { category: Category; storedName: string }[] = [];
    for (const category of CATEGORIES) {
      const dir = path.join(root, category);
      for (const d of await readdir(dir, { withFileTypes: true }).catch(() => [] as Dirent[])) {
        if (!d.isFile()) continue;
        const st = await stat(path.join(dir, d.name)).catch(() => undefined);
        if (st && st.mtimeMs < before) out.push({ category, storedName: d.name });
      }
    }
    return out;
  }

  return {
    root,
    tempDir,
    /** Whether uploads are written with O_DIRECT (known after `init`). */
    get directIo() {
      return direct;
    },
    init,
    /** Streams `source` into a new temp file, hashing and counting; fsyncs before returning. */
    receive: (source: Readable, opts: ReceiveOptions): Promise<Received> => receive({ tempDir, direct }, source, opts),
    adopt,
    adoptHashed,
    commit,
    discard,
    openForRead,
    openForBackup,
    remove,
    /** Deletion holds: a backup keeps deleted bytes until it has archived them. */
    holdDeletions: () => holds.hold(),
    purgeKept: () => holds.purge(),
    listOlderThan,
    pathOf,
  };
}
