import type { ComponentChildren } from 'preact';
import { categoryLabel, formatBytes, formatDate, revealControls } from '../format.js';
import type { FileItem, Usage } from '../types.js';

/** How the Files page shows files: a thumbnail or the extension, the table, the grid, the quota. */

export function Thumb({ file }: { file: FileItem }) {
  if (file.category === 'images' && !file.mime.includes('svg')) {
    return <img class="thumb" src={`/api/files/${encodeURIComponent(file.id)}/thumbnail?size=128`} alt="" loading="lazy" />;
  }
  const ext = (file.name.split('.').pop() ?? '').slice(0, 4).toUpperCase();
  return <span class="thumb" aria-hidden="true">{ext || 'FILE'}</span>;
}

export function QuotaBar({ usage }: { usage: Usage | null }) {
  if (!usage) return null;
  const pct = usage.quotaBytes > 0 ? Math.min(100, (usage.usedBytes / usage.quotaBytes) * 100) : 0;
  return (
    <div class="quota">
      <span class="muted">
        {formatBytes(usage.usedBytes)} of {usage.quotaBytes > 0 ? formatBytes(usage.quotaBytes) : 'unlimited'} used
      </span>
      <div class={`bar${pct >= 90 ? ' full' : ''}`} role="progressbar" aria-label="Storage used" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)}>
        <span style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}

interface ViewProps {
  files: FileItem[];
  open: (f: FileItem) => void;
  actions: (f: FileItem) => ComponentChildren;
}

export function FileTable({ files, open, actions }: ViewProps) {
  return (
    <div class="card table-wrap">
      <table id="file-list">
        <thead>
          <tr><th>Name</th><th class="hide-narrow">Type</th><th class="num">Size</th><th class="hide-narrow">Uploaded</th><th class="actions"><span class="visually-hidden">Actions</span></th></tr>
        </thead>
        <tbody>
          {files.map((f) => (
            <tr key={f.id} data-file-id={f.id}>
              <td>
                <div class="file-name">
                  <Thumb file={f} />
                  <button type="button" class="link" onClick={() => open(f)}>{revealControls(f.name)}</button>
                </div>
              </td>
              <td class="hide-narrow">{categoryLabel(f.category)}<div class="muted small-text">{f.mime}</div></td>
              <td class="num">{formatBytes(f.size)}</td>
              <td class="hide-narrow"><time dateTime={new Date(f.createdAt).toISOString()}>{formatDate(f.createdAt)}</time></td>
              <td class="actions">{actions(f)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function FileGrid({ files, open, actions }: ViewProps) {
  return (
    <div class="grid" id="file-grid">
      {files.map((f) => (
        <div class="tile" key={f.id} data-file-id={f.id}>
          <button type="button" class="ghost tile-open" onClick={() => open(f)} aria-label={`Open ${revealControls(f.name)}`}><Thumb file={f} /></button>
          <span class="name">{revealControls(f.name)}</span>
          <span class="muted">{formatBytes(f.size)} · {formatDate(f.createdAt)}</span>
          <div class="row">{actions(f)}</div>
        </div>
      ))}
    </div>
  );
}
