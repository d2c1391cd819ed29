import { ConfigError, jetpayEnabled, loadConfig } from '../../src/config/config.js';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { captureLogs, JETPAY_CONFIG, verify } from '../support/jetpay.js';

const PRODUCTION = {
  NODE_ENV: 'production',
  DATABASE_URL: 'mysql://gw:pw@db:3306/gw',
  ADMIN_API_KEY: 'admin-key-0123456789abcdef',
} as const;
const load = (overrides: Record<string, string | boolean>) =>
  loadConfig({ env: {}, configDir: '/nonexistent', overrides });

describe('JetPay settings', () => {
  it('when production has no JetPay settings, then it starts with JetPay off', () => {
    expect(jetpayEnabled(load({ ...PRODUCTION }))).toBe(false);
  });

  it('when production has both JetPay settings, then JetPay is on', () => {
    expect(jetpayEnabled(load({ ...PRODUCTION, ...JETPAY_CONFIG }))).toBe(true);
  });

  it('when only one of JETPAY_PROJECT_ID / JETPAY_SECRET is set, then the start is refused', () => {
    expect(() => load({ ...PRODUCTION, JETPAY_PROJECT_ID: '4321' })).toThrow(ConfigError);
    expect(() => load({ NODE_ENV: 'development', JETPAY_SECRET: 'abc' })).toThrow(/set both/);
  });

  it('when JETPAY_PROJECT_ID is not digits, then the start is refused', () => {
    expect(() => load({ NODE_ENV: 'development', JETPAY_PROJECT_ID: 'abc', JETPAY_SECRET: 'x' })).toThrow(
      /JETPAY_PROJECT_ID/,
    );
  });

  it('when signature checks are turned off in production, then the start is refused; in development it is allowed', () => {
    expect(() => load({ ...PRODUCTION, ...JETPAY_CONFIG, JETPAY_SKIP_SIGNATURE: 'true' })).toThrow(
      /JETPAY_SKIP_SIGNATURE: never in production/,
    );
    expect(
      load({ NODE_ENV: 'development', ...JETPAY_CONFIG, JETPAY_SKIP_SIGNATURE: 'true' })
        .JETPAY_SKIP_SIGNATURE,
    ).toBe(true);
  });
});

describe.each(dbKinds)('[%s] JetPay off', (kind) => {
  let t: TestGateway;
  beforeAll(async () => {
    captureLogs();
    t = await startTestGateway(kind);
  });
  afterAll(() => t.close());

  it('when JetPay is not configured, then its paths are plain 404s', async () => {
    const r = await verify(t.api(), '7000000001');
    expect(r.status).toBe(404);
    expect((await t.api().post('/jetpay/callback').send('{}')).status).toBe(404);
  });
});
