import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createStreamHash } from './hashing.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('stream hashing off the main thread', () => {
  it('matches node:crypto for empty, small, exactly-one-batch and large inputs in odd chunk sizes', async () => {
    for (const size of [0, 1, 4100, 1024 * 1024, 1024 * 1024 + 1, 5 * 1024 * 1024 + 12345]) {
      const data = randomBytes(size);
      const h = createStreamHash();
      for (let o = 0; o < size; o += 65_531) h.update(data.subarray(o, Math.min(size, o + 65_531)));
      expect(await h.digest()).toBe(sha(data));
    }
  });

  it('keeps concurrent hashes apart, and an aborted hash does not disturb the others', async () => {
    const inputs = Array.from({ length: 6 }, (_, i) => randomBytes(2 * 1024 * 1024 + i * 977));
    const hashes = inputs.map(() => createStreamHash());
    for (let o = 0; o < 3 * 1024 * 1024; o += 100_000) {
      inputs.forEach((d, i) => {
        if (o < d.length) hashes[i]?.update(d.subarray(o, Math.min(d.length, o + 100_000)));
      });
    }
    hashes[2]?.abort();
    const results = await Promise.all(hashes.map((h, i) => (i === 2 ? Promise.resolve('') : h.digest())));
    results.forEach((r, i) => {
      if (i !== 2) expect(r).toBe(sha(inputs[i] as Buffer));
    });
  });

  it('leaves the caller\u2019s chunks untouched (batches are copies)', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const copy = Buffer.from(data);
    const h = createStreamHash();
    h.update(data);
    await h.digest();
    expect(data.equals(copy)).toBe(true);
  });
});
