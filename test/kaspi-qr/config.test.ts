import { describe, expect, it } from '@jest/globals';
import { loadConfig, type ConfigKey } from '../../src/config/config.js';
import { parseLateChecks } from '../../src/config/kaspi-qr-config.js';

const base = {
  NODE_ENV: 'production',
  DATABASE_URL: 'mysql://u:p@127.0.0.1:3306/gw',
  ADMIN_API_KEY: 'admin-key-0123456789abcdef',
};
function load(o: Partial<Record<ConfigKey, string>>) {
  return loadConfig({ env: {}, configDir: '/nonexistent', overrides: { ...base, ...o } });
}
function problems(o: Partial<Record<ConfigKey, string>>): string {
  try {
    load(o);
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

describe('when Kaspi QR is configured', () => {
  it('then it is off without KASPI_QR_SCHEME and nothing else is required', () => {
    expect(load({}).KASPI_QR_SCHEME).toBeUndefined();
  });

  it('then production refuses an http: base URL, a missing certificate and an Api-Key with r2/r3, naming them', () => {
    const m = problems({
      KASPI_QR_SCHEME: 'r2',
      KASPI_QR_BASE_URL: 'http://mtokentest.kaspi.kz:8544/r2/v01',
      KASPI_QR_API_KEY: 'prod_x',
    });
    expect(m).toContain('KASPI_QR_BASE_URL: must be https:');
    expect(m).toContain('KASPI_QR_API_KEY: not used with r2');
    expect(m).toContain(
      'KASPI_QR_CERT_FILE and KASPI_QR_KEY_FILE (or KASPI_QR_PFX_FILE) are required with r2',
    );
    expect(m).not.toContain('prod_x');
  });

  it('then r1 needs its Api-Key, r3 its BIN, and test mode is never production', () => {
    expect(problems({ KASPI_QR_SCHEME: 'r1', KASPI_QR_BASE_URL: 'https://h:8543/r1/v01' })).toContain(
      'KASPI_QR_API_KEY is required',
    );
    const r3 = problems({
      KASPI_QR_SCHEME: 'r3',
      KASPI_QR_BASE_URL: 'https://h:8545/r3/v01',
      KASPI_QR_PFX_FILE: '/x.pfx',
      KASPI_QR_TEST_MODE: 'true',
    });
    expect(r3).toContain('KASPI_QR_ORGANIZATION_BIN is required');
    expect(r3).toContain('KASPI_QR_TEST_MODE: never in production');
    expect(
      problems({
        KASPI_QR_SCHEME: 'r3',
        KASPI_QR_BASE_URL: 'https://h/r3/v01',
        KASPI_QR_PFX_FILE: '/x',
        KASPI_QR_ORGANIZATION_BIN: '12345',
      }),
    ).toContain('KASPI_QR_ORGANIZATION_BIN');
    expect(problems({ KASPI_QR_LATE_CHECKS: '2m,soon' })).toContain('KASPI_QR_LATE_CHECKS');
    expect(problems({ KASPI_QR_POLL_CRON: 'often' })).toContain('KASPI_QR_POLL_CRON');
  });

  it('then a good r2 configuration loads with its defaults', () => {
    const c = load({
      KASPI_QR_SCHEME: 'r2',
      KASPI_QR_BASE_URL: 'https://mtokentest.kaspi.kz:8544/r2/v01',
      KASPI_QR_CERT_FILE: '/c.pem',
      KASPI_QR_KEY_FILE: '/k.pem',
    });
    expect(c).toMatchObject({
      KASPI_QR_TIMEOUT_MS: 10000,
      KASPI_QR_POLL_CRON: '*/2 * * * * *',
      KASPI_QR_TEST_MODE: false,
    });
    expect(parseLateChecks(c.KASPI_QR_LATE_CHECKS)).toEqual([120_000, 600_000, 3_600_000]);
  });
});
