import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import {
  captureLogs,
  checkDeposit,
  depositFields,
  gateSignature,
  JETPAY_CONFIG,
  jsonText,
  postJetpay,
  Raw,
  signedText,
  switchableBilling,
  type SwitchableBilling,
  type Value,
} from '../support/jetpay.js';

describe.each(dbKinds)('[%s] JetPay check_deposit', (kind) => {
  let t: TestGateway;
  let billing: SwitchableBilling;

  const jetpayPayments = () => t.gateway.db.knex('payments').where({ source: 'jetpay' });
  const countPayments = async () =>
    Number(((await jetpayPayments().count({ n: '*' })) as { n: number | string }[])[0]?.n);

  beforeAll(async () => {
    captureLogs(); // quiet: expected refusals log WARNs
    const sw = switchableBilling();
    t = await startTestGateway(
      kind,
      { ...JETPAY_CONFIG, PAY_MIN_SUM: '1.00', PAY_MAX_SUM: '50000.00' },
      sw.overrides,
    );
    billing = sw.holder.billing as SwitchableBilling;
    const accounts = t.gateway.stores.accounts;
    await accounts.addAccount({ account: '7200000001', name: 'Ivan Petrov', balance: 0 });
    await accounts.addAccount({ account: '7200000002', name: 'Aigul Nurlanova', balance: 0 });
    await accounts.addOrder({ number: 'ORD-20', amount: 450000, description: 'Invoice 20' });
    billing.entities.set('7200000002', [
      { id: '12345', number: '1234_ABC/01-01-2025/Abcdef12', payment: 100000, minPayment: 50000 },
      { id: '67890', number: '5678_ABC/01-01-2025/Abcdef34', payment: 150000 },
    ]);
  });
  afterAll(() => t.close());

  it('when the customer and entity are known, then a payment awaiting its callback is stored and its unique id returned', async () => {
    const before = await t.gateway.stores.accounts.getAccount('7200000001');
    const r = await checkDeposit(t.api(), '7200000001', '7200000001', new Raw('10000'));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      code: 0,
      payment_id: expect.stringMatching(/^[1-9]\d{17}$/),
      description: 'Top-up of 7200000001',
    });
    const row = await jetpayPayments().where({ txn_id: r.body.payment_id }).first();
    expect(row).toMatchObject({ state: 'awaiting_callback', account: '7200000001', entity_id: '7200000001' });
    expect(Number(row.amount)).toBe(10000);
    expect(Number(row.announced_amount)).toBe(10000);
    expect(JSON.parse(String(row.extra))).toEqual({ payment_method: 'terminal/kaspi' });
    expect((await t.gateway.stores.accounts.getAccount('7200000001'))?.balance).toBe(before?.balance);

    const again = await checkDeposit(t.api(), '7200000001', '7200000001', new Raw('10000'));
    expect(again.body.code).toBe(0);
    expect(again.body.payment_id).not.toBe(r.body.payment_id);
  });

  it('when the amount arrives as a string of digits, then it is read as minor units too', async () => {
    const r = await checkDeposit(t.api(), '7200000001', '7200000001', '25000');
    expect(r.body.code).toBe(0);
    expect(Number((await jetpayPayments().where({ txn_id: r.body.payment_id }).first()).amount)).toBe(25000);
  });

  it('when the billing gives contracts, then a deposit into one of the customer’s contracts is accepted and another customer’s is not', async () => {
    const ok = await checkDeposit(t.api(), '7200000002', '67890', new Raw('150000'));
    expect(ok.body.code).toBe(0);
    expect((await jetpayPayments().where({ txn_id: ok.body.payment_id }).first()).entity_id).toBe('67890');
    expect((await checkDeposit(t.api(), '7200000001', '67890', new Raw('150000'))).body).toEqual({
      code: 404,
      message: 'Entity does not exist',
    });
    expect((await checkDeposit(t.api(), '7200000002', '7200000002', new Raw('150000'))).body).toEqual({
      code: 404,
      message: 'Entity does not exist',
    });
  });

  it('when the amount is below the contract’s min_payment, then code 500 and nothing is stored', async () => {
    const n = await countPayments();
    const r = await checkDeposit(t.api(), '7200000002', '12345', new Raw('40000'));
    expect(r.body).toEqual({ code: 500, message: 'Amount below the minimum payment of 50000 minor units' });
    expect(await countPayments()).toBe(n);
  });

  it('when the customer is unknown, then code 404 "Account does not exist" and nothing is stored', async () => {
    const n = await countPayments();
    expect((await checkDeposit(t.api(), '7299999999', '7299999999', new Raw('10000'))).body).toEqual({
      code: 404,
      message: 'Account does not exist',
    });
    expect((await checkDeposit(t.api(), '7200000001', '99999', new Raw('10000'))).body).toEqual({
      code: 404,
      message: 'Entity does not exist',
    });
    expect(await countPayments()).toBe(n);
  });

  it('when the currency is not KZT, then code 500 and nothing is stored', async () => {
    const n = await countPayments();
    const r = await checkDeposit(t.api(), '7200000001', '7200000001', new Raw('10000'), { currency: 'USD' });
    expect(r.body).toEqual({ code: 500, message: 'Currency must be KZT' });
    expect(await countPayments()).toBe(n);
  });

  it.each([
    ['0', 'Amount must be positive'],
    ['-100', 'Amount must be positive'],
    ['99', 'Amount out of limits: 100..5000000 minor units'],
    ['5000001', 'Amount out of limits: 100..5000000 minor units'],
    ['123456789012345678901234567890', 'Amount out of limits: 100..5000000 minor units'],
  ])('when the amount is %s, then code 500 "%s" and nothing is stored', async (amount, message) => {
    const n = await countPayments();
    expect((await checkDeposit(t.api(), '7200000001', '7200000001', new Raw(amount))).body).toEqual({
      code: 500,
      message,
    });
    expect(await countPayments()).toBe(n);
  });

  it('when the amount is at the limits, then it is accepted', async () => {
    expect((await checkDeposit(t.api(), '7200000001', '7200000001', new Raw('100'))).body.code).toBe(0);
    expect((await checkDeposit(t.api(), '7200000001', '7200000001', new Raw('5000000'))).body.code).toBe(0);
  });

  it.each<[string, Value]>([
    ['100.5', new Raw('100.5')],
    ['1e4', new Raw('1e4')],
    ['"ten"', 'ten'],
    ['true', true],
    ['an object', { value: 100 }],
  ])('when the amount is %s, then code 400 says amount is invalid', async (_name, amount) => {
    const r = await checkDeposit(t.api(), '7200000001', '7200000001', amount);
    expect(r.body.code).toBe(400);
    expect(r.body.message).toMatch(/^Invalid field: amount/);
  });

  it.each([['customer_id'], ['entity_id'], ['amount'], ['currency'], ['project_id']])(
    'when %s is missing, then code 400 names it and nothing is stored',
    async (field) => {
      const n = await countPayments();
      const fields: Record<string, Value> = depositFields('7200000001', '7200000001', new Raw('10000'));
      delete fields[field];
      const r = await postJetpay(t.api(), '/jetpay', signedText(fields));
      expect(r.body).toEqual({ code: 400, message: `Missing field: ${field}` });
      expect(await countPayments()).toBe(n);
    },
  );

  it('when the project_id is not ours or the signature is bad, then code 400 and nothing is stored', async () => {
    const n = await countPayments();
    const wrongProject = await postJetpay(
      t.api(),
      '/jetpay',
      signedText(
        depositFields('7200000001', '7200000001', new Raw('10000'), { project_id: new Raw('1234') }),
      ),
    );
    expect(wrongProject.body).toEqual({ code: 400, message: 'Wrong project_id' });
    const fields = depositFields('7200000001', '7200000001', new Raw('10000'));
    const tampered = jsonText({ ...fields, amount: new Raw('100000'), signature: gateSignature(fields) });
    expect((await postJetpay(t.api(), '/jetpay', tampered)).body).toEqual({
      code: 400,
      message: 'Invalid signature',
    });
    expect(await countPayments()).toBe(n);
  });

  it('when the body is malformed JSON or over 64 kB, then 400 / HTTP 413 and nothing is stored', async () => {
    const n = await countPayments();
    const malformed = await postJetpay(t.api(), '/jetpay', '{"type":"check_deposit","amount":10000');
    expect(malformed.body).toEqual({ code: 400, message: 'Malformed JSON' });
    const big = await postJetpay(
      t.api(),
      '/jetpay',
      signedText(depositFields('7200000001', '7200000001', new Raw('10000'), { pad: 'y'.repeat(70000) })),
    );
    expect(big.status).toBe(413);
    expect(await countPayments()).toBe(n);
  });

  it('when the customer is an order, then only the amount due is accepted', async () => {
    expect((await checkDeposit(t.api(), 'ORD-20', 'ORD-20', new Raw('100000'))).body).toEqual({
      code: 500,
      message: 'Amount does not match the amount due',
    });
    expect((await checkDeposit(t.api(), 'ORD-20', 'ORD-20', new Raw('450001'))).body).toEqual({
      code: 500,
      message: 'Amount is above the amount due',
    });
    const ok = await checkDeposit(t.api(), 'ORD-20', 'ORD-20', new Raw('450000'));
    expect(ok.body).toMatchObject({ code: 0, description: 'Payment for order ORD-20' });
  });

  it('when a deposit is stored, then the request log files it under our payment_id', async () => {
    const r = await checkDeposit(t.api(), '7200000001', '7200000001', new Raw('10100'));
    await t.gateway.stores.requestLog.flush();
    const row = await t.gateway.db
      .knex('request_log')
      .where({ channel: 'jetpay', txn_id: r.body.payment_id })
      .first();
    expect(row).toMatchObject({ command: 'check_deposit', result: '0', http_status: 200 });
    expect(String(row.request)).toContain('"signature":"***"');
  });
});

describe.each(dbKinds)('[%s] JetPay signature checks turned off (development setting)', (kind) => {
  let t: TestGateway;
  beforeAll(async () => {
    captureLogs(); // quiet: expected refusals log WARNs
    t = await startTestGateway(kind, { ...JETPAY_CONFIG, JETPAY_SKIP_SIGNATURE: true });
    await t.gateway.stores.accounts.addAccount({ account: '7300000001', name: 'Dev Tester' });
  });
  afterAll(() => t.close());

  it('when verify and check_deposit come unsigned, then they are served; a callback still needs its signature', async () => {
    const unsigned = (f: Record<string, Value>) => postJetpay(t.api(), '/jetpay', jsonText(f));
    expect(
      (await unsigned({ type: 'verify', project_id: new Raw('4321'), customer_id: '7300000001' })).body.code,
    ).toBe(0);
    const d = await unsigned(depositFields('7300000001', '7300000001', new Raw('10000')));
    expect(d.body.code).toBe(0);
    expect(
      (await unsigned({ type: 'verify', project_id: new Raw('1'), customer_id: '7300000001' })).body,
    ).toEqual({ code: 400, message: 'Wrong project_id' });
    const cb = await postJetpay(
      t.api(),
      '/jetpay/callback',
      jsonText({
        project_id: new Raw('4321'),
        payment: { id: String(d.body.payment_id), status: 'success' },
      }),
    );
    expect(cb.body).toEqual({ code: 400, message: 'Missing field: signature' });
  });
});
