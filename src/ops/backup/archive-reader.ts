import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import tar from 'tar-stream';
import { AppError } from '../../shared/errors.js';
import { FORMAT_VERSION, type Manifest, type ManifestEntry, parseEntryName } from './backup-format.js';

export interface ArchiveCheck {
  manifest: Manifest;
  /** Bytes read from the archive. */
  bytes: number;
}

const MAX_MANIFEST = 64 * 1024 * 1024;

const invalid = (message: string) => new AppError('ARCHIVE_INVALID', message);

/**
 * Reads an archive once, end to end: every entry must be one Plaza writes (a regular file under a
 * known name — never `../x`, an absolute path, a link), is hashed as it streams, and, with
 * `stageDir`, written there (`db/<table>.jsonl`, `uploads/<category>/<name>`, fsync'd). At the end
 * the manifest must list exactly the entries found with their sizes and checksums, and each
 * table's line count must be its row count. Any mismatch throws ARCHIVE_INVALID; the caller
 * removes what was staged.
 */
export async function readArchive(file: string, opts: { stageDir?: string; onBytes?: (n: number) => void } = {}): Promise<ArchiveCheck> {
  const extract = tar.extract();
  const input = createReadStream(file, { highWaterMark: 1024 * 1024 });
  input.on('error', (err) => extract.destroy(err));
  input.pipe(extract);
  const found = new Map<string, ManifestEntry & { lines: number }>();
  let manifestText: string | undefined;
  let bytes = 0;
  try {
    for await (const entry of extract) {
      const { name, type, size = 0 } = entry.header;
      const kind = parseEntryName(name);
      if (type !== 'file' || !kind) throw invalid(`The archive holds "${name}" (${type}), which Plaza never writes: refused`);
      if (found.has(name) || (kind.kind === 'manifest' && manifestText !== undefined)) throw invalid(`The archive holds "${name}" twice`);
      if (kind.kind === 'manifest') {
        if (size > MAX_MANIFEST) throw invalid('The manifest is implausibly large');
        manifestText = (await readAll(entry as AsyncIterable<Buffer>)).toString('utf8');
        continue;
      }
      const target = !opts.stageDir
        ? undefined
        : kind.kind === 'table'
          ? path.join(opts.stageDir, 'db', `${kind.table}.jsonl`)
          : path.join(opts.stageDir, 'uploads', kind.category, kind.storedName);
      const r = await consume(entry as AsyncIterable<Buffer>, target, kind.kind === 'table', (n) => {
        bytes += n;
        opts.onBytes?.(n);
      });
      found.set(name, { name, size: r.size, sha256: r.sha256, lines: r.lines });
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    // Writing the staged copy failed (a full disk): not the archive's fault.
    if ((err as NodeJS.ErrnoException).syscall === 'write' || (err as NodeJS.ErrnoException).code === 'ENOSPC') throw err;
    throw invalid(`The archive is truncated or damaged (${(err as Error).message})`);
  } finally {
    input.destroy();
  }
  if (manifestText === undefined) throw invalid('The archive has no manifest.json (truncated, or not a Plaza backup)');
  const manifest = parseManifest(manifestText);
  checkAgainstManifest(manifest, found);
  return { manifest, bytes };
}

function parseManifest(text: string): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch {
    throw invalid('manifest.json is not valid JSON');
  }
  if (m?.format !== 'plaza-backup' || !Number.isInteger(m.formatVersion)) throw invalid('manifest.json is not a Plaza backup manifest');
  if (m.formatVersion > FORMAT_VERSION) {
    throw invalid(`The archive has format version ${m.formatVersion}; this Plaza reads up to ${FORMAT_VERSION}. Upgrade Plaza to restore it`);
  }
  if (!Array.isArray(m.entries) || !Array.isArray(m.migrations) || typeof m.rowCounts !== 'object' || m.rowCounts === null) {
    throw invalid('manifest.json lacks its entries, migrations or row counts');
  }
  return m;
}

function checkAgainstManifest(m: Manifest, found: Map<string, ManifestEntry & { lines: number }>) {
  const listed = new Set<string>();
  for (const e of m.entries) {
    const got = found.get(e.name);
    if (!got) throw invalid(`The manifest lists ${e.name}, which the archive does not hold`);
    if (got.size !== e.size || got.sha256 !== e.sha256) throw invalid(`Checksum mismatch in ${e.name}: the archive is damaged`);
    listed.add(e.name);
  }
  for (const name of found.keys()) if (!listed.has(name)) throw invalid(`${name} is in the archive but not in its manifest`);
  for (const [name, got] of found) {
    const kind = parseEntryName(name);
    if (kind?.kind === 'table' && m.rowCounts[kind.table] !== got.lines) {
      throw invalid(`The manifest says ${m.rowCounts[kind.table]} rows for ${kind.table}, the archive holds ${got.lines}`);
    }
  }
}

/** Hashes (and counts lines of) one entry, writing it to `target` when given (fsync'd). */
async function consume(source: AsyncIterable<Buffer>, target: string | undefined, countLines: boolean, onBytes: (n: number) => void) {
  const hash = createHash('sha256');
  let size = 0;
  let lines = 0;
  const fh = target ? await mkdir(path.dirname(target), { recursive: true, mode: 0o700 }).then(() => open(target, 'wx', 0o600)) : undefined;
  try {
    for await (const chunk of source) {
      hash.update(chunk);
      size += chunk.length;
      onBytes(chunk.length);
      if (countLines) for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
      if (fh) await fh.write(chunk);
    }
    await fh?.sync();
  } finally {
    await fh?.close();
  }
  return { size, sha256: hash.digest('hex'), lines };
}

async function readAll(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of source) parts.push(chunk);
  return Buffer.concat(parts);
}
