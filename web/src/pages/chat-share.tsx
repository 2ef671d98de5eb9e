import { useEffect, useState } from 'preact/hooks';
import { api, sentence } from '../api.js';
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
      {error && <p class="error" role="alert">{error}</p>}
      {files === null && !error && <p class="muted">Loading your files…</p>}
      {files?.length === 0 && <p>You have no files yet. Upload some on the <a href="/files">Files</a> page.</p>}
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
