import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startChildServer, type ChildServer } from '../support/child-process.js';
import { createTestDatabase, dbKinds, type TestDatabase } from '../support/databases.js';
import { balanceOf } from '../support/ledger.js';
import { captureLogs } from '../support/log-capture.js';
import {
  AUTH,
  paidQrPurchase,
  returnsConfig,
  startFakeWithReturns,
  startReturnsGateway,
  type ReturnsSetup,
} from '../support/kaspi-qr-returns.js';

captureLogs('error');

/**
 * r3 returns of one purchase asked at once of two gateway processes on one database (the lock is a
 * database row, not memory): they reach Kaspi one at a time, each after the one before was applied,
 * and what is returned never exceeds the purchase; the one that does not fit is refused, nothing
 * stored for it.
 */
describe.each(dbKinds)('[%s] Kaspi QR returns from two processes', (kind) => {
  let database: TestDatabase;
  let here: ReturnsSetup;
  let child: ChildServer;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    const shared = await startFakeWithReturns('r3');
    here = await startReturnsGateway(kind, 'r3', {}, database, shared);
    const env: Record<string, string> = {
      DATABASE_URL: database.url,
      ADMIN_API_KEY: 'test-admin-key-0123456789',
      LOG_LEVEL: 'error',
      // The child's own jobs stay quiet: only the two requests below return anything.
      REFUND_POLL_CRON: '0 0 1 1 *',
      KASPI_QR_POLL_CRON: '0 0 1 1 *',
    };
    for (const [k, v] of Object.entries(returnsConfig(shared.fake, shared.certs))) env[k] = String(v);
    child = await startChildServer(env);
  }, 60_000);
  afterAll(async () => {
    await child?.kill9();
    await here.t.close();
    await database.drop();
    await here.fake.stop();
  });

  const viaChild = (body: Record<string, unknown>) =>
    fetch(`http://127.0.0.1:${child.adminPort}/api/refunds`, {
      method: 'POST',
      headers: { ...AUTH, 'Content-Type': 'application/json' },
      body: JSON.stringify({ source: 'kaspi_qr', ...body }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
  const viaHere = (body: Record<string, unknown>) =>
    here.t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ source: 'kaspi_qr', ...body })
      .then((r) => ({ status: r.status, body: r.body as Record<string, unknown> }));

  it('when both processes return parts of one purchase at the same moment, then one at a time, and the total never exceeds it', async () => {
    const p = await paidQrPurchase(here, 50000);
    const applied: number[] = [];
    // Each return takes a while at Kaspi: a second one would overlap it if nothing across processes held it back.
    here.fake.fault('paymentReturn', { delayMs: 300, times: 4 });
    here.kaspi.afterReturn = () => applied.push(Date.now());
    const answers = await Promise.all([
      viaChild({ txnId: p.txnId, amount: '200.00', reason: 'child one' }),
      viaHere({ txnId: p.txnId, amount: '200.00', reason: 'here one' }),
      viaChild({ txnId: p.txnId, amount: '200.00', reason: 'child two' }),
    ]);
    here.kaspi.afterReturn = null;
    here.fake.clearFaults();
    const ok = answers.filter((a) => a.status === 202);
    expect(ok).toHaveLength(2);
    expect(ok.map((a) => a.body.status)).toEqual(['success', 'success']);
    // The third: refused (above what is left) or told to ask again (the lock), never a third return.
    for (const a of answers.filter((x) => x.status !== 202)) expect([409, 422]).toContain(a.status);
    expect(here.kaspi.returned(p.txnId)).toBe(40000);
    const arrivals = here.fake.calls('paymentReturn').map((r) => r.at);
    expect(arrivals).toHaveLength(2);
    expect(arrivals[1] as number).toBeGreaterThanOrEqual(applied[0] as number);
    const refunds = await here.t.gateway.db.knex('refunds').where({ txn_id: p.txnId });
    expect(refunds.map((r) => r.status).sort()).toEqual(['success', 'success']);
    expect(await balanceOf(here.t.gateway, p.account)).toBe(10000);
    expect(await here.t.gateway.db.knex('kaspi_qr_return_locks')).toHaveLength(0);

    // What is left is exactly the rest: one more of 100.00 goes through, and then nothing more.
    expect((await viaChild({ txnId: p.txnId, amount: '100.00', reason: 'the rest' })).status).toBe(202);
    const over = await viaHere({ txnId: p.txnId, amount: '0.01', reason: 'one tiyn too many' });
    expect(over.status).toBe(422);
    expect(here.kaspi.returned(p.txnId)).toBe(50000);
  }, 60_000);
});
