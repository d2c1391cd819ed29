import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import {
  captureLogs,
  gateSignature,
  JETPAY_CONFIG,
  jsonText,
  postJetpay,
  PROJECT_ID,
  Raw,
  signedText,
  switchableBilling,
  verify,
  type SwitchableBilling,
} from '../support/jetpay.js';

describe.each(dbKinds)('[%s] JetPay verify', (kind) => {
  let t: TestGateway;
  let billing: SwitchableBilling;
  let logs: ReturnType<typeof captureLogs>;

  beforeAll(async () => {
    logs = captureLogs();
    const sw = switchableBilling();
    t = await startTestGateway(kind, { ...JETPAY_CONFIG, PAY_MIN_SUM: '1.00' }, sw.overrides);
    billing = sw.holder.billing as SwitchableBilling;
    const accounts = t.gateway.stores.accounts;
    await accounts.addAccount({ account: '7100000001', name: 'Ivan Petrov', balance: 150000 });
    await accounts.addAccount({ account: '7100000002', name: 'Closed Account', balance: 0 });
    await accounts.setAccountStatus('7100000002', 'closed');
    await accounts.addAccount({ account: '7100000003', name: 'Aigul Nurlanova', balance: 0 });
    await accounts.addOrder({ number: 'ORD-7', amount: 450000, description: 'Invoice 7' });
    await accounts.addOrder({ number: 'ORD-8', amount: 1000, description: 'Invoice 8' });
    await accounts.cancelOrder('ORD-8');
  });
  afterAll(() => t.close());

  it('when the customer has an account, then it is answered as one entity with integer minor-unit amounts', async () => {
    const r = await verify(t.api(), '7100000001');
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^application\/json/);
    expect(r.body).toEqual({
      code: 0,
      currency: 'KZT',
      additional_customer_id: '7100000001',
      entities: [
        {
          id: '7100000001',
          number: '7100000001',
          min_payment: 100,
          info: { customer_name: 'I*** P.', balance: 150000 },
        },
      ],
    });
  });

  it('when customer_id arrives as a JSON number, then its digits are read as written', async () => {
    const r = await postJetpay(
      t.api(),
      '/jetpay',
      signedText({ type: 'verify', project_id: new Raw(PROJECT_ID), customer_id: new Raw('7100000001') }),
    );
    expect(r.body.code).toBe(0);
    expect(r.body.additional_customer_id).toBe('7100000001');
  });

  it('when the customer is unknown or closed, then code 404 "Account does not exist"', async () => {
    expect((await verify(t.api(), '7199999999')).body).toEqual({
      code: 404,
      message: 'Account does not exist',
    });
    expect((await verify(t.api(), '7100000002')).body).toEqual({
      code: 404,
      message: 'Account does not exist',
    });
  });

  it('when the customer is an open order, then its entity carries the amount due as payment', async () => {
    const r = await verify(t.api(), 'ORD-7');
    expect(r.body.code).toBe(0);
    expect(r.body.entities).toEqual([
      {
        id: 'ORD-7',
        number: 'ORD-7',
        payment: 450000,
        min_payment: 450000,
        info: { description: 'Invoice 7', amount_due: 450000 },
      },
    ]);
  });

  it('when the order is cancelled, then code 500 says so', async () => {
    expect((await verify(t.api(), 'ORD-8')).body).toEqual({ code: 500, message: 'Order cancelled' });
  });

  it('when the billing gives the customer contracts, then verify lists them as the entities', async () => {
    billing.entities.set('7100000003', [
      {
        id: '12345',
        number: '1234_ABC/01-01-2025/Abcdef12',
        payment: 100000,
        minPayment: 50000,
        info: { total_debt: 500000 },
      },
      { id: '67890', number: '5678_ABC/01-01-2025/Abcdef34', payment: 150000 },
    ]);
    const r = await verify(t.api(), '7100000003');
    expect(r.body).toEqual({
      code: 0,
      currency: 'KZT',
      additional_customer_id: '7100000003',
      entities: [
        {
          id: '12345',
          number: '1234_ABC/01-01-2025/Abcdef12',
          payment: 100000,
          min_payment: 50000,
          info: { total_debt: 500000 },
        },
        { id: '67890', number: '5678_ABC/01-01-2025/Abcdef34', payment: 150000 },
      ],
    });
  });

  it('when the billing cannot be reached, then code 500 asks to try again and nothing leaks', async () => {
    billing.lookupDown = true;
    try {
      expect((await verify(t.api(), '7100000001')).body).toEqual({
        code: 500,
        message: 'Billing unavailable, try again later',
      });
    } finally {
      billing.lookupDown = false;
    }
  });

  it('when the signature is wrong, missing, or made with another secret, then code 400 names the problem', async () => {
    const fields = { type: 'verify', project_id: new Raw(PROJECT_ID), customer_id: '7100000001' };
    const forged = jsonText({ ...fields, signature: gateSignature(fields, 'not-our-secret') });
    expect((await postJetpay(t.api(), '/jetpay', forged)).body).toEqual({
      code: 400,
      message: 'Invalid signature',
    });
    expect((await postJetpay(t.api(), '/jetpay', jsonText(fields))).body).toEqual({
      code: 400,
      message: 'Missing field: signature',
    });
    const altered = jsonText({ ...fields, customer_id: '7100000003', signature: gateSignature(fields) });
    expect((await postJetpay(t.api(), '/jetpay', altered)).body).toEqual({
      code: 400,
      message: 'Invalid signature',
    });
  });

  it('when the project_id is not ours (even correctly signed), then code 400 "Wrong project_id"', async () => {
    const r = await postJetpay(
      t.api(),
      '/jetpay',
      signedText({ type: 'verify', project_id: new Raw('1234'), customer_id: '7100000001' }),
    );
    expect(r.body).toEqual({ code: 400, message: 'Wrong project_id' });
  });

  it('when a field is missing or the type unknown, then code 400 names it', async () => {
    const noCustomer = await postJetpay(
      t.api(),
      '/jetpay',
      signedText({ type: 'verify', project_id: new Raw(PROJECT_ID) }),
    );
    expect(noCustomer.body).toEqual({ code: 400, message: 'Missing field: customer_id' });
    const noProject = await postJetpay(
      t.api(),
      '/jetpay',
      signedText({ type: 'verify', customer_id: '7100000001' }),
    );
    expect(noProject.body).toEqual({ code: 400, message: 'Missing field: project_id' });
    const noType = await postJetpay(
      t.api(),
      '/jetpay',
      signedText({ project_id: new Raw(PROJECT_ID), customer_id: '7100000001' }),
    );
    expect(noType.body).toEqual({ code: 400, message: 'Missing field: type' });
    const unknown = await postJetpay(
      t.api(),
      '/jetpay',
      signedText({ type: 'refund', project_id: new Raw(PROJECT_ID) }),
    );
    expect(unknown.body).toEqual({ code: 400, message: 'Unknown type: refund' });
    const structured = await postJetpay(
      t.api(),
      '/jetpay',
      signedText({ type: 'verify', project_id: new Raw(PROJECT_ID), customer_id: { a: '1' } }),
    );
    expect(structured.body).toEqual({ code: 400, message: 'Invalid field: customer_id' });
  });

  it('when the body is not JSON, not an object, has a duplicate key or bad UTF-8, then code 400 "Malformed JSON" in JSON', async () => {
    for (const text of [
      '{"type":"verify",',
      'not json',
      '',
      '[1,2]',
      '{"type":"verify","type":"check_deposit"}',
    ]) {
      const r = await postJetpay(t.api(), '/jetpay', text);
      expect(r.status).toBe(200);
      expect(r.type).toMatch(/^application\/json/);
      expect(r.body.code).toBe(400);
      expect(r.body.message).toMatch(/^Malformed JSON/);
    }
    const badUtf8 = await t
      .api()
      .post('/jetpay')
      .set('Content-Type', 'application/octet-stream') // superagent would re-encode a Buffer sent as JSON
      .send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]));
    expect(JSON.parse(badUtf8.text)).toEqual({ code: 400, message: 'Malformed JSON: body is not UTF-8' });
  });

  it('when the body is nested deeper than any Gate message, then code 400, not a crash', async () => {
    const deep = `${'{"a":'.repeat(200)}1${'}'.repeat(200)}`;
    const r = await postJetpay(t.api(), '/jetpay', deep.replace(/^\{/, '{"type":"verify","signature":"x",'));
    expect(r.body).toEqual({ code: 400, message: 'Malformed JSON: nesting too deep' });
    const abyss = await postJetpay(t.api(), '/jetpay', `${'['.repeat(30000)}${']'.repeat(30000)}`);
    expect(abyss.body.code).toBe(400);
  });

  it('when the body is over 64 kB, then HTTP 413 with a JSON answer', async () => {
    const big = signedText({
      type: 'verify',
      project_id: new Raw(PROJECT_ID),
      customer_id: '7100000001',
      pad: 'x'.repeat(65 * 1024),
    });
    const r = await postJetpay(t.api(), '/jetpay', big);
    expect(r.status).toBe(413);
    expect(r.type).toMatch(/^application\/json/);
    expect(r.body).toEqual({ code: 400, message: 'Request body too large' });
    const justUnder = signedText({
      type: 'verify',
      project_id: new Raw(PROJECT_ID),
      customer_id: '7100000001',
      pad: 'x'.repeat(60 * 1024),
    });
    expect((await postJetpay(t.api(), '/jetpay', justUnder)).body.code).toBe(0);
  });

  it('when a verify is answered, then the request log holds it and our answer, signature masked', async () => {
    const text = signedText({
      type: 'verify',
      project_id: new Raw(PROJECT_ID),
      customer_id: '7100000001',
      marker: 'log-check-1',
    });
    const signature = (JSON.parse(text) as { signature: string }).signature;
    await postJetpay(t.api(), '/jetpay', text);
    await t.gateway.stores.requestLog.flush();
    const row = await t.gateway.db.knex('request_log').where('request', 'like', '%log-check-1%').first();
    expect(row).toMatchObject({
      channel: 'jetpay',
      command: 'verify',
      http_status: 200,
      result: '0',
      method: 'POST',
    });
    expect(String(row.request)).not.toContain(signature);
    expect(String(row.request)).toContain('"signature":"***"');
    expect(JSON.parse(String(row.response))).toMatchObject({ code: 0, additional_customer_id: '7100000001' });
    expect(logs.lines.map((l) => JSON.stringify(l)).join('\n')).not.toContain(signature);
  });

  it('when JetPay calls from an address outside the Kaspi allowlist, then it is still served (signature, not IP)', async () => {
    const other = await startTestGateway(kind, { ...JETPAY_CONFIG, KASPI_ALLOWED_IPS: '194.187.247.152/32' });
    try {
      expect(
        (await other.api().get('/payment_app.cgi?command=check&txn_id=1&account=1&sum=1.00')).status,
      ).toBe(403);
      await other.gateway.stores.accounts.addAccount({ account: '7100000001', name: 'Ivan Petrov' });
      expect((await verify(other.api(), '7100000001')).body.code).toBe(0);
    } finally {
      await other.close();
    }
  });
});
