import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import {
  callback,
  callbackFields,
  captureLogs,
  checkDeposit,
  gateSignature,
  JETPAY_CONFIG,
  jsonText,
  postJetpay,
  PROJECT_ID,
  Raw,
  seen,
  signedText,
  switchableBilling,
  type SwitchableBilling,
  type Value,
} from '../support/jetpay.js';

describe.each(dbKinds)('[%s] JetPay callback', (kind) => {
  let t: TestGateway;
  let billing: SwitchableBilling;
  let logs: ReturnType<typeof captureLogs>;
  let accountSeq = 0;

  beforeAll(async () => {
    logs = captureLogs();
    const sw = switchableBilling();
    t = await startTestGateway(kind, { ...JETPAY_CONFIG, PAY_MIN_SUM: '1.00' }, sw.overrides);
    billing = sw.holder.billing as SwitchableBilling;
  });
  afterAll(() => t.close());

  /** A fresh account and a deposit into it awaiting its callback. */
  async function deposit(amount = 10000): Promise<{ account: string; paymentId: string }> {
    accountSeq += 1;
    const account = `74${String(accountSeq).padStart(8, '0')}`;
    await t.gateway.stores.accounts.addAccount({ account, name: 'Ivan Petrov', balance: 0 });
    const r = await checkDeposit(t.api(), account, account, new Raw(String(amount)));
    expect(r.body.code).toBe(0);
    return { account, paymentId: String(r.body.payment_id) };
  }

  const balance = async (account: string) => (await t.gateway.stores.accounts.getAccount(account))?.balance;
  const payment = async (paymentId: string) =>
    t.gateway.db.knex('payments').where({ source: 'jetpay', txn_id: paymentId }).first();
  const ledgerLines = async (paymentId: string) => {
    const p = await payment(paymentId);
    return t.gateway.db.knex('account_ledger').where({ payment_id: p.id });
  };
  const errorsFor = (paymentId: string, flag: string) =>
    logs.lines.filter((l) => l.level === 'error' && l.paymentId === paymentId && l.flag === flag);

  it('when a success callback comes, then the account is credited once through the payment path and 0 answered', async () => {
    const { account, paymentId } = await deposit(10000);
    const r = await callback(t.api(), callbackFields(paymentId, 'success', new Raw('10000')));
    expect(seen(r)).toEqual({ http: 200, code: 0 });
    expect(await balance(account)).toBe(10000);
    const p = await payment(paymentId);
    expect(p).toMatchObject({ state: 'credited', result: 0, flag: null });
    expect(p.credited_at).not.toBeNull();
    const ledger = await ledgerLines(paymentId);
    expect(ledger).toHaveLength(1);
    expect(Number(ledger[0].amount)).toBe(10000);
  });

  it('when the same success callback is replayed, then 0 is answered and nothing changes', async () => {
    const { account, paymentId } = await deposit(20000);
    const text = signedText(callbackFields(paymentId, 'success', new Raw('20000')));
    for (let i = 0; i < 3; i++)
      expect(seen(await postJetpay(t.api(), '/jetpay/callback', text))).toEqual({ http: 200, code: 0 });
    expect(await balance(account)).toBe(20000);
    expect(await ledgerLines(paymentId)).toHaveLength(1);
  });

  it('when 12 identical success callbacks arrive at once, then the account is credited exactly once', async () => {
    const { account, paymentId } = await deposit(30000);
    const text = signedText(callbackFields(paymentId, 'success', new Raw('30000')));
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => postJetpay(t.api(), '/jetpay/callback', text)),
    );
    for (const a of answers) expect(seen(a)).toEqual({ http: 200, code: 0 });
    expect(await balance(account)).toBe(30000);
    expect(await ledgerLines(paymentId)).toHaveLength(1);
    expect((await payment(paymentId)).state).toBe('credited');
  });

  it('when a decline callback comes, then the payment is declined, nothing credited, and a replay changes nothing', async () => {
    const { account, paymentId } = await deposit();
    const text = signedText(callbackFields(paymentId, 'decline', new Raw('10000')));
    expect(seen(await postJetpay(t.api(), '/jetpay/callback', text))).toEqual({ http: 200, code: 0 });
    expect(seen(await postJetpay(t.api(), '/jetpay/callback', text))).toEqual({ http: 200, code: 0 });
    const p = await payment(paymentId);
    expect(p.state).toBe('declined');
    expect(p.comment).toBe('Declined by JetPay: 20000 General decline');
    expect(p.flag).toBeNull();
    expect(await balance(account)).toBe(0);
    expect(await ledgerLines(paymentId)).toHaveLength(0);
  });

  it('when a decline follows a success, then nothing is undone, the payment is flagged and an ERROR logged once', async () => {
    const { account, paymentId } = await deposit();
    await callback(t.api(), callbackFields(paymentId, 'success', new Raw('10000')));
    const decline = signedText(callbackFields(paymentId, 'decline', new Raw('10000')));
    expect(seen(await postJetpay(t.api(), '/jetpay/callback', decline))).toEqual({ http: 200, code: 0 });
    expect(seen(await postJetpay(t.api(), '/jetpay/callback', decline))).toEqual({ http: 200, code: 0 });
    const p = await payment(paymentId);
    expect(p.state).toBe('credited');
    expect(p.flag).toBe('decline_after_success');
    expect(p.flagged_at).not.toBeNull();
    expect(await balance(account)).toBe(10000);
    expect(errorsFor(paymentId, 'decline_after_success')).toHaveLength(1);
  });

  it('when a success follows a decline, then nothing is credited, the payment is flagged and an ERROR logged once', async () => {
    const { account, paymentId } = await deposit();
    await callback(t.api(), callbackFields(paymentId, 'decline', new Raw('10000')));
    const success = signedText(callbackFields(paymentId, 'success', new Raw('10000')));
    expect(seen(await postJetpay(t.api(), '/jetpay/callback', success))).toEqual({ http: 200, code: 0 });
    expect(seen(await postJetpay(t.api(), '/jetpay/callback', success))).toEqual({ http: 200, code: 0 });
    const p = await payment(paymentId);
    expect(p.state).toBe('declined');
    expect(p.flag).toBe('success_after_decline');
    expect(await balance(account)).toBe(0);
    expect(await ledgerLines(paymentId)).toHaveLength(0);
    expect(errorsFor(paymentId, 'success_after_decline')).toHaveLength(1);
  });

  it('when the paid amount differs from check_deposit, then what was paid is credited and the difference logged as an ERROR', async () => {
    const { account, paymentId } = await deposit(10000);
    const text = signedText(callbackFields(paymentId, 'success', new Raw('12345')));
    expect(seen(await postJetpay(t.api(), '/jetpay/callback', text))).toEqual({ http: 200, code: 0 });
    expect(seen(await postJetpay(t.api(), '/jetpay/callback', text))).toEqual({ http: 200, code: 0 });
    expect(await balance(account)).toBe(12345);
    const p = await payment(paymentId);
    expect(p).toMatchObject({ state: 'credited', flag: 'amount_mismatch' });
    expect(Number(p.amount)).toBe(12345);
    expect(Number(p.announced_amount)).toBe(10000);
    const errors = errorsFor(paymentId, 'amount_mismatch');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ announced: 10000, paid: 12345 });
  });

  it('when the payment id is unknown, then HTTP 404 "Payment not found"', async () => {
    for (const id of ['123456789012345678', 'payment_47']) {
      expect(seen(await callback(t.api(), callbackFields(id, 'success', new Raw('10000'))))).toEqual({
        http: 404,
        code: 404,
        message: 'Payment not found',
      });
    }
  });

  it('when integers of 18+ digits are in the body, then the signature is checked over every digit', async () => {
    const { account, paymentId } = await deposit(10000);
    const fields = callbackFields(paymentId, 'success', new Raw('10000'));
    const operation = fields.operation as Record<string, Value>;
    const big = {
      ...fields,
      payment: { ...(fields.payment as Record<string, Value>), id: new Raw(paymentId) },
      operation: {
        ...operation,
        id: new Raw('123456789012345678901234'),
        provider: { id: new Raw('98765432109876543210'), payment_id: 'p-1' },
      },
    };
    // What a server parsing with JSON.parse would sign: the same body with its big numbers rounded.
    const rounded = JSON.parse(jsonText(big)) as Record<string, Value>;
    const roundedBody = jsonText({ ...big, signature: gateSignature(rounded) });
    expect(seen(await postJetpay(t.api(), '/jetpay/callback', roundedBody))).toEqual({
      http: 400,
      code: 400,
      message: 'Invalid signature',
    });
    expect(await balance(account)).toBe(0);

    expect(seen(await postJetpay(t.api(), '/jetpay/callback', signedText(big)))).toEqual({
      http: 200,
      code: 0,
    });
    expect(await balance(account)).toBe(10000);
  });

  it('when the signature is bad or the project_id not ours, then HTTP 400 and nothing changes', async () => {
    const { account, paymentId } = await deposit();
    const fields = callbackFields(paymentId, 'success', new Raw('10000'));
    const forged = jsonText({
      ...fields,
      payment: { id: paymentId, status: 'success', sum: { amount: new Raw('99999'), currency: 'KZT' } },
      signature: gateSignature(fields),
    });
    expect(seen(await postJetpay(t.api(), '/jetpay/callback', forged))).toEqual({
      http: 400,
      code: 400,
      message: 'Invalid signature',
    });
    expect(seen(await postJetpay(t.api(), '/jetpay/callback', jsonText(fields)))).toEqual({
      http: 400,
      code: 400,
      message: 'Missing field: signature',
    });
    const otherProject = callbackFields(paymentId, 'success', new Raw('10000'), {
      project_id: new Raw('1234'),
    });
    expect(seen(await callback(t.api(), otherProject))).toEqual({
      http: 400,
      code: 400,
      message: 'Wrong project_id',
    });
    expect(await balance(account)).toBe(0);
    expect((await payment(paymentId)).state).toBe('awaiting_callback');
  });

  it('when a field is missing, then HTTP 400 names it and nothing changes', async () => {
    const { account, paymentId } = await deposit();
    const noId = await callback(t.api(), {
      project_id: new Raw(PROJECT_ID),
      payment: { status: 'success', sum: { amount: new Raw('10000'), currency: 'KZT' } },
    });
    expect(seen(noId)).toEqual({ http: 400, code: 400, message: 'Missing field: payment.id' });
    const noSum = await callback(t.api(), {
      project_id: new Raw(PROJECT_ID),
      payment: { id: paymentId, status: 'success' },
    });
    expect(seen(noSum)).toEqual({ http: 400, code: 400, message: 'Missing field: payment.sum.amount' });
    const noStatus = await callback(t.api(), { project_id: new Raw(PROJECT_ID), payment: { id: paymentId } });
    expect(seen(noStatus)).toEqual({ http: 400, code: 400, message: 'Missing field: payment.status' });
    expect(await balance(account)).toBe(0);
    expect((await payment(paymentId)).state).toBe('awaiting_callback');
  });

  it('when the body is malformed or over 64 kB, then HTTP 400 / HTTP 413 with code 400 in JSON', async () => {
    expect(seen(await postJetpay(t.api(), '/jetpay/callback', '{"payment":'))).toEqual({
      http: 400,
      code: 400,
      message: 'Malformed JSON',
    });
    const big = await callback(
      t.api(),
      callbackFields('1', 'success', new Raw('1'), { pad: 'z'.repeat(66 * 1024) }),
    );
    expect(seen(big)).toEqual({ http: 413, code: 400, message: 'Request body too large' });
  });

  it('when the credit cannot complete (billing down), then HTTP 500 so JetPay repeats, and the repeat gets 200 and credits once', async () => {
    const { account, paymentId } = await deposit(15000);
    const text = signedText(callbackFields(paymentId, 'success', new Raw('15000')));
    billing.down = true;
    try {
      const r = await postJetpay(t.api(), '/jetpay/callback', text);
      expect(seen(r)).toEqual({
        http: 500,
        code: 500,
        message: 'Payment is being processed, repeat the callback later',
      });
      expect((await payment(paymentId)).state).toBe('awaiting_callback');
      expect(await balance(account)).toBe(0);
    } finally {
      billing.down = false;
    }
    expect(seen(await postJetpay(t.api(), '/jetpay/callback', text))).toEqual({ http: 200, code: 0 });
    expect(seen(await postJetpay(t.api(), '/jetpay/callback', text))).toEqual({ http: 200, code: 0 });
    expect(await balance(account)).toBe(15000);
    expect(await ledgerLines(paymentId)).toHaveLength(1);
  });

  it('when the billing refuses the credit (account closed meanwhile), then the payment fails, is flagged and an ERROR logged', async () => {
    const { account, paymentId } = await deposit();
    await t.gateway.stores.accounts.setAccountStatus(account, 'closed');
    const text = signedText(callbackFields(paymentId, 'success', new Raw('10000')));
    expect(seen(await postJetpay(t.api(), '/jetpay/callback', text))).toEqual({ http: 200, code: 0 });
    expect(seen(await postJetpay(t.api(), '/jetpay/callback', text))).toEqual({ http: 200, code: 0 });
    expect(await payment(paymentId)).toMatchObject({ state: 'failed', flag: 'credit_refused' });
    expect(await ledgerLines(paymentId)).toHaveLength(0);
    expect(errorsFor(paymentId, 'credit_refused')).toHaveLength(1);
  });

  it('when a success reports another currency, then nothing is credited and the payment is flagged', async () => {
    const { account, paymentId } = await deposit();
    const fields = callbackFields(paymentId, 'success', new Raw('10000'));
    const usd = {
      ...fields,
      payment: {
        ...(fields.payment as Record<string, Value>),
        sum: { amount: new Raw('10000'), currency: 'USD' },
      },
    };
    expect(seen(await callback(t.api(), usd))).toEqual({ http: 200, code: 0 });
    expect(await payment(paymentId)).toMatchObject({ state: 'awaiting_callback', flag: 'currency_mismatch' });
    expect(await balance(account)).toBe(0);
    expect(errorsFor(paymentId, 'currency_mismatch')).toHaveLength(1);
  });

  it('when the status is neither success nor decline, then 0 is answered and nothing changes', async () => {
    const { paymentId } = await deposit();
    expect(seen(await callback(t.api(), callbackFields(paymentId, 'processing', new Raw('10000'))))).toEqual({
      http: 200,
      code: 0,
    });
    expect(await payment(paymentId)).toMatchObject({ state: 'awaiting_callback', flag: null });
  });

  it('when the callback comes in Gate’s other format (signature and project_id in `general`), then it is applied', async () => {
    const { account, paymentId } = await deposit();
    const fields: Record<string, Value> = {
      general: { project_id: new Raw(PROJECT_ID), payment_id: paymentId },
      payment: { id: paymentId, status: 'success', sum: { amount: new Raw('10000'), currency: 'KZT' } },
    };
    const text = jsonText({
      ...fields,
      general: { ...(fields.general as Record<string, Value>), signature: gateSignature(fields) },
    });
    expect(seen(await postJetpay(t.api(), '/jetpay/callback', text))).toEqual({ http: 200, code: 0 });
    expect(await balance(account)).toBe(10000);
  });

  it('when callbacks are answered, then the request log files each under the payment id with the signature masked', async () => {
    const { paymentId } = await deposit();
    const text = signedText(callbackFields(paymentId, 'success', new Raw('10000')));
    await postJetpay(t.api(), '/jetpay/callback', text);
    await t.gateway.stores.requestLog.flush();
    const rows = await t.gateway.db
      .knex('request_log')
      .where({ channel: 'jetpay', txn_id: paymentId })
      .orderBy('id');
    expect(rows.map((r) => r.command)).toEqual(['check_deposit', 'callback']);
    expect(rows[1]).toMatchObject({ http_status: 200, result: '0' });
    const signature = (JSON.parse(text) as { signature: string }).signature;
    expect(String(rows[1].request)).not.toContain(signature);
    expect(String(rows[1].request)).toContain('"signature":"***"');
  });

  it('when callbacks get 200, 400, 404 and 500, then the access log and gateway_requests_total carry each HTTP status', async () => {
    const series = (status: number, result: number) =>
      `gateway_requests_total{endpoint="jetpay_callback",status="${status}",result="${result}"}`;
    const sample = (text: string, name: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(`${name} `))
          ?.split(' ')[1] ?? 0,
      );
    const before = (await t.admin().get('/metrics')).text;

    const { paymentId } = await deposit(10000);
    const good = signedText(callbackFields(paymentId, 'success', new Raw('10000')));
    const forged = jsonText({ ...(JSON.parse(good) as Record<string, Value>), signature: 'AAAA' });
    const unknown = signedText(callbackFields('987654321098765432', 'success', new Raw('10000')));
    const sends: [string, string, number][] = [
      ['cb-obs-400', forged, 400],
      ['cb-obs-404', unknown, 404],
      ['cb-obs-500', good, 500],
      ['cb-obs-200', good, 200],
    ];
    for (const [id, text, status] of sends) {
      billing.down = status === 500;
      try {
        const res = await t
          .api()
          .post('/jetpay/callback')
          .set('Content-Type', 'application/json')
          .set('X-Request-Id', id)
          .send(text);
        expect(res.status).toBe(status);
      } finally {
        billing.down = false;
      }
    }
    await new Promise((r) => setTimeout(r, 50)); // the access line is written once the answer has gone
    for (const [id, , status] of sends) {
      const access = logs.lines.filter((l) => l.module === 'access' && l.requestId === id);
      expect(access).toHaveLength(1);
      expect(access[0]).toMatchObject({
        path: '/jetpay/callback',
        endpoint: 'jetpay_callback',
        status,
        result: String(status === 200 ? 0 : status),
      });
    }
    const after = (await t.admin().get('/metrics')).text;
    for (const [status, result] of [
      [200, 0],
      [400, 400],
      [404, 404],
      [500, 500],
    ] as const) {
      expect(sample(after, series(status, result)) - sample(before, series(status, result))).toBe(1);
    }
    expect(sample(after, series(200, 500))).toBe(0); // the old answer: 500 under HTTP 200
  });
});
