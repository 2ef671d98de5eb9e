/**
 * Per-connection frame budget shared by every chat transport: at most `limit` frames in each
 * 10-second window. Returns a function that counts one frame and says whether it is over budget.
 */
export function createFrameLimit(limit: number, windowMs = 10_000): () => boolean {
  let start = Date.now();
  let count = 0;
  return () => {
    const now = Date.now();
    if (now - start >= windowMs) {
      start = now;
      count = 0;
    }
    return ++count > limit;
  };
}
