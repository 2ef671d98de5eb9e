import type { RefObject } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';
import { hasMore, hasNewer, loadHistory, loadNewer } from '../chat-socket.js';

/**
 * Scrolling through a room's window of lines: near the top the previous page loads, near the
 * bottom (when the window stops short of the newest) the next one. What the reader looks at stays
 * put while lines come and go above or below it (the first line in view is the anchor); new
 * messages scroll into view only for a reader who is already at the bottom.
 */
export function useScrollWindow(list: RefObject<HTMLDivElement | null>, room: number, deps: unknown[]) {
  const atBottom = useRef(true);
  const anchor = useRef<{ key: string; offset: number } | null>(null);
  const busy = useRef(false);

  function capture() {
    const el = list.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
    const top = el.scrollTop;
    for (const node of Array.from(el.querySelectorAll<HTMLElement>('[data-key]'))) {
      if (node.offsetTop + node.offsetHeight > top) {
        anchor.current = { key: node.dataset.key ?? '', offset: node.offsetTop - top };
        return;
      }
    }
    anchor.current = null;
  }

  useLayoutEffect(() => {
    const el = list.current;
    if (!el) return;
    if (atBottom.current && !hasNewer.value[room]) {
      el.scrollTop = el.scrollHeight;
    } else if (anchor.current) {
      const node = el.querySelector<HTMLElement>(`[data-key="${CSS.escape(anchor.current.key)}"]`);
      if (node) el.scrollTop = node.offsetTop - anchor.current.offset;
    }
    capture();
  }, deps);

  function load(next: (room: number) => Promise<void>) {
    busy.current = true;
    void next(room)
      .catch(() => {})
      .finally(() => {
        busy.current = false;
      });
  }

  function onScroll() {
    const el = list.current;
    if (!el) return;
    capture();
    if (busy.current) return;
    if (el.scrollTop < 80 && hasMore.value[room]) load(loadHistory);
    else if (el.scrollHeight - el.scrollTop - el.clientHeight < 80 && hasNewer.value[room]) load(loadNewer);
  }
  return { onScroll };
}
