import { useEffect, useState } from 'preact/hooks';
import { api, sentence } from '../api.js';
import { formatBytes, formatDate, formatRelative, revealControls } from '../format.js';
import type { FileItem, Share } from '../types.js';
import { Modal } from './dialog.js';
import { PdfView } from './pdf-view.js';

export function DeleteDialog({ file, onClose, onDeleted }: { file: FileItem; onClose: () => void; onDeleted: (id: string) => void }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  async function remove() {
    setBusy(true);
    try {
      await api('DELETE', `/api/files/${encodeURIComponent(file.id)}`);
      onDeleted(file.id);
      onClose();
    } catch (err) {
      setError(sentence(err));
      setBusy(false);
    }
  }
  return (
    <Modal title="Delete file?" onClose={onClose}>
      <p>
        <strong class="target">{revealControls(file.name)}</strong> ({formatBytes(file.size)}) will be deleted for good, and its share links stop working.
      </p>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="buttons">
        <button type="button" onClick={onClose}>Cancel</button>
        <button type="button" class="danger" disabled={busy} onClick={() => void remove()}>Delete</button>
      </div>
    </Modal>
  );
}

export function RenameDialog({ file, onClose, onRenamed }: { file: FileItem; onClose: () => void; onRenamed: (f: FileItem) => void }) {
  const [name, setName] = useState(file.name);
  const [error, setError] = useState('');
  async function submit(e: Event) {
    e.preventDefault();
    try {
      const { file: renamed } = await api<{ file: FileItem }>('PATCH', `/api/files/${encodeURIComponent(file.id)}`, { name });
      onRenamed(renamed);
      onClose();
    } catch (err) {
      setError(sentence(err));
    }
  }
  return (
    <Modal title="Rename file" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} class="stack">
        <label>
          New name
          <input value={name} required maxLength={255} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        {error && <p class="error" role="alert">{error}</p>}
        <div class="buttons">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary">Rename</button>
        </div>
      </form>
    </Modal>
  );
}

const EXPIRY = [
  { label: '1 hour', seconds: 3600 },
  { label: '1 day', seconds: 86_400 },
  { label: '7 days', seconds: 7 * 86_400 },
  { label: '30 days', seconds: 30 * 86_400 },
];

function absolute(url: string): string {
  return new URL(url, location.origin).toString();
}

export function ShareDialog({ file, onClose }: { file: FileItem; onClose: () => void }) {
  const [expires, setExpires] = useState(86_400);
  const [limit, setLimit] = useState('');
  const [link, setLink] = useState('');
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState('');
  const [shares, setShares] = useState<Share[]>([]);
  const path = `/api/files/${encodeURIComponent(file.id)}/shares`;

  async function refresh() {
    const { shares } = await api<{ shares: Share[] }>('GET', path);
    setShares(shares);
  }
  useEffect(() => void refresh().catch((err: unknown) => setError(sentence(err))), []);

  async function create(e: Event) {
    e.preventDefault();
    setError('');
    try {
      const max = limit.trim() === '' ? null : Number(limit);
      const made = await api<{ url: string }>('POST', path, { expiresInSeconds: expires, maxDownloads: max });
      setLink(absolute(made.url));
      setCopied(false);
      await refresh();
    } catch (err) {
      setError(sentence(err));
    }
  }
  async function copy() {
    try {
      await navigator.clipboard.writeText(link);
    } catch {
      (document.getElementById('share-link') as HTMLInputElement | null)?.select();
      document.execCommand('copy');
    }
    setCopied(true);
  }
  async function revoke(id: string) {
    try {
      await api('DELETE', `/api/shares/${encodeURIComponent(id)}`);
      await refresh();
    } catch (err) {
      setError(sentence(err));
    }
  }

  return (
    <Modal title={`Share “${revealControls(file.name)}”`} onClose={onClose}>
      <form class="stack" onSubmit={(e) => void create(e)}>
        <div class="row">
          <label>
            Link expires after
            <select value={expires} onChange={(e) => setExpires(Number(e.currentTarget.value))}>
              {EXPIRY.map((x) => <option key={x.seconds} value={x.seconds}>{x.label}</option>)}
            </select>
          </label>
          <label>
            Download limit
            <input type="number" min={1} max={1000000} placeholder="No limit" value={limit} onInput={(e) => setLimit(e.currentTarget.value)} />
          </label>
        </div>
        <div><button type="submit" class="primary">Create link</button></div>
      </form>
      {link && (
        <div class="stack gap-top">
          <label for="share-link">Anyone with this link can download the file (it is shown only once)</label>
          <div class="share-url">
            <input id="share-link" readOnly value={link} onFocus={(e) => e.currentTarget.select()} />
            <button type="button" onClick={() => void copy()}>{copied ? 'Copied' : 'Copy link'}</button>
          </div>
        </div>
      )}
      {error && <p class="error" role="alert">{error}</p>}
      {shares.length > 0 && (
        <>
          <h2>Links</h2>
          <table class="shares">
            <thead><tr><th>Created</th><th>Expires</th><th class="num">Downloads</th><th /></tr></thead>
            <tbody>
              {shares.map((s) => (
                <tr key={s.id}>
                  <td>{formatDate(s.createdAt)}</td>
                  <td>{s.active ? formatRelative(s.expiresAt) : s.revoked ? 'Revoked' : 'Ended'}</td>
                  <td class="num">{s.downloads}{s.maxDownloads ? ` / ${s.maxDownloads}` : ''}</td>
                  <td class="actions">{s.active && <button type="button" class="small" onClick={() => void revoke(s.id)}>Revoke</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <div class="buttons"><button type="button" onClick={onClose}>Done</button></div>
    </Modal>
  );
}

const TEXT_LIMIT = 512 * 1024;

function isText(f: FileItem) {
  return f.mime.startsWith('text/') || /json|xml|javascript|csv|yaml/.test(f.mime) || /\.(txt|md|csv|log|json|ya?ml|ts|js|py)$/i.test(f.name);
}

/** What can be previewed here: raster images, audio, video, PDF and text. */
export function canPreview(f: FileItem): boolean {
  return (f.category === 'images' && !f.mime.includes('svg')) || /^(audio|video)\//.test(f.mime) || (isText(f) && f.size <= TEXT_LIMIT) || f.mime === 'application/pdf';
}

export function PreviewDialog({ file, onClose }: { file: FileItem; onClose: () => void }) {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState('');
  const src = `/api/files/${encodeURIComponent(file.id)}/content`;
  const kind = file.category === 'images' ? 'image' : file.mime.startsWith('video/') ? 'video' : file.mime.startsWith('audio/') ? 'audio' : file.mime === 'application/pdf' ? 'pdf' : 'text';
  useEffect(() => {
    if (kind !== 'text') return;
    fetch(src, { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error('The file could not be read.'))))
      .then(setText, (err: Error) => setError(err.message));
  }, [file.id]);
  return (
    <Modal title={revealControls(file.name)} onClose={onClose} wide>
      <div class="preview">
        {kind === 'image' && <img src={src} alt={file.name} />}
        {kind === 'video' && <video src={src} controls />}
        {kind === 'audio' && <audio src={src} controls />}
        {kind === 'pdf' && <PdfView src={src} name={file.name} />}
        {kind === 'text' && (text === null ? <p class="muted">{error || 'Loading…'}</p> : <pre>{text}</pre>)}
      </div>
      <div class="buttons">
        <a class="button" href={src} download={file.name}>Download</a>
        <button type="button" onClick={onClose}>Close</button>
      </div>
    </Modal>
  );
}
