import { isUniqueViolation } from '../../src/db/db.js';
import { AwaitingPayments } from '../../src/payments/awaiting-payments.js';
import { PaymentFlags } from '../../src/payments/payment-flags.js';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { balanceOf, creditsFor, paymentsFor } from '../support/ledger.js';

describe.each(dbKinds)('[%s] a payment recorded before the money moves (awaiting_payment)', (kind) => {
  let t: TestGateway;
  let awaiting: AwaitingPayments;
  beforeAll(async () => {
    t = await startTestGateway(kind);
    await t.gateway.stores.accounts.addAccount({ account: 'AW-1', name: 'Payer', balance: 0 });
    awaiting = new AwaitingPayments(t.gateway.stores.payments, new PaymentFlags(t.gateway.db));
  });
  afterAll(() => t.close());

  const record = (txnId: string, amount = 150_00) =>
    t.gateway.db.knex.transaction((trx) =>
      awaiting.record(trx, { source: 'kaspi_qr', txnId, account: 'AW-1', amount }),
    );

  it('when recorded, then it holds no credit until it is credited, and is credited once however often', async () => {
    const id = await record('900000000000000001');
    expect((await paymentsFor(t.gateway, '900000000000000001'))[0]).toMatchObject({
      state: 'awaiting_payment',
    });
    expect(await creditsFor(t.gateway, '900000000000000001')).toHaveLength(0);

    const outcomes = await Promise.all(
      [1, 2, 3].map(() => t.gateway.services.payments.creditStored(id, ['awaiting_payment'])),
    );
    // One wins the conditional move and credits; one racing it while it credits gets 4 (in processing).
    expect(outcomes.every((o) => o.result === 0 || o.result === 4)).toBe(true);
    expect(outcomes.some((o) => o.result === 0)).toBe(true);
    expect((await t.gateway.services.payments.creditStored(id, ['awaiting_payment'])).result).toBe(0);
    expect(await creditsFor(t.gateway, '900000000000000001')).toHaveLength(1);
    expect(await balanceOf(t.gateway, 'AW-1')).toBe(150_00);
    expect(await awaiting.decline(id, 'too late')).toBe(false);
    expect((await paymentsFor(t.gateway, '900000000000000001'))[0]).toMatchObject({ state: 'credited' });
  });

  it('when the same purchase number is recorded twice, then the unique key refuses the second and nothing else is stored', async () => {
    await record('900000000000000002');
    const second = await record('900000000000000002').then(
      () => null,
      (e: unknown) => e,
    );
    expect(isUniqueViolation(second)).toBe(true);
    expect(await paymentsFor(t.gateway, '900000000000000002')).toHaveLength(1);
  });

  it('when declined before any credit, then it is final and a later credit moves nothing', async () => {
    const id = await record('900000000000000003');
    expect(await awaiting.decline(id, 'Kaspi: Error')).toBe(true);
    const late = await t.gateway.services.payments.creditStored(id, ['awaiting_payment']);
    expect(late.result).not.toBe(0);
    expect(await creditsFor(t.gateway, '900000000000000003')).toHaveLength(0);
    expect((await paymentsFor(t.gateway, '900000000000000003'))[0]).toMatchObject({ state: 'declined' });
  });
});
