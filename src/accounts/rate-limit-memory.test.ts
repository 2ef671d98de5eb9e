import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { createRateLimits } from './rate-limits.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapMiB(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1024 ** 2;
}

/** The n-th /64 of 2001:db8::/32, as an address inside it. */
const addressIn = (net: number) => `2001:db8:${(net >> 16).toString(16)}:${(net & 0xffff).toString(16)}::${(net % 7) + 1}`;

/**
 * The limiters' memory stays bounded however many identifiers arrive: 200,000 distinct
 * 320-character identifiers from 2,000 IPv6 /64s (100 each, the default failures-per-IP limit),
 * driven through `beginLogin` exactly as `verifyCredentials` calls it for unknown names (no argon2).
 */
describe('login limiter memory', () => {
  it('200,000 identifiers from 2,000 /64s stay within the key bound and 40 MiB of heap', async () => {
    const config = loadConfig({});
    const limits = createRateLimits(config.rateLimits, { maxKeys: config.rateLimitMaxKeys });
    const before = heapMiB();
    const known = async () => false;
    const NETWORKS = 2000;
    const PER_NETWORK = 100;
    let refused = 0;
    for (let net = 0; net < NETWORKS; net++) {
      const ip = addressIn(net);
      for (let i = 0; i < PER_NETWORK; i++) {
        const identifier = `${String(net * PER_NETWORK + i).padStart(8, '0')}@${'x'.repeat(311)}`;
        try {
          await limits.beginLogin(`name:${identifier}`, ip, known);
        } catch {
          refused++;
        }
      }
    }
    const grown = heapMiB() - before;
    console.log(`heap grew ${grown.toFixed(1)} MiB for ${NETWORKS * PER_NETWORK} identifiers (${refused} refused)`);
    expect(refused).toBe(0);
    expect(grown).toBeLessThan(40);
  }, 120_000);
});
