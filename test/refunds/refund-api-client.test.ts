import { RefundApiClient, RefundApiError } from '../../src/refunds/refund-api-client.js';
import { RefundTokenStore } from '../../src/refunds/refund-token-store.js';
import { dbKinds } from '../support/databases.js';
import { FakeRefundApi } from '../support/fake-refund-api.js';
import type { TestGateway } from '../support/gateway.js';
import { refundApiLog, startRefundGateway } from '../support/refunds.js';

const BIG_ID = '912345678901234567'; // above 2^53

describe.each(dbKinds)('[%s] Refund API client', (kind) => {
  let fake: FakeRefundApi;
  let t: TestGateway;
  let seq = 0;
  const request = (paymentId = BIG_ID) => {
    seq += 1;
    return {
      paymentId,
      returnAmount: 100,
      refundIdentificator: `client-test-${process.pid}-${seq}`,
      reason: 'test',
    };
  };

  beforeAll(async () => {
    fake = new FakeRefundApi();
    await fake.start();
    t = await startRefundGateway(kind, fake);
  });
  afterAll(async () => {
    await t.close();
    await fake.stop();
  });
  const client = () => t.gateway.services.refundApi as RefundApiClient;

  it('when a refund is filed, then the token header is sent and PaymentId arrives digit for digit', async () => {
    const a = await client().refundRequest(request());
    expect(a).toMatchObject({ httpStatus: 200, statusCode: 0, errorCode: null });
    expect(a.requestIdentificator).toMatch(/^[0-9a-f-]{36}$/);
    const got = fake.received.at(-1);
    expect(got?.paymentId).toBe(BIG_ID);
    expect(got?.rawBody).toContain(`"PaymentId":${BIG_ID},"ReturnAmount":100,`);
    expect(got?.token).toBe(fake.activeToken);
  });

  it('when Kaspi answers 401 once, then one new token is taken and the call repeated once', async () => {
    await client().refundRequest(request());
    const tokensBefore = fake.calls.GetToken;
    const callsBefore = fake.calls.RefundRequest;
    fake.inject(401);
    const a = await client().refundRequest(request());
    expect(a.statusCode).toBe(0);
    expect(fake.calls.GetToken).toBe(tokensBefore + 1);
    expect(fake.calls.RefundRequest).toBe(callsBefore + 2);
  });

  it('when Kaspi answers 403 once, then the same: a new token and one repeat', async () => {
    const tokensBefore = fake.calls.GetToken;
    fake.inject(403);
    const a = await client().refundStatus(
      (await client().refundRequest(request())).requestIdentificator as string,
    );
    expect(a.statusCode).toBe(2);
    expect(fake.calls.GetToken).toBe(tokensBefore + 1);
  });

  it('when Kaspi refuses the fresh token too, then the call fails after one repeat, not in a loop', async () => {
    const tokensBefore = fake.calls.GetToken;
    const callsBefore = fake.calls.RefundStatus;
    fake.inject(401, 403);
    await expect(client().refundStatus('whatever')).rejects.toMatchObject({
      failure: 'auth',
      transient: true,
    });
    expect(fake.calls.GetToken).toBe(tokensBefore + 1);
    expect(fake.calls.RefundStatus).toBe(callsBefore + 2);
  });

  it('when the answer is garbage, a 500 or an HTML page, then a typed transient error', async () => {
    fake.inject('garbage');
    await expect(client().refundStatus('x')).rejects.toMatchObject({
      failure: 'malformed',
      transient: true,
      outcomeUnknown: true,
    });
    fake.inject(500);
    await expect(client().refundStatus('x')).rejects.toMatchObject({
      failure: 'http',
      transient: true,
      upstreamStatus: 500,
    });
    fake.inject('html');
    await expect(client().refundStatus('x')).rejects.toMatchObject({ failure: 'http', upstreamStatus: 502 });
  });

  it('when the connection is closed after the request is applied, then the outcome is reported unknown', async () => {
    const r = request();
    fake.inject('drop');
    const err = (await client()
      .refundRequest(r)
      .catch((e: unknown) => e)) as RefundApiError;
    expect(err).toBeInstanceOf(RefundApiError);
    expect(err).toMatchObject({ failure: 'connection', transient: true, outcomeUnknown: true });
    expect(fake.filed(r.refundIdentificator)).toBeDefined();
    // The repeat with the same identificator: Kaspi's error 4 with the identificator to poll.
    const again = await client().refundRequest(r);
    expect(again).toMatchObject({ statusCode: 1, errorCode: 4 });
    expect(again.requestIdentificator).toBe(fake.filed(r.refundIdentificator)?.rid);
  });

  it('when Kaspi is slower than REFUND_API_TIMEOUT_MS, then a timeout with the outcome unknown', async () => {
    const slow = new RefundApiClient(
      { baseUrl: fake.url, login: fake.login, password: fake.password, timeoutMs: 150 },
      t.gateway.stores.requestLog,
      t.gateway.services.refundTokens as RefundTokenStore,
    );
    fake.refundDelayMs = 600;
    try {
      await expect(slow.refundStatus('x')).rejects.toMatchObject({
        failure: 'timeout',
        outcomeUnknown: true,
      });
    } finally {
      fake.refundDelayMs = 0;
    }
  });

  it('when CheckToken is asked, then the active token is valid and a replaced one is not', async () => {
    const lease = await (t.gateway.services.refundTokens as RefundTokenStore).current();
    const ok = await client().checkToken(lease.token);
    expect(ok.valid).toBe(true);
    expect(ok.validTo?.getTime()).toBeGreaterThan(Date.now());
    await client().getToken(); // a new token kills the old one
    expect(await client().checkToken(lease.token)).toEqual({ valid: false, validTo: null });
  });

  it('when the login is refused, then GetToken fails as a permanent auth error', async () => {
    const wrong = new RefundApiClient(
      { baseUrl: fake.url, login: fake.login, password: 'wrong-password', timeoutMs: 1000 },
      t.gateway.stores.requestLog,
      t.gateway.services.refundTokens as RefundTokenStore,
    );
    await expect(wrong.getToken()).rejects.toMatchObject({ failure: 'auth', transient: false });
  });

  it('when calls were made, then each is in the request log with the token and password masked', async () => {
    const rows = await refundApiLog(t.gateway);
    const commands = new Set(rows.map((r) => r.command));
    for (const c of ['GetToken', 'CheckToken', 'RefundRequest', 'RefundStatus'])
      expect(commands).toContain(c);
    const all = JSON.stringify(rows);
    for (const token of fake.issued) expect(all).not.toContain(token);
    expect(all).not.toContain(fake.password);
    expect(all).not.toContain('wrong-password');
    const filed = rows.find((r) => r.command === 'RefundRequest' && r.http_status === 200);
    expect(filed?.request).toContain(`"PaymentId":${BIG_ID}`);
    expect(filed?.txn_id).toBe(BIG_ID);
    expect(String(filed?.response)).toContain('statusCode');
    const dropped = rows.find((r) => String(r.comment).startsWith('no answer'));
    expect(dropped).toBeDefined();
  });
});
