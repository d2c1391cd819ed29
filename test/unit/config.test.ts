import { ConfigError, loadConfig } from '../../src/config/config.js';

const load = (env: Record<string, string>) => loadConfig({ env, configDir: '/nonexistent' });

describe('configuration', () => {
  it('when nothing is set in development, then the embedded SQLite and loopback allowlist are used', () => {
    const c = load({});
    expect(c.DATABASE_URL).toBe('sqlite:./data/gateway.sqlite');
    expect(c.KASPI_ALLOWED_IPS).toContain('127.0.0.0/8');
    expect(c.PAY_DEADLINE_MS).toBe(10000);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('when production starts without its required settings, then it refuses and names each', () => {
    let err: unknown;
    try {
      load({ NODE_ENV: 'production' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual(
      expect.arrayContaining([
        'DATABASE_URL is required in production',
        'ADMIN_API_KEY is required in production',
      ]),
    );
  });

  it('when production has its settings, then only Kaspi may call', () => {
    const c = load({
      NODE_ENV: 'production',
      DATABASE_URL: 'mysql://u:p@db:3306/gw',
      ADMIN_API_KEY: 'k'.repeat(32),
    });
    expect(c.KASPI_ALLOWED_IPS).toBe('194.187.247.152/32');
    expect(c.LOG_FORMAT).toBe('json');
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ DATABASE_URL: 'postgres://x' }, 'DATABASE_URL'],
    [{ PAY_MIN_SUM: '1.5.0' }, 'PAY_MIN_SUM'],
    [{ ACCOUNT_REGEX: '([' }, 'ACCOUNT_REGEX'],
    [{ BILLING_ADAPTER: 'http' }, 'BILLING_URL'],
    [{ REQUEST_LOG_RETENTION_DAYS: '7' }, 'REQUEST_LOG_RETENTION_DAYS'],
    [{ PAY_MIN_SUM: '10.00', PAY_MAX_SUM: '5.00' }, 'PAY_MIN_SUM'],
  ])('when %p is set, then the start is refused naming %s', (env, key) => {
    expect(() => load(env)).toThrow(new RegExp(key));
  });
});
