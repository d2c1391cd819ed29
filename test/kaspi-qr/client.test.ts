import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isLosslessNumber } from 'lossless-json';
import { ConfigError } from '../../src/config/config.js';
import {
  createPurchase,
  purchaseStatus,
  registerDevice,
  tradePoints,
} from '../../src/kaspi-qr/kaspi-qr-calls.js';
import {
  KaspiQrClient,
  readEnvelope,
  type KaspiQrClientOptions,
} from '../../src/kaspi-qr/kaspi-qr-client.js';
import { knownCodes, meaningOf } from '../../src/kaspi-qr/kaspi-qr-codes.js';
import {
  KaspiQrApiError,
  KaspiQrTransportError,
  NotSupportedBySchemeError,
} from '../../src/kaspi-qr/kaspi-qr-errors.js';
import { METHODS, type MethodName } from '../../src/kaspi-qr/kaspi-qr-methods.js';
import { parseKaspiDate, readAmount, wireAmount } from '../../src/kaspi-qr/kaspi-qr-wire.js';
import { FakeKaspiQr, startFakeKaspiQr } from '../support/fake-kaspi-qr.js';
import { testCerts, type TestCerts } from '../support/test-ca.js';

let certs: TestCerts;
const API_KEY = 'test_5f1c9a7e-api-key-0001';
const BIN = '180340021791';

function client(fake: FakeKaspiQr, extra: Partial<KaspiQrClientOptions> = {}): KaspiQrClient {
  const scheme = fake.opts.scheme;
  return new KaspiQrClient({
    scheme,
    baseUrl: fake.baseUrl,
    caFile: certs.caFile,
    timeoutMs: 2000,
    testMode: true,
    retryBaseMs: 20,
    ...(scheme === 'r1'
      ? { apiKey: API_KEY }
      : { certFile: certs.clientCert, keyFile: certs.clientKey, passphrase: certs.passphrase }),
    ...(scheme === 'r3' ? { organizationBin: BIN } : {}),
    ...extra,
  });
}

beforeAll(() => {
  certs = testCerts();
});

describe('when the client talks to Kaspi QR r1 (Api-Key)', () => {
  let fake: FakeKaspiQr;
  let c: KaspiQrClient;
  beforeAll(async () => {
    fake = await startFakeKaspiQr({ scheme: 'r1', certs, apiKey: API_KEY });
    c = client(fake);
  });
  afterAll(async () => {
    c.close();
    await fake.stop();
  });

  it('then a QR purchase is created with the exact path, body types and headers', async () => {
    const p = await createPurchase(c, 'qr', {
      deviceToken: '2be4cc91-5895-48f8-8bc2-86c7bd419b3b',
      amount: 150050,
      externalId: 'a1',
    });
    const rec = fake.calls('qrCreate').at(-1)!;
    expect(rec.verb).toBe('POST');
    expect(rec.path).toBe('/qr/create');
    expect(rec.headers['api-key']).toBe(API_KEY);
    expect(rec.headers['content-type']).toBe('application/json');
    expect(rec.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(rec.raw).toContain('"Amount":1500.5');
    expect(rec.raw).toContain('"DeviceToken":"2be4cc91-5895-48f8-8bc2-86c7bd419b3b"');
    expect(rec.json).not.toHaveProperty('OrganizationBin');
    // Above 2^53: kept digit for digit.
    expect(BigInt(p.qrPaymentId)).toBeGreaterThan(2n ** 53n);
    expect(fake.purchases.has(p.qrPaymentId)).toBe(true);
    expect(p.qrToken).toMatch(/^\d{41}$/);
    expect(p).toMatchObject({
      pollIntervalS: 1,
      scanTimeoutS: 180,
      confirmTimeoutS: 65,
      paymentMethods: ['Gold', 'Red', 'Loan'],
    });
    expect(p.expireDate?.at?.toISOString()).toBe('2020-08-09T12:31:42.000Z');
    expect(await purchaseStatus(c, p.qrPaymentId)).toBe('QrTokenCreated');
    expect(fake.calls('paymentStatus').at(-1)!.path).toBe(`/payment/status/${p.qrPaymentId}`);
  });

  it('then a link purchase reads PaymentId and LinkActivationWaitTimeout', async () => {
    const p = await createPurchase(c, 'link', { deviceToken: 'tok', amount: 20000, externalId: 'a2' });
    expect(fake.calls('linkCreate').at(-1)!.raw).toContain('"Amount":200');
    expect(p.paymentLink).toBe(`https://pay.kaspi.kz/pay/${p.qrPaymentId}`);
    expect(p.scanTimeoutS).toBe(180);
  });

  it('then a method r1 lacks is refused with not_supported_by_scheme before any request', async () => {
    const before = fake.requests.length;
    await expect(
      c.call('paymentReturn', { deviceToken: 't', qrPaymentId: '1', amount: 100 }),
    ).rejects.toMatchObject({
      code: 'not_supported_by_scheme',
      httpStatus: 409,
    });
    await expect(c.call('paymentDetails', { deviceToken: 't', qrPaymentId: '1' })).rejects.toBeInstanceOf(
      NotSupportedBySchemeError,
    );
    await expect(c.call('remoteCreate', {})).rejects.toBeInstanceOf(NotSupportedBySchemeError);
    try {
      await c.call('paymentReturn', {});
    } catch (e) {
      expect((e as Error).message).toContain('Kaspi Pay app');
    }
    expect(fake.requests.length).toBe(before);
  });

  it('then a GET is retried on -999, 5xx and garbage with a fresh X-Request-ID each attempt', async () => {
    fake.fault('healthPing', { statusCode: -999 });
    fake.fault('healthPing', { http: 502 });
    const before = fake.calls('healthPing').length;
    await c.call('healthPing');
    const attempts = fake.calls('healthPing').slice(before);
    expect(attempts).toHaveLength(3);
    const ids = new Set(attempts.map((a) => a.headers['x-request-id']));
    expect(ids.size).toBe(3);
    fake.fault('healthPing', { garbage: 'not json', times: 3 });
    await expect(c.call('healthPing')).rejects.toMatchObject({ reason: 'garbage' });
  });

  it('then a POST whose answer was lost is not sent again and its outcome is unknown', async () => {
    fake.fault('qrCreate', { reset: 'after' });
    const before = fake.calls('qrCreate').length;
    const n = fake.purchases.size;
    const e = await createPurchase(c, 'qr', { deviceToken: 't', amount: 100, externalId: 'x' }).catch(
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(KaspiQrTransportError);
    expect((e as KaspiQrTransportError).sent).toBe('maybe');
    expect(fake.calls('qrCreate').length - before).toBe(1);
    expect(fake.purchases.size).toBe(n + 1); // the fake did create it: only a status read could tell
    fake.fault('qrCreate', { http: 500 });
    await expect(
      createPurchase(c, 'qr', { deviceToken: 't', amount: 100, externalId: 'y' }),
    ).rejects.toMatchObject({ sent: 'maybe' });
    expect(fake.calls('qrCreate').length - before).toBe(2);
  });

  it('then a Kaspi error carries its code, message and kind, and is not retried', async () => {
    fake.fault('qrCreate', { statusCode: 9900000028, message: 'Неверная сумма' });
    const e = (await createPurchase(c, 'qr', { deviceToken: 't', amount: 100, externalId: 'z' }).catch(
      (x: unknown) => x,
    )) as KaspiQrApiError;
    expect(e).toBeInstanceOf(KaspiQrApiError);
    expect(e).toMatchObject({
      kaspiCode: 9900000028,
      kaspiMessage: 'Неверная сумма',
      kind: 'invalid_amount',
      httpStatus: 502,
    });
  });

  it('then a refused connection is retried (it never left), and reported as such', async () => {
    const port = fake.port;
    await fake.stop();
    const fresh = client(fake); // no pooled socket: a stale one would be a reset, whose outcome is unknown
    try {
      const started = Date.now();
      const e = (await fresh
        .call('qrCreate', { deviceToken: 't', amount: 100 })
        .catch((x: unknown) => x)) as KaspiQrTransportError;
      expect(e).toMatchObject({ reason: 'refused', sent: 'no' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(20); // two pauses between three attempts
    } finally {
      fresh.close();
      await fake.start(port);
    }
  });

  it('then the test emulation is refused without KASPI_QR_TEST_MODE', async () => {
    const off = client(fake, { testMode: false });
    await expect(off.call('testScan', { qrPaymentId: '1' })).rejects.toBeInstanceOf(
      NotSupportedBySchemeError,
    );
    off.close();
  });

  it('then a wrong Api-Key comes back as auth_config (-10000)', async () => {
    const bad = client(fake, { apiKey: 'test_wrong-key-000' });
    await expect(bad.call('healthPing')).rejects.toMatchObject({ kind: 'auth_config', kaspiCode: -10000 });
    bad.close();
  });
});

describe('when the client talks to Kaspi QR r3 (mutual TLS, BIN)', () => {
  let fake: FakeKaspiQr;
  let c: KaspiQrClient;
  beforeAll(async () => {
    fake = await startFakeKaspiQr({ scheme: 'r3', certs });
    c = client(fake);
  });
  afterAll(async () => {
    c.close();
    await fake.stop();
  });

  it('then the BIN goes in the path of tradepoints and in the body of POSTs, never an Api-Key', async () => {
    const tps = await tradePoints(c);
    expect(tps).toEqual([{ tradePointId: '12', name: 'Shop on Abay' }]);
    expect(fake.calls('tradePoints').at(-1)!.path).toBe(`/partner/tradepoints/${BIN}`);
    const token = await registerDevice(c, 'GFC-456397', '12');
    expect(token).toMatch(/^2be4cc91-/);
    const reg = fake.calls('deviceRegister').at(-1)!;
    expect(reg.json).toMatchObject({ DeviceId: 'GFC-456397', OrganizationBin: BIN });
    expect(isLosslessNumber(reg.json!.TradePointId)).toBe(true);
    expect(reg.headers['api-key']).toBeUndefined();
    expect(reg.clientCert).not.toBeNull();
    const p = await createPurchase(c, 'qr', { deviceToken: token, amount: 1, externalId: 'e' });
    expect(fake.calls('qrCreate').at(-1)!.raw).toContain('"Amount":0.01');
    await purchaseStatus(c, p.qrPaymentId);
    expect(fake.calls('paymentStatus').at(-1)!.raw).toBe('');
    await c.call('paymentDetails', { qrPaymentId: p.qrPaymentId, deviceToken: token }).catch(() => undefined);
    expect(fake.requests.at(-1)!.path).toBe(
      `/payment/details?QrPaymentId=${p.qrPaymentId}&DeviceToken=${token}`,
    );
    await c.call('testScan', { qrPaymentId: p.qrPaymentId });
    const scan = fake.calls('testScan').at(-1)!;
    expect(scan.raw).toBe(`{"qrPaymentId":"${p.qrPaymentId}"}`);
    expect(await purchaseStatus(c, p.qrPaymentId)).toBe('Wait');
  });

  it('then a modern PFX authenticates as well', async () => {
    const pfx = client(fake, { certFile: undefined, keyFile: undefined, pfxFile: certs.clientPfx });
    await pfx.call('healthPing');
    expect(pfx.certificate?.subject).toContain('Test Partner');
    pfx.close();
  });

  it('then a client certificate of a foreign CA is refused in the handshake (nothing sent)', async () => {
    const foreign = client(fake, {
      certFile: certs.foreignClientCert,
      keyFile: certs.foreignClientKey,
      passphrase: undefined,
    });
    const before = fake.requests.length;
    const e = (await foreign
      .call('qrCreate', { deviceToken: 't', amount: 100 })
      .catch((x: unknown) => x)) as KaspiQrTransportError;
    expect(e).toBeInstanceOf(KaspiQrTransportError);
    expect(e).toMatchObject({ reason: 'tls', sent: 'no', code: 'kaspi_tls_failed' });
    expect(fake.requests.length).toBe(before);
    foreign.close();
  });

  it('then a server certificate we do not trust is refused', async () => {
    const rogue = await startFakeKaspiQr({
      scheme: 'r3',
      certs,
      serverCert: { cert: certs.foreignServerCert, key: certs.foreignServerKey },
    });
    const c2 = client(rogue);
    await expect(c2.call('healthPing')).rejects.toMatchObject({ reason: 'tls', sent: 'no' });
    expect(rogue.requests).toHaveLength(0);
    c2.close();
    await rogue.stop();
  });

  it('then a missing client certificate is answered -10000 by a server that does not refuse the handshake', async () => {
    const lax = await startFakeKaspiQr({ scheme: 'r3', certs, clientAuth: 'status' });
    const none = new KaspiQrClient({
      scheme: 'r1',
      baseUrl: lax.baseUrl,
      caFile: certs.caFile,
      timeoutMs: 2000,
      testMode: false,
    });
    await expect(none.call('healthPing')).rejects.toMatchObject({ kind: 'auth_config' });
    none.close();
    await lax.stop();
  });

  it('then the files are re-read on reload and the next call presents the new certificate', async () => {
    const first = fake.calls('healthPing').length;
    await c.call('healthPing');
    const before = fake.calls('healthPing')[first]!.clientCert;
    const fresh = certs.newClient('rotated', 200);
    const opts = (c as unknown as { opts: KaspiQrClientOptions }).opts;
    const saved = { ...opts };
    Object.assign(opts, { certFile: fresh.cert, keyFile: fresh.key });
    try {
      const info = c.reload();
      expect(info?.subject).toContain('rotated');
      await c.call('healthPing');
      expect(fake.calls('healthPing').at(-1)!.clientCert).not.toBe(before);
    } finally {
      Object.assign(opts, saved);
      c.reload();
    }
  });

  it('then a wrong passphrase, a missing file and a legacy PFX are start-up errors that name the setting', () => {
    expect(() => client(fake, { passphrase: 'wrong-one' })).toThrow(/KASPI_QR_KEY_PASSPHRASE/);
    expect(() => client(fake, { keyFile: '/nonexistent/key.pem' })).toThrow(ConfigError);
    if (certs.legacyPfx) {
      expect(() =>
        client(fake, { certFile: undefined, keyFile: undefined, pfxFile: certs.legacyPfx! }),
      ).toThrow(/openssl pkcs12 -legacy/);
    }
    try {
      client(fake, { passphrase: 'wrong-one' });
    } catch (e) {
      expect((e as Error).message).not.toContain('wrong-one');
    }
  });
});

describe('when the wire values are read and written', () => {
  it('then amounts go out from integer tiyn with no float artefact and come back exactly', () => {
    const cases: [number, string][] = [
      [1, '0.01'],
      [10, '0.1'],
      [19999, '199.99'],
      [123456, '1234.56'],
      [20000, '200'],
      [150050, '1500.5'],
    ];
    for (const [tiyn, text] of cases) {
      expect(wireAmount(tiyn).value).toBe(text);
      expect(readAmount(wireAmount(tiyn), 'Amount')).toBe(tiyn);
    }
    const env = readEnvelope('{"StatusCode":0,"Data":{"TotalAmount":200.00,"Big":1.5E3}}')!;
    const d = env.Data as Record<string, unknown>;
    expect(readAmount(d.TotalAmount, 'TotalAmount')).toBe(20000);
    expect(readAmount(d.Big, 'Big')).toBe(150000);
    expect(() => readAmount(readEnvelope('{"StatusCode":0,"Data":1.005}')!.Data, 'x')).toThrow(
      /whole number of tiyn/,
    );
    expect(() => wireAmount(0)).toThrow();
    expect(() => wireAmount(1.5)).toThrow();
  });

  it('then the envelope is success with or without Message and Data, and anything else is not an envelope', () => {
    expect(readEnvelope('{"StatusCode":0}')).toEqual({ StatusCode: 0, Message: undefined, Data: undefined });
    expect(readEnvelope('{"Data":{"a":1},"StatusCode":0}')?.StatusCode).toBe(0);
    expect(readEnvelope('{"StatusCode":0,"message":"OK"}')?.Message).toBe('OK');
    expect(readEnvelope('<html>')).toBeNull();
    expect(readEnvelope('{"Message":"x"}')).toBeNull();
    expect(readEnvelope('[1]')).toBeNull();
  });

  it('then every StatusCode variant of the guide maps to its kind', () => {
    const expected: Record<string, number[]> = {
      kaspi_unavailable: [-999],
      auth_config: [-10000],
      device_config: [-1501, -1502],
      device_conflict: [-1503],
      not_found: [-1601, -990000001, -99000001],
      merchant_config: [
        -14000002, -99000002, -990000002, 990000018, 9900000018, 990000026, 9900000026, 990000033, 9900000033,
        99000033,
      ],
      refund_exceeds_available: [-99000005, -990000005],
      refund_retryable: [-99000006, -990000006],
      invalid_amount: [990000028, 9900000028],
      device_mismatch: [-990000003],
      refund_not_allowed_state: [-990000011],
      partial_refund_not_allowed: [-990000020],
      kaspi_error: [-1401, -1404, 99000010, 9900000029, 9900000031, 9900000032, 990000032, 12345],
    };
    for (const [kind, codes] of Object.entries(expected))
      for (const code of codes) expect([code, meaningOf(code).kind]).toEqual([code, kind]);
    expect(knownCodes().length).toBeGreaterThanOrEqual(27);
    expect(meaningOf(-999).retryable).toBe(true);
    expect(meaningOf(-10000).retryable).toBe(false);
  });

  it('then dates in every form of the guide are read, no offset as Kazakhstan time, garbage without a throw', () => {
    expect(parseKaspiDate('2020-08-09T18:31:42+06')?.at?.toISOString()).toBe('2020-08-09T12:31:42.000Z');
    expect(parseKaspiDate('2021-11-3T11:55:14.166+06:00')?.at?.toISOString()).toBe(
      '2021-11-03T05:55:14.166Z',
    );
    const local = parseKaspiDate('2021-12-08T11:35:48.1566667')!;
    expect(local.offsetAssumed).toBe(true);
    expect(local.at?.toISOString()).toBe('2021-12-08T05:35:48.156Z'); // +06 then
    expect(parseKaspiDate('2025-01-08T11:35:48')?.at?.toISOString()).toBe('2025-01-08T06:35:48.000Z'); // +05 since 2024-03
    expect(parseKaspiDate('2020-01-16T10:30:00Z')?.at?.toISOString()).toBe('2020-01-16T10:30:00.000Z');
    expect(parseKaspiDate('tomorrow')).toEqual({ raw: 'tomorrow', at: null, offsetAssumed: false });
    expect(parseKaspiDate('2021-02-30T10:00:00')?.at).toBeNull();
    expect(parseKaspiDate(12)).toBeNull();
  });

  it('then the method table names a verb, a path and schemes for all twenty methods', () => {
    const names = Object.keys(METHODS) as MethodName[];
    expect(names.length).toBeGreaterThanOrEqual(20);
    for (const n of names) expect(METHODS[n].schemes.length).toBeGreaterThan(0);
  });
});
