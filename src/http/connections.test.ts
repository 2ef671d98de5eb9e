import { describe, expect, it } from 'vitest';
import { clientKey } from './connections.js';

describe('clientKey: the address connections are counted under', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['::1', '0:0:0:0::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:0db8:00aa:bbbb:1:2:3:4', '2001:db8:aa:bbbb::/64'],
    ['2001:db8:aa:bbbb:ffff::', '2001:db8:aa:bbbb::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    [undefined, 'unknown'],
  ])('%s → %s', (address, key) => {
    expect(clientKey(address)).toBe(key);
  });
});
