import { useEffect, useState } from 'preact/hooks';
import { api, errorFromBody, sentence } from '../api.js';
import { request } from '../chat-socket.js';
import { formatBytes } from '../format.js';
import type { FileItem } from '../types.js';

/** One of your files into a room: members see it as a message and may download it. */
export function ShareFileDialog({ room, onDone }: { room: number; onDone: () => void }) {
  const [files, setFiles] = useState<FileItem[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api<{ files: FileItem[] }>('GET', '/api/files?limit=100').then((r) => setFiles(r.files), (err: unknown) => setError(sentence(err)));
  }, []);
  const [uploading, setUploading] = useState('');
  /** A new file straight from the computer: stored in your files, then shared. */
  async function uploadAndShare(file: File) {
    setError('');
    setUploading(file.name);
    try {
      const body = new FormData();
      body.append('file', file, file.name);
      const res = await fetch('/api/files', { method: 'POST', body, credentials: 'same-origin' });
      const text = await res.text();
      if (!res.ok) throw errorFromBody(res.status, text, res.headers.get('retry-after'));
      const stored = (JSON.parse(text) as { files: FileItem[] }).files[0];
      if (stored) await share(stored);
    } catch (err) {
      setError(sentence(err));
    } finally {
      setUploading('');
    }
  }
  async function share(f: FileItem) {
    try {
      await request({ type: 'share', room, fileId: f.id, clientId: `share-${Date.now().toString(36)}` });
      onDone();
    } catch (err) {
      setError(sentence(err));
    }
  }
  return (
    <div class="stack">
      <label class="button primary-label">
        <input type="file" class="visually-hidden" aria-label="Upload a new file and share it" disabled={uploading !== ''}
          onChange={(e) => {
            const f = e.currentTarget.files?.[0];
            e.currentTarget.value = '';
            if (f) void uploadAndShare(f);
          }} />
        {uploading ? `Uploading ${uploading}…` : 'Upload a new file'}
      </label>
      {error && <p class="error" role="alert">{error}</p>}
      {files === null && !error && <p class="muted">Loading your files…</p>}
      {files?.length === 0 && <p class="muted">You have no other files yet.</p>}
      {files && files.length > 0 && <p class="muted">Or one of your files:</p>}
      {files && files.length > 0 && (
        <table>
          <tbody>
            {files.map((f) => (
              <tr key={f.id}>
                <td>{f.name}</td>
                <td class="num">{formatBytes(f.size)}</td>
                <td class="actions"><button type="button" class="small" onClick={() => void share(f)}>Share</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="buttons"><button type="button" onClick={onDone}>Cancel</button></div>
    </div>
  );
}
