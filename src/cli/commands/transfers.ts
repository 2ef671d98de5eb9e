import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ClientContext } from '../client/context.js';
import { usage } from '../client/context.js';
import { downloadFile } from '../client/download.js';
import { ClientError } from '../client/errors.js';
import { findFile, type RemoteFile } from '../client/files-api.js';
import { humanSize, printable } from '../client/format.js';
import { transferBars } from '../client/transfer-bars.js';
import { type LocalFile, tusUpload } from '../client/tus-upload.js';
import { EXIT } from '../exit-codes.js';

/** Ctrl-C aborts the transfer cleanly: what was sent or received is kept for the next run. */
function interruptible() {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    release() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

const interrupted = (what: string) =>
  new ClientError('INTERRUPTED', `Interrupted; ${what} Run the same command again to resume.`, EXIT.failure);

const GLOB = /[*?[]/;

/** A shell-style pattern's last segment as a regular expression: `*`, `?`, `[abc]`; a leading dot only matched by a dot. */
function globRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    const close = c === '[' ? pattern.indexOf(']', i + 2) : -1;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (close > 0) {
      const set = pattern.slice(i + 1, close).replace(/^!/, '^').replace(/[\\\]]/g, '\\$&');
      re += `[${set}]`;
      i = close;
    } else re += c.replace(/[.+^${}()|[\\\]]/g, '\\$&');
  }
  return new RegExp(`^${pattern.startsWith('.') ? '' : '(?!\\.)'}${re}$`);
}

/**
 * A path as given, or, when it does not exist and its last segment is a pattern (quoted, so the
 * shell left it alone, or a shell without globbing), the entries of its directory that match it.
 */
async function globbed(p: string): Promise<Buffer[]> {
  const abs = path.resolve(p);
  if (!GLOB.test(path.basename(abs)) || (await stat(abs).then(() => true, () => false))) return [Buffer.from(abs)];
  const dir = path.dirname(abs);
  const re = globRegex(path.basename(abs));
  const names = await readdir(dir).catch(() => [] as string[]);
  const matches = names.filter((n) => re.test(n)).sort();
  if (matches.length === 0) throw new ClientError('NOT_FOUND', `No file matches ${printable(p)}`, EXIT.notFound);
  return matches.map((n) => Buffer.from(path.join(dir, n)));
}

/**
 * The files to upload: the paths given, and with --recursive every file under a directory. Paths
 * are bytes below a directory, so names that are not valid UTF-8 are read as they are (the name
 * the server is given is their lossy UTF-8 reading).
 */
async function expand(paths: string[], recursive: boolean): Promise<LocalFile[]> {
  const found: LocalFile[] = [];
  const visit = async (p: Buffer) => {
    let s;
    try {
      s = await stat(p);
    } catch {
      throw new ClientError('NOT_FOUND', `No such file: ${printable(p.toString())}`, EXIT.notFound);
    }
    if (s.isDirectory()) {
      if (!recursive) throw usage(`${printable(p.toString())} is a directory: add --recursive to upload what is inside.`);
      const entries = (await readdir(p, { encoding: 'buffer' })).sort(Buffer.compare);
      for (const entry of entries) await visit(Buffer.concat([p, Buffer.from(path.sep), entry]));
    } else if (s.isFile()) {
      const name = path.basename(p.toString());
      found.push({ path: p, name, size: s.size, mtimeMs: s.mtimeMs });
    }
  };
  for (const p of paths) for (const each of await globbed(p)) await visit(each);
  if (found.length === 0) throw usage('Nothing to upload.');
  return found;
}

export async function uploadCommand(ctx: ClientContext, paths: string[], o: { recursive?: boolean }) {
  const files = await expand(paths, o.recursive === true);
  const bars = await transferBars(ctx.interactive, files.reduce((n, f) => n + f.size, 0), files.length);
  const stop = interruptible();
  const uploaded: Array<RemoteFile & { resumedFrom: number }> = [];
  const lines: string[] = [];
  try {
    for (const f of files) {
      const bar = bars.add(f.name, f.size);
      let resumedFrom = 0;
      const file = await tusUpload(ctx.api, ctx.env.cacheDir, f, {
        signal: stop.signal,
        start(offset) {
          resumedFrom = offset;
          if (offset > 0) bar.update(offset);
        },
        progress: (done) => bar.update(done),
      });
      bar.done();
      uploaded.push({ ...file, resumedFrom });
      const changed = await stat(f.path).then((s) => s.size !== f.size || s.mtimeMs !== f.mtimeMs, () => true);
      if (changed) lines.push(`Warning: ${printable(f.path.toString())} changed while it was uploading; the server has the bytes as they were read.`);
      const resumed = resumedFrom > 0 ? `, resumed at ${humanSize(resumedFrom)}` : '';
      lines.push(`Uploaded ${printable(f.name)} (${humanSize(file.size)}, ${file.category}${resumed}) as ${file.id}`);
    }
  } catch (err) {
    if (stop.signal.aborted) throw interrupted('what was sent is kept on the server.');
    throw err;
  } finally {
    bars.stop();
    stop.release();
    // Results go to stdout once the bars (stderr) are done; a failure still reports the files before it.
    for (const line of lines) {
      if (line.startsWith('Warning')) process.stderr.write(`${line}\n`);
      else if (!ctx.json) ctx.out(line);
    }
  }
  if (ctx.json) ctx.out(JSON.stringify({ files: uploaded }));
}

export async function downloadCommand(ctx: ClientContext, ref: string, o: { output?: string; force?: boolean }) {
  const meta = await findFile(ctx.api, ref);
  const bars = await transferBars(ctx.interactive, meta.size, 1);
  const stop = interruptible();
  try {
    const bar = bars.add(meta.name, meta.size);
    const got = await downloadFile(ctx.api, meta, {
      output: o.output,
      force: o.force === true,
      signal: stop.signal,
      progress: (done) => bar.update(done),
    });
    bar.done();
    bars.stop();
    ctx.result({ file: meta, path: got.path, resumedFrom: got.resumedFrom, sha256: meta.sha256 }, () =>
      `Downloaded ${printable(meta.name)} (${humanSize(meta.size)}${got.resumedFrom > 0 ? `, resumed at ${humanSize(got.resumedFrom)}` : ''}) to ${printable(got.path)}; SHA-256 verified.`,
    );
  } catch (err) {
    if (stop.signal.aborted) throw interrupted('the partial file is kept.');
    throw err;
  } finally {
    bars.stop();
    stop.release();
  }
}
