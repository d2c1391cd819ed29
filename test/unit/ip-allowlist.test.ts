import { IpAllowlist, trustProxySetting } from '../../src/http/ip-allowlist.js';

describe('IpAllowlist', () => {
  const list = new IpAllowlist('194.187.247.152/32, 10.0.0.0/8, 2001:db8::/32, ::ffff:192.168.1.0/120');

  it.each([
    ['194.187.247.152', true],
    ['::ffff:194.187.247.152', true],
    ['194.187.247.153', false],
    ['10.200.1.1', true],
    ['::ffff:10.0.0.1', true],
    ['11.0.0.1', false],
    ['2001:db8::1', true],
    ['2001:db9::1', false],
    ['192.168.1.77', true],
    ['192.168.2.1', false],
    ['not-an-ip', false],
    ['', false],
    [undefined, false],
  ])('when the caller is %p, then allowed is %p', (ip, allowed) => {
    expect(list.allows(ip)).toBe(allowed);
  });

  it('when an entry is not an address, then validate names it', () => {
    expect(IpAllowlist.validate('1.2.3.4/32,banana')).toBe('banana');
    expect(IpAllowlist.validate('1.2.3.4/33')).toBe('1.2.3.4/33');
    expect(IpAllowlist.validate('1.2.3.4,::1')).toBeNull();
  });

  it('when TRUST_PROXY is written as an operator would, then Express gets the right setting', () => {
    expect(trustProxySetting('false')).toBe(false);
    expect(trustProxySetting('')).toBe(false);
    expect(trustProxySetting('1')).toBe(1);
    expect(trustProxySetting('loopback')).toBe('loopback');
    expect(trustProxySetting('10.0.0.1/32')).toBe('10.0.0.1/32');
  });
});
