import type { DbKind, TestDatabase } from './databases.js';
import { startFakeKaspiQr, type FakeKaspiQr, type Scheme } from './fake-kaspi-qr.js';
import { startTestGateway, type ConfigOverrides, type TestGateway } from './gateway.js';
import { testCerts, type TestCerts } from './test-ca.js';

export const QR_API_KEY = 'test_5f1c9a7e-api-key-0001';
export const QR_BIN = '180340021791';
export const QR_DEVICE_TOKEN = '2be4cc91-5895-48f8-8bc2-000000000321';
export const ADMIN = { Authorization: 'Bearer test-admin-key-0123456789' };

/** The KASPI_QR_* settings that point a gateway at a fake of the given scheme. */
export function kaspiQrConfig(
  fake: FakeKaspiQr,
  certs: TestCerts,
  more: ConfigOverrides = {},
): ConfigOverrides {
  const scheme = fake.opts.scheme;
  return {
    KASPI_QR_SCHEME: scheme,
    KASPI_QR_BASE_URL: fake.baseUrl,
    KASPI_QR_CA_FILE: certs.caFile,
    KASPI_QR_TIMEOUT_MS: 2000,
    KASPI_QR_DEADLINE_GRACE_MS: 0,
    KASPI_QR_LATE_CHECKS: '2m,10m',
    KASPI_QR_DEVICE_TOKEN: QR_DEVICE_TOKEN,
    KASPI_QR_TEST_MODE: true,
    ...(scheme === 'r1'
      ? { KASPI_QR_API_KEY: QR_API_KEY }
      : {
          KASPI_QR_CERT_FILE: certs.clientCert,
          KASPI_QR_KEY_FILE: certs.clientKey,
          KASPI_QR_KEY_PASSPHRASE: certs.passphrase,
        }),
    ...(scheme === 'r3' ? { KASPI_QR_ORGANIZATION_BIN: QR_BIN } : {}),
    ...more,
  };
}

export interface QrSetup {
  certs: TestCerts;
  fake: FakeKaspiQr;
  t: TestGateway;
}

/** A fake Kaspi QR and a gateway on a fresh database pointed at it, with an account to pay into. */
export async function startQrGateway(
  kind: DbKind,
  scheme: Scheme = 'r1',
  more: ConfigOverrides = {},
  database?: TestDatabase,
  fake?: FakeKaspiQr,
): Promise<QrSetup> {
  const certs = testCerts();
  const f = fake ?? (await startFakeKaspiQr({ scheme, certs, apiKey: QR_API_KEY }));
  const t = await startTestGateway(kind, kaspiQrConfig(f, certs, more), {}, database);
  if (!(await t.gateway.stores.accounts.getAccount('QR-1')))
    await t.gateway.stores.accounts.addAccount({ account: 'QR-1', name: 'Payer', balance: 0 });
  return { certs, fake: f, t };
}

export const later = (ms: number, from = Date.now()) => new Date(from + ms);
