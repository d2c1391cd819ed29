import { AwaitingPayments } from '../../src/payments/awaiting-payments.js';
import { PaymentFlags } from '../../src/payments/payment-flags.js';
import type { DbKind, TestDatabase } from './databases.js';
import { startFakeKaspiQr, type FakeKaspiQr, type Scheme } from './fake-kaspi-qr.js';
import { installReturns, type FakeReturns } from './fake-kaspi-qr-returns.js';
import { startTestGateway, type ConfigOverrides, type TestGateway } from './gateway.js';
import { testCerts, type TestCerts } from './test-ca.js';

export const RET_API_KEY = 'test_5f1c9a7e-api-key-0002';
export const RET_BIN = '180340021791';
export const RET_DEVICE_TOKEN = '2be4cc91-5895-48f8-8bc2-000000000777';
export const AUTH = { Authorization: 'Bearer test-admin-key-0123456789' };

/** KASPI_QR_* settings pointing a gateway at a fake of the fake's scheme. */
export function returnsConfig(
  fake: FakeKaspiQr,
  certs: TestCerts,
  more: ConfigOverrides = {},
): ConfigOverrides {
  const scheme = fake.opts.scheme;
  return {
    KASPI_QR_SCHEME: scheme,
    KASPI_QR_BASE_URL: fake.baseUrl,
    KASPI_QR_CA_FILE: certs.caFile,
    KASPI_QR_TIMEOUT_MS: 3000,
    KASPI_QR_DEVICE_TOKEN: RET_DEVICE_TOKEN,
    ...(scheme === 'r1'
      ? { KASPI_QR_API_KEY: RET_API_KEY }
      : {
          KASPI_QR_CERT_FILE: certs.clientCert,
          KASPI_QR_KEY_FILE: certs.clientKey,
          KASPI_QR_KEY_PASSPHRASE: certs.passphrase,
        }),
    ...(scheme === 'r3' ? { KASPI_QR_ORGANIZATION_BIN: RET_BIN } : {}),
    ...more,
  };
}

export interface ReturnsSetup {
  certs: TestCerts;
  fake: FakeKaspiQr;
  kaspi: FakeReturns;
  t: TestGateway;
}

export async function startFakeWithReturns(
  scheme: Scheme,
): Promise<{ fake: FakeKaspiQr; kaspi: FakeReturns; certs: TestCerts }> {
  const certs = testCerts();
  const fake = await startFakeKaspiQr({ scheme, certs, apiKey: RET_API_KEY });
  return { fake, kaspi: installReturns(fake), certs };
}

/** A fake Kaspi QR (with returns) and a gateway on a fresh (or the given) database pointed at it. */
export async function startReturnsGateway(
  kind: DbKind,
  scheme: Scheme,
  more: ConfigOverrides = {},
  database?: TestDatabase,
  existing?: { fake: FakeKaspiQr; kaspi: FakeReturns; certs: TestCerts },
): Promise<ReturnsSetup> {
  const f = existing ?? (await startFakeWithReturns(scheme));
  const t = await startTestGateway(kind, returnsConfig(f.fake, f.certs, more), {}, database);
  return { ...f, t };
}

let seq = 0n;
let accountSeq = 0;

/**
 * A Kaspi QR purchase paid at the fake and credited here, as the status engine leaves it: a
 * `kaspi_qr` payment recorded awaiting_payment and credited through creditStored, on an account of
 * its own. Returns the QrPaymentId (above 2^53) and the account.
 */
export async function paidQrPurchase(
  s: { t: TestGateway; kaspi: FakeReturns },
  tiyn: number,
): Promise<{ txnId: string; account: string; paymentId: string }> {
  const g = s.t.gateway;
  accountSeq += 1;
  const account = `QRR${process.pid}${accountSeq}${Math.floor(Math.random() * 1e6)}`;
  await g.stores.accounts.addAccount({ account, name: 'QR Payer', balance: 0 });
  seq += 1n;
  const txnId = String(
    9_100_000_000_000_000_000n +
      BigInt(process.pid) * 1_000_000n +
      seq * 97n +
      BigInt(Math.floor(Math.random() * 90)),
  );
  const awaiting = new AwaitingPayments(g.stores.payments, new PaymentFlags(g.db));
  const id = await g.db.knex.transaction((trx) =>
    awaiting.record(trx, { source: 'kaspi_qr', txnId, account, amount: tiyn }),
  );
  await g.services.payments.creditStored(id, ['awaiting_payment']);
  const p = await g.stores.payments.findById(id);
  if (p?.state !== 'credited') throw new Error(`credit failed: ${p?.state ?? 'no row'}`);
  s.kaspi.purchase(txnId, tiyn);
  return { txnId, account, paymentId: id };
}

export async function qrLog(t: TestGateway): Promise<Record<string, unknown>[]> {
  await t.gateway.stores.requestLog.flush();
  return t.gateway.db.knex('request_log').where({ channel: 'kaspi_qr' }).orderBy('id');
}
