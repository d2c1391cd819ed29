import { CREDIT_RETRY_JOB } from '../../src/jobs/jobs.js';
import { dbKinds } from '../support/databases.js';
import { FakeBilling } from '../support/fake-billing.js';
import { FakeRefundApi } from '../support/fake-refund-api.js';
import type { TestGateway } from '../support/gateway.js';
import { newTxnId, pay } from '../support/kaspi.js';
import { captureLogs } from '../support/log-capture.js';
import { AUTH, makeDue, startRefundGateway } from '../support/refunds.js';
import { csvOf, RU_HEADER } from '../support/registry-files.js';

const logs = captureLogs('warn');

/**
 * Where a registry meets money (registries-seed-notes §1.7, edge cases 18, 19, 33, 34, 40): the
 * two things an import sets moving by itself (the credit retry, the refund poll), and the
 * resolutions that move money, each through its exactly-once path, with an external billing (the
 * fake) that can be down. Nothing else moves money without a person.
 */
describe.each(dbKinds)('[%s] reconciliation and money', (kind) => {
  let billing: FakeBilling;
  let refundApi: FakeRefundApi;
  let t: TestGateway;
  let seq = 0;

  beforeAll(async () => {
    billing = await new FakeBilling().start();
    refundApi = new FakeRefundApi();
    await refundApi.start();
    t = await startRefundGateway(kind, refundApi, {
      BILLING_ADAPTER: 'http',
      BILLING_URL: billing.url,
      BILLING_TIMEOUT_MS: 1000,
      BILLING_MAX_ATTEMPTS: 1,
      BILLING_RETRY_BASE_MS: 20,
      // A pending credit waits its backoff: only a kick makes it due before that.
      RETRY_BACKOFF_MS: 600_000,
      RETRY_BACKOFF_MAX_MS: 600_000,
    });
  });
  afterEach(() => {
    billing.heal();
    logs.clear();
  });
  afterAll(async () => {
    await t.close();
    await refundApi.stop();
    await billing.close();
  });

  function account(): string {
    const a = `77${kind === 'mysql' ? 1 : 2}${String(++seq).padStart(7, '0')}`;
    billing.accounts.set(a, { name: 'Registry Payer' });
    return a;
  }

  async function credited(sum: string): Promise<{ txnId: string; account: string }> {
    const a = account();
    const txnId = newTxnId();
    expect((await pay(t.api(), txnId, a, sum)).xml.result).toBe('0');
    return { txnId, account: a };
  }

  const upload = (rows: string[][], name: string) =>
    t
      .admin()
      .post(`/api/reconciliations?from=2026-11-23&to=2026-11-23&filename=${name}`)
      .set({ ...AUTH, 'Content-Type': 'text/csv' })
      .send(csvOf([RU_HEADER, ...rows]));

  async function itemOf(runId: string, cls: string) {
    const items = (await t.admin().get(`/api/reconciliations/${runId}/items`).set(AUTH)).body.items as Array<{
      id: string;
      class: string;
      state: string;
    }>;
    return items.find((i) => i.class === cls) as { id: string; class: string; state: string };
  }

  const resolve = (id: string, body: Record<string, unknown>) =>
    t.admin().post(`/api/reconciliation-items/${id}/resolve`).set(AUTH).send(body);

  const paymentOf = async (txnId: string) => t.gateway.stores.payments.findByTxn('kaspi', txnId);
  const dueIds = async () => (await t.gateway.stores.payments.findDue(1000)).map((p) => p.id);

  it('when a registry lists our pending payment, then the import makes the credit retry take it now, and once credited the watch job closes the item', async () => {
    const a = account();
    const txnId = newTxnId();
    billing.mode = '5xx';
    expect((await pay(t.api(), txnId, a, '120.00')).xml.result).toBe('4');
    billing.heal();
    const pending = await paymentOf(txnId);
    expect(pending?.state).toBe('pending');
    expect(await dueIds()).not.toContain(pending?.id); // its backoff is 10 minutes away

    const run = await upload([[txnId, '120,00', '23.11.2026 14:15:00', a, 'Платёж']], 'pending.csv');
    expect(run.status).toBe(201);
    expect(run.body.totals.byClass.PENDING_OURS.count).toBe(1);
    expect(await dueIds()).toContain(pending?.id); // kicked: due now
    expect(billing.creditCalls(`kaspi:${txnId}`)).toHaveLength(1); // the import itself sent nothing

    await t.gateway.scheduler.runNow(CREDIT_RETRY_JOB);
    expect((await paymentOf(txnId))?.state).toBe('credited');
    expect(billing.appliedCount(`kaspi:${txnId}`)).toBe(1);
    expect((await t.gateway.services.reconcile.watch()).closed).toBeGreaterThanOrEqual(1);
    expect((await itemOf(run.body.id, 'PENDING_OURS')).state).toBe('auto_closed');
  });

  it('when the billing is down during a credit resolution, then nothing is half-way: the payment is pending, the item open with the reason, and it closes once the retry credits it', async () => {
    const a = account();
    const txnId = newTxnId();
    const run = await upload([[txnId, '75,00', '23.11.2026 10:00:00', a, 'Платёж']], 'missing.csv');
    const item = await itemOf(run.body.id, 'MISSING_OURS');
    billing.mode = '5xx';
    const r = await resolve(item.id, { action: 'credit', note: 'Kaspi confirmed it' });
    expect(r.status).toBe(200);
    expect(r.body.state).toBe('open');
    const stored = await t.gateway.services.reconcile.store.getItem(item.id);
    expect(stored?.detail.credit).toMatchObject({
      pending: true,
      result: 4,
      reason: expect.stringMatching(/billing did not confirm the credit/),
    });
    expect((await paymentOf(txnId))?.state).toBe('pending');
    expect(billing.appliedCount(`kaspi:${txnId}`)).toBe(0);
    const audits = await t.gateway.db
      .knex('audit_log')
      .where({ action: 'item.resolved', target_id: item.id });
    expect(audits).toHaveLength(0); // not resolved yet: nothing recorded as done

    // The resolve repeated while the billing is still down: still one payment, still open.
    expect((await resolve(item.id, { action: 'credit' })).body.state).toBe('open');
    expect(await t.gateway.db.knex('payments').where({ txn_id: txnId })).toHaveLength(1);

    billing.heal();
    await t.gateway.db
      .knex('payments')
      .where({ txn_id: txnId })
      .update({ next_attempt_at: '2000-01-01 00:00:00.000' });
    await t.gateway.scheduler.runNow(CREDIT_RETRY_JOB);
    expect(billing.appliedCount(`kaspi:${txnId}`)).toBe(1);
    await t.gateway.services.reconcile.watch();
    expect((await itemOf(run.body.id, 'MISSING_OURS')).state).toBe('auto_closed');
  });

  it('when a registry lists a refund of ours still with Kaspi, then the import makes the poller take it now, and the item closes when it is success', async () => {
    const p = await credited('300.00');
    refundApi.script(p.txnId, [{ status: 0 }, { status: 2 }]);
    const filed = await t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ txnId: p.txnId, amount: '100.00', reason: 'x' });
    expect(filed.body.status).toBe('accepted');
    const before = (await t.gateway.db.knex('refunds').where({ id: filed.body.id }).first()) as {
      next_poll_at: string;
    };
    const asked = refundApi.calls.RefundStatus;

    const run = await upload(
      [
        [p.txnId, '300,00', '23.11.2026 14:15:00', p.account, 'Платёж'],
        [p.txnId, '100,00', '23.11.2026 16:00:00', p.account, 'Возврат'],
      ],
      'refund-pending.csv',
    );
    expect(run.body.totals.byClass.REFUND_PENDING_OURS.count).toBe(1);
    const after = (await t.gateway.db.knex('refunds').where({ id: filed.body.id }).first()) as {
      next_poll_at: string;
    };
    expect(String(after.next_poll_at) < String(before.next_poll_at)).toBe(true);
    expect(refundApi.calls.RefundStatus).toBe(asked); // kicked, not polled by the import

    await t.gateway.services.refundPoller.runOnce();
    expect((await t.admin().get(`/api/refunds/${filed.body.id}`).set(AUTH)).body.status).toBe('success');
    await t.gateway.services.reconcile.watch();
    expect((await itemOf(run.body.id, 'REFUND_PENDING_OURS')).state).toBe('auto_closed');
  });

  it('when a refused payment Kaspi counts as paid is resolved with refund, then one Refund API refund (origin registry), the billing told nothing, and the item closes at success', async () => {
    const a = account();
    const txnId = newTxnId();
    billing.mode = '404'; // the billing refuses the account: the pay is refused, never credited
    expect((await pay(t.api(), txnId, a, '40.00')).xml.result).not.toBe('0');
    expect((await paymentOf(txnId))?.state).toBe('failed');
    billing.heal();
    const run = await upload([[txnId, '40,00', '23.11.2026 14:15:00', a, 'Платёж']], 'refused.csv');
    const item = await itemOf(run.body.id, 'REFUSED_OURS');
    const first = await resolve(item.id, { action: 'refund', note: 'the payer asked for the money back' });
    expect(first.status).toBe(200);
    expect(first.body.state).toBe('open');
    expect((await resolve(item.id, { action: 'refund' })).body.state).toBe('open'); // repeated: the same refund
    const rows = await t.gateway.db.knex('refunds').where({ txn_id: txnId });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ origin: 'registry', amount: expect.anything() });
    expect(String(rows[0].created_by)).toMatch(/^reconcile:api/);
    expect(refundApi.received.filter((r) => r.paymentId === txnId)).toHaveLength(1);

    await makeDue(t.gateway);
    await t.gateway.services.refundPoller.runOnce();
    const refund = (await t.admin().get(`/api/refunds/${rows[0].id}`).set(AUTH)).body;
    expect(refund).toMatchObject({ status: 'success', origin: 'registry', billingRef: 'never-credited' });
    expect(billing.refunds.get(`refund:${rows[0].id}`)).toBeUndefined();
    expect((await paymentOf(txnId))?.state).toBe('failed');
    await t.gateway.services.reconcile.watch();
    expect((await itemOf(run.body.id, 'REFUSED_OURS')).state).toBe('auto_closed');
    const filedAudit = await t.gateway.db
      .knex('audit_log')
      .where({ action: 'refund.filed', target_id: String(rows[0].id) });
    expect(JSON.parse(String(filedAudit[0].details))).toMatchObject({ origin: 'registry' });
  });

  it('when Kaspi lists a refund ours has as declined, then REFUND_STATUS_DIFFERS; record-refund stores one success refund (origin registry) for it, nothing sent to Kaspi, the billing told once; a fatal one is pointed to refunds resume', async () => {
    const p = await credited('300.00');
    refundApi.script(p.txnId, [{ status: 1 }]); // Kaspi declines it at once
    const declined = await t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ txnId: p.txnId, amount: '100.00', reason: 'payer asked' });
    expect(declined.body.status).toBe('declined');
    const f = await credited('80.00');
    refundApi.script(f.txnId, [{ status: 5 }]); // FATAL: a person follows it with Kaspi
    const fatal = await t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ txnId: f.txnId, amount: '80.00', reason: 'payer asked' });
    expect(fatal.body.status).toBe('fatal');

    const run = await upload(
      [
        [p.txnId, '300,00', '23.11.2026 14:15:00', p.account, 'Платёж'],
        [p.txnId, '100,00', '23.11.2026 18:00:00', p.account, 'Возврат'],
        [f.txnId, '80,00', '23.11.2026 14:20:00', f.account, 'Платёж'],
        [f.txnId, '80,00', '23.11.2026 18:10:00', f.account, 'Возврат'],
      ],
      'status-differs.csv',
    );
    expect(run.body.totals.byClass.REFUND_STATUS_DIFFERS.count).toBe(2);
    const items = (await t.admin().get(`/api/reconciliations/${run.body.id}/items`).set(AUTH)).body
      .items as Array<{ id: string; class: string; txnId: string; suggestedAction: string }>;
    const mine = items.find((i) => i.class === 'REFUND_STATUS_DIFFERS' && i.txnId === p.txnId) as {
      id: string;
    };
    const theFatal = items.find((i) => i.class === 'REFUND_STATUS_DIFFERS' && i.txnId === f.txnId) as {
      id: string;
      suggestedAction: string;
    };
    expect(theFatal.suggestedAction).toMatch(/refunds resume/);
    const fatalResolve = await resolve(theFatal.id, { action: 'record-refund', note: 'x' });
    expect([fatalResolve.status, fatalResolve.body.message]).toEqual([
      409,
      expect.stringMatching(/refunds resume/),
    ]);

    const filedBefore = refundApi.calls.RefundRequest;
    const r = await resolve(mine.id, { action: 'record-refund', note: 'Kaspi: paid after all (ticket 77)' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ state: 'resolved', resolution: { action: 'record-refund' } });
    expect((await resolve(mine.id, { action: 'record-refund' })).status).toBe(200); // repeated: the same
    const rows = await t.gateway.db.knex('refunds').where({ txn_id: p.txnId }).orderBy('id');
    expect(rows.map((x) => [x.status, x.origin])).toEqual([
      ['declined', 'api'],
      ['success', 'registry'],
    ]);
    expect(refundApi.calls.RefundRequest).toBe(filedBefore);
    expect(billing.refunds.get(`refund:${rows[1].id}`)?.applied).toBe(1);
    expect(billing.refunds.get(`refund:${rows[0].id}`)).toBeUndefined();
    const recorded = await t.gateway.db
      .knex('audit_log')
      .where({ action: 'refund.recorded', target_id: String(rows[1].id) });
    expect(JSON.parse(String(recorded[0].details))).toMatchObject({
      origin: 'registry',
      replacesRefundId: String(rows[0].id),
    });
    const stored = await t.gateway.services.reconcile.store.getItem(mine.id);
    expect(stored?.state).toBe('resolved');
    expect((await t.gateway.services.reconcile.store.getItem(theFatal.id))?.state).toBe('open');
  });

  it('when a cabinet refund is recorded with record-refund, then one success refund (origin registry), nothing sent to Kaspi, the billing told once even when it was down and the resolve is repeated', async () => {
    const p = await credited('500.00');
    const run = await upload(
      [
        [p.txnId, '500,00', '23.11.2026 14:15:00', p.account, 'Платёж'],
        [p.txnId, '200,00', '23.11.2026 18:00:00', p.account, 'Возврат'],
      ],
      'cabinet.csv',
    );
    const item = await itemOf(run.body.id, 'REFUND_MISSING_OURS');
    const filedBefore = refundApi.calls.RefundRequest;
    billing.mode = '5xx';
    const r = await resolve(item.id, {
      action: 'record-refund',
      note: 'refunded in the cabinet by the manager',
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ state: 'resolved', resolution: { action: 'record-refund', by: 'api' } });
    expect((await resolve(item.id, { action: 'record-refund' })).status).toBe(200);
    const rows = await t.gateway.db.knex('refunds').where({ txn_id: p.txnId });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ origin: 'registry', status: 'success', billing_notified_at: null });
    expect(refundApi.calls.RefundRequest).toBe(filedBefore);

    billing.heal();
    await makeDue(t.gateway);
    await t.gateway.services.refundPoller.runOnce();
    await makeDue(t.gateway);
    await t.gateway.services.refundPoller.runOnce();
    expect(billing.refunds.get(`refund:${rows[0].id}`)?.applied).toBe(1);
    const audit = await t.gateway.db
      .knex('audit_log')
      .whereIn('action', ['refund.recorded', 'item.resolved'])
      .where((q) =>
        q
          .where({ target_type: 'refund', target_id: String(rows[0].id) })
          .orWhere({ target_type: 'item', target_id: item.id }),
      );
    expect(audit.map((x) => x.action).sort()).toEqual(['item.resolved', 'refund.recorded']);
    expect(JSON.parse(String(audit.find((x) => x.action === 'item.resolved')?.details))).toMatchObject({
      action: 'record-refund',
      note: 'refunded in the cabinet by the manager',
    });
    // A class that takes no refund says so.
    const other = await upload([[newTxnId(), '1,00', '23.11.2026 10:00:00', 'x', 'Платёж']], 'other.csv');
    const missing = await itemOf(other.body.id, 'MISSING_OURS');
    expect((await resolve(missing.id, { action: 'record-refund' })).status).toBe(400);
  });
});
