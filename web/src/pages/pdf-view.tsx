import { useEffect, useRef, useState } from 'preact/hooks';

/** Pages drawn at once; a longer document says how many more there are and links to the whole. */
const MAX_PAGES = 30;

type State = { kind: 'loading' } | { kind: 'shown'; pages: number; drawn: number } | { kind: 'failed'; message: string };

/**
 * A PDF drawn inside the page with PDF.js (loaded only when a PDF is opened: its own chunk and a
 * worker file, both from Plaza, so the app's CSP holds). Each page is a canvas as wide as
 * the dialog; text is not selectable (the download has it).
 */
export function PdfView({ src, name }: { src: string; name: string }) {
  const holder = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<State>({ kind: 'loading' });

  useEffect(() => {
    let cancelled = false;
    let destroy: (() => Promise<void>) | undefined;
    void (async () => {
      const [pdfjs, worker] = await Promise.all([import('pdfjs-dist'), import('pdfjs-dist/build/pdf.worker.min.mjs?url')]);
      pdfjs.GlobalWorkerOptions.workerSrc = worker.default;
      const task = pdfjs.getDocument({ url: src, withCredentials: true, enableXfa: false });
      destroy = () => task.destroy();
      const doc = await task.promise;
      const box = holder.current;
      if (cancelled || !box) return;
      const drawn = Math.min(doc.numPages, MAX_PAGES);
      const width = box.clientWidth || 800;
      for (let n = 1; n <= drawn && !cancelled; n++) {
        const page = await doc.getPage(n);
        const base = page.getViewport({ scale: 1 });
        const viewport = page.getViewport({ scale: (width / base.width) * (window.devicePixelRatio || 1) });
        const canvas = document.createElement('canvas');
        canvas.width = Math.floor(viewport.width);
        canvas.height = Math.floor(viewport.height);
        canvas.className = 'pdf-page';
        canvas.setAttribute('role', 'img');
        canvas.setAttribute('aria-label', `Page ${n} of ${doc.numPages}`);
        box.append(canvas);
        await page.render({ canvas, viewport }).promise;
        if (n === 1) setState({ kind: 'shown', pages: doc.numPages, drawn });
      }
    })().catch((err: unknown) => {
      if (!cancelled) setState({ kind: 'failed', message: err instanceof Error && err.name === 'PasswordException' ? 'This PDF is protected by a password.' : 'This PDF could not be shown.' });
    });
    return () => {
      cancelled = true;
      void destroy?.().catch(() => {});
    };
  }, [src]);

  return (
    <div class="pdf-view">
      {state.kind === 'loading' && <p class="muted">Loading the PDF…</p>}
      {state.kind === 'failed' && <p class="error" role="alert">{state.message} <a href={src} download={name}>Download it</a> instead.</p>}
      {state.kind === 'shown' && (
        <p class="muted small-text" aria-live="polite">
          {state.pages === 1 ? '1 page' : `${state.pages} pages`}
          {state.pages > state.drawn ? ` — the first ${state.drawn} are shown; download the file for the rest.` : ''}
        </p>
      )}
      <div class="pdf-pages" ref={holder} />
    </div>
  );
}
