import type { ClientContext } from '../client/context.js';
import { findFile, listFiles } from '../client/files-api.js';
import { humanSize, parseDuration, printable, shortTime, table } from '../client/format.js';

const SORTS: Record<string, string> = { name: 'original_name', size: 'size', created: 'created_at', date: 'created_at' };

export async function filesCommand(ctx: ClientContext, o: { category?: string; sort?: string; desc?: boolean }) {
  const { files, total } = await listFiles(ctx.api, {
    category: o.category,
    sort: o.sort ? SORTS[o.sort] : undefined,
    order: o.desc ? 'desc' : o.sort ? 'asc' : undefined,
  });
  if (ctx.json) {
    ctx.out(JSON.stringify({ files, total }));
    return;
  }
  if (process.stdout.isTTY) {
    if (files.length === 0) {
      ctx.out('No files yet. Upload one with `plaza upload <path>`.');
      return;
    }
    const rows = files.map((f) => [f.id, humanSize(f.size), f.category, shortTime(f.createdAt), printable(f.name)]);
    for (const line of table(['ID', 'SIZE', 'CATEGORY', 'CREATED (UTC)', 'NAME'], rows, new Set([1]))) ctx.out(line);
    const bytes = files.reduce((n, f) => n + f.size, 0);
    ctx.out(`${total} file${total === 1 ? '' : 's'}, ${humanSize(bytes)}`);
    return;
  }
  // Scripts: one file a line, tab-separated, sizes in bytes, times in ISO 8601.
  for (const f of files) ctx.out([f.id, f.size, f.category, new Date(f.createdAt).toISOString(), printable(f.name).replace(/\t/g, ' ')].join('\t'));
}

export async function rmCommand(ctx: ClientContext, refs: string[]) {
  const removed: Array<{ id: string; name: string }> = [];
  for (const ref of refs) {
    const f = await findFile(ctx.api, ref);
    await ctx.api.request('DELETE', `/api/files/${encodeURIComponent(f.id)}`);
    removed.push({ id: f.id, name: f.name });
    if (!ctx.json) ctx.out(`Deleted ${printable(f.name)} (${f.id}).`);
  }
  if (ctx.json) ctx.out(JSON.stringify({ removed }));
}

interface ShareReply {
  share: { id: string; expiresAt: number | null; maxDownloads: number | null };
  token: string;
  url: string;
}

export async function shareCommand(ctx: ClientContext, ref: string, o: { expires?: string; maxDownloads?: number }) {
  const seconds = o.expires ? parseDuration(o.expires) : undefined;
  const f = await findFile(ctx.api, ref);
  const s = await ctx.api.request<ShareReply>('POST', `/api/files/${encodeURIComponent(f.id)}/shares`, {
    body: { ...(seconds !== undefined ? { expiresInSeconds: seconds } : {}), ...(o.maxDownloads !== undefined ? { maxDownloads: o.maxDownloads } : {}) },
  });
  // The server names its public URL when it knows it; otherwise the link is relative to the server.
  const url = s.url.startsWith('/') ? ctx.api.server + s.url : s.url;
  ctx.result({ ...s, url, file: { id: f.id, name: f.name } }, () => [
    url,
    `${printable(f.name)}: ${s.share.expiresAt ? `expires ${shortTime(s.share.expiresAt)} UTC` : 'no expiry'}, ${
      s.share.maxDownloads ? `at most ${s.share.maxDownloads} downloads` : 'no download limit'
    }`,
  ]);
}
