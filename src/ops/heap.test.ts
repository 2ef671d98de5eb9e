import v8 from 'node:v8';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HEAP_GROWING_PERCENT, tuneHeapForStreaming } from './heap.js';

describe('heap tuning for streaming uploads', () => {
  afterEach(() => vi.restoreAllMocks());

  it('sets V8 heap growth when node was started without its own', () => {
    const set = vi.spyOn(v8, 'setFlagsFromString').mockImplementation(() => {});
    expect(tuneHeapForStreaming(['--enable-source-maps'])).toBe(true);
    expect(set).toHaveBeenCalledWith(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  });

  it("leaves an operator's own --heap-growing-percent alone, in either spelling", () => {
    const set = vi.spyOn(v8, 'setFlagsFromString').mockImplementation(() => {});
    expect(tuneHeapForStreaming(['--heap-growing-percent=50'])).toBe(false);
    expect(tuneHeapForStreaming(['--heap_growing_percent=50'])).toBe(false);
    expect(set).not.toHaveBeenCalled();
  });
});
