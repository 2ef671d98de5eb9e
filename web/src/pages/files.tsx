import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, sentence } from '../api.js';
import type { Category, FileItem, Usage } from '../types.js';
import { addFiles, configureUploads } from '../uploads.js';
import { canPreview, DeleteDialog, PreviewDialog, RenameDialog, ShareDialog } from './file-dialogs.js';
import { FileGrid, FileTable, QuotaBar } from './file-views.js';
import { UploadPanel } from './upload-panel.js';

type SortKey = 'new' | 'old' | 'az' | 'za' | 'big' | 'small';
const SORTS: Record<SortKey, { label: string; sort: string; order: 'asc' | 'desc' }> = {
  new: { label: 'Newest first', sort: 'created_at', order: 'desc' },
  old: { label: 'Oldest first', sort: 'created_at', order: 'asc' },
  az: { label: 'Name A–Z', sort: 'original_name', order: 'asc' },
  za: { label: 'Name Z–A', sort: 'original_name', order: 'desc' },
  big: { label: 'Largest first', sort: 'size', order: 'desc' },
  small: { label: 'Smallest first', sort: 'size', order: 'asc' },
};
const PAGE = 200;

type Dialog = { kind: 'delete' | 'share' | 'preview' | 'rename'; file: FileItem } | null;

interface ToolbarProps {
  query: string;
  setQuery: (q: string) => void;
  category: Category | '';
  setCategory: (c: Category | '') => void;
  sort: SortKey;
  setSort: (s: SortKey) => void;
  view: 'list' | 'grid';
  toggleView: () => void;
}

/** Search, category, sort and the list/grid switch. */
function Toolbar(p: ToolbarProps) {
  return (
    <div class="toolbar" role="search">
      <input type="search" placeholder="Search by name" aria-label="Search by name" value={p.query} onInput={(e) => p.setQuery(e.currentTarget.value)} />
      <select aria-label="Category" value={p.category} onChange={(e) => p.setCategory(e.currentTarget.value as Category | '')}>
        <option value="">All types</option>
        <option value="images">Images</option>
        <option value="documents">Documents</option>
        <option value="files">Other files</option>
      </select>
      <select aria-label="Sort" value={p.sort} onChange={(e) => p.setSort(e.currentTarget.value as SortKey)}>
        {Object.entries(SORTS).map(([k, v]) => <option key={k} value={k}>{v.label}</option>)}
      </select>
      <button type="button" aria-pressed={p.view === 'grid'} onClick={p.toggleView}>
        {p.view === 'grid' ? 'List view' : 'Grid view'}
      </button>
    </div>
  );
}

/** Drag-and-drop anywhere on the page: the overlay shows while files are over the window. */
function useDropAnywhere(onFiles: (files: File[]) => void) {
  const [over, setOver] = useState(false);
  useEffect(() => {
    let depth = 0;
    const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');
    const enter = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth += 1;
      setOver(true);
    };
    const leave = () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) setOver(false);
    };
    const overFn = (e: DragEvent) => {
      if (hasFiles(e)) e.preventDefault();
    };
    const drop = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      setOver(false);
      const files = Array.from(e.dataTransfer?.files ?? []);
      if (files.length) onFiles(files);
    };
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragleave', leave);
    window.addEventListener('dragover', overFn);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragenter', enter);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('dragover', overFn);
      window.removeEventListener('drop', drop);
    };
  }, []);
  return over;
}

export function FilesPage() {
  const [files, setFiles] = useState<FileItem[]>([]);
  const [total, setTotal] = useState(0);
  const [usage, setUsage] = useState<Usage | null>(null);
  const [sort, setSort] = useState<SortKey>('new');
  const [category, setCategory] = useState<Category | ''>('');
  const [query, setQuery] = useState('');
  const [view, setView] = useState<'list' | 'grid'>(() => (localStorage.getItem('plaza.filesView') === 'grid' ? 'grid' : 'list'));
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(true);
  const [dialog, setDialog] = useState<Dialog>(null);

  async function load(offset = 0) {
    const s = SORTS[sort];
    const q = new URLSearchParams({ sort: s.sort, order: s.order, limit: String(PAGE), offset: String(offset) });
    if (category) q.set('category', category);
    try {
      const page = await api<{ files: FileItem[]; total: number }>('GET', `/api/files?${q.toString()}`);
      setFiles((old) => (offset === 0 ? page.files : [...old, ...page.files]));
      setTotal(page.total);
      setError('');
    } catch (err) {
      setError(sentence(err));
    } finally {
      setLoading(false);
    }
  }
  const refreshUsage = () => api<Usage>('GET', '/api/files/usage').then(setUsage, () => {});

  useEffect(() => void load(0), [sort, category]);
  useEffect(() => void refreshUsage(), []);
  // A finished upload reloads the list as it is sorted and filtered now.
  useEffect(() => {
    const onFinished = () => {
      void load(0);
      void refreshUsage();
    };
    configureUploads(usage ? { onFinished, maxUploadBytes: usage.maxUploadBytes } : { onFinished });
  }, [usage?.maxUploadBytes, sort, category]);

  const dragging = useDropAnywhere((f) => addFiles(f));
  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    return q ? files.filter((f) => f.name.toLowerCase().includes(q)) : files;
  }, [files, query]);

  const close = () => setDialog(null);
  const removed = (id: string) => {
    setFiles((old) => old.filter((f) => f.id !== id));
    setTotal((t) => t - 1);
    void refreshUsage();
  };
  const renamed = (f: FileItem) => setFiles((old) => old.map((x) => (x.id === f.id ? f : x)));
  const open = (file: FileItem) => setDialog({ kind: canPreview(file) ? 'preview' : 'share', file });
  const actions = (f: FileItem) => (
    <>
      <a class="button small" href={`/api/files/${encodeURIComponent(f.id)}/content`} download={f.name} aria-label={`Download ${f.name}`}>Download</a>{' '}
      <button type="button" class="small" onClick={() => setDialog({ kind: 'share', file: f })} aria-label={`Share ${f.name}`}>Share</button>{' '}
      <button type="button" class="small" onClick={() => setDialog({ kind: 'rename', file: f })} aria-label={`Rename ${f.name}`}>Rename</button>{' '}
      <button type="button" class="small" onClick={() => setDialog({ kind: 'delete', file: f })} aria-label={`Delete ${f.name}`}>Delete</button>
    </>
  );

  return (
    <section class="page">
      {dragging && <div class="dropzone">Drop files to upload</div>}
      <div class="row">
        <h1>Files</h1>
        <span class="spacer" />
        <QuotaBar usage={usage} />
        <label class="button primary-label">
          <input
            type="file"
            multiple
            class="visually-hidden"
            aria-label="Choose files to upload"
            onChange={(e) => {
              const list = Array.from(e.currentTarget.files ?? []);
              e.currentTarget.value = '';
              if (list.length) addFiles(list);
            }}
          />
          Upload files
        </label>
      </div>
      <p class="muted hide-narrow">Drop files anywhere on this page, or choose them. Large uploads continue after a lost connection or a reload.</p>
      <UploadPanel />
      <Toolbar
        query={query} setQuery={setQuery} category={category} setCategory={setCategory}
        sort={sort} setSort={setSort} view={view}
        toggleView={() => {
          const next = view === 'grid' ? 'list' : 'grid';
          localStorage.setItem('plaza.filesView', next);
          setView(next);
        }}
      />
      {error && <p class="error" role="alert">{error}</p>}
      {!loading && shown.length === 0 && (
        <div class="empty card">{files.length === 0 ? 'No files yet. Drop some here or use “Upload files”.' : 'No file matches your search.'}</div>
      )}
      {shown.length > 0 && view === 'list' && <FileTable files={shown} open={open} actions={actions} />}
      {shown.length > 0 && view === 'grid' && <FileGrid files={shown} open={open} actions={actions} />}
      {files.length < total && (
        <p class="row"><button type="button" onClick={() => void load(files.length)}>Show more ({total - files.length} left)</button></p>
      )}
      {dialog?.kind === 'delete' && <DeleteDialog file={dialog.file} onClose={close} onDeleted={removed} />}
      {dialog?.kind === 'rename' && <RenameDialog file={dialog.file} onClose={close} onRenamed={renamed} />}
      {dialog?.kind === 'share' && <ShareDialog file={dialog.file} onClose={close} />}
      {dialog?.kind === 'preview' && <PreviewDialog file={dialog.file} onClose={close} />}
    </section>
  );
}
