import { fillScale } from '../../bench/scale-fill.js';
import { purgeRequestLog } from '../../src/jobs/request-log-retention.js';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { captureSelects, planProblems, type Expectation } from '../support/query-plan.js';

const AUTH = { Authorization: 'Bearer test-admin-key-0123456789' };
const PAYMENTS = 20_000;
const NOW = new Date();

/**
 * The admin lists and searches at ten million rows are only as fast as the index each one reads:
 * these tests fill a database (the scale bench's own fill, smaller), send each request through
 * the admin API, catch the SELECTs it runs and ask the database for their plans (EXPLAIN). A
 * missing index, or a query the indexes cannot serve in order, fails here, not at a partner's.
 */
describe.each(dbKinds)('[%s] admin lists read by index (EXPLAIN)', (kind) => {
  let t: TestGateway;
  let middle: string;
  let dayMiddle: string;

  beforeAll(async () => {
    t = await startTestGateway(kind);
    await fillScale(t.gateway.db, {
      payments: PAYMENTS,
      accounts: 2000,
      logPerPayment: 3,
      refunds: 400,
      days: 400,
      now: NOW,
      batch: 5000,
    });
    const ids = (await t.gateway.db.knex('payments').orderBy('id').pluck('id')) as string[];
    middle = String(ids[Math.floor(ids.length / 2)]);
    const ofDay = (await t.gateway.db
      .knex('payments')
      .where('received_at', '>=', day(200))
      .where('received_at', '<', day(199))
      .orderBy('id')
      .pluck('id')) as string[];
    dayMiddle = String(ofDay[Math.floor(ofDay.length / 2)]);
  }, 120_000);
  afterAll(async () => {
    await t.close();
  });

  const day = (offsetDays: number) =>
    new Date(NOW.getTime() - offsetDays * 86_400_000).toISOString().slice(0, 10);
  const cases: [string, () => string, Expectation][] = [
    ['payments, first page', () => '/api/payments?limit=50', { indexes: { payments: ['PRIMARY'] } }],
    [
      'payments, a deep page',
      () => `/api/payments?limit=50&before=${middle}`,
      { indexes: { payments: ['PRIMARY'] } },
    ],
    [
      'payments of one account, deep',
      () => `/api/payments?account=BENCH-00007&before=${middle}`,
      { indexes: { payments: ['payments_account_idx'] } },
    ],
    [
      'flagged payments (the Attention page)',
      () => '/api/payments?flagged=true&limit=100',
      { indexes: { payments: ['payments_flagged_idx'] } },
    ],
    [
      'payments by status',
      () => '/api/payments?status=declined&limit=50',
      { indexes: { payments: ['payments_state_idx'] } },
    ],
    [
      'payments by status, deep',
      () => `/api/payments?status=declined&limit=50&before=${middle}`,
      { indexes: { payments: ['payments_state_idx'] } },
    ],
    [
      'payments by source',
      () => '/api/payments?source=jetpay&limit=50',
      { indexes: { payments: ['payments_source_idx'] } },
    ],
    [
      // A day of a long history: (received_at, id) walked backwards, one page read, nothing sorted.
      'payments of one day',
      () => `/api/payments?from=${day(200)}&to=${day(199)}&limit=50`,
      { indexes: { payments: ['payments_received_id_idx'] } },
    ],
    [
      // The next page: the cursor's own row by its key, then the same index from below it.
      'payments of one day, a deep page',
      () => `/api/payments?from=${day(200)}&to=${day(199)}&limit=50&before=${dayMiddle}`,
      { indexes: { payments: ['payments_received_id_idx', 'PRIMARY'] } },
    ],
    [
      'one payment by txn_id, with its refunds',
      () => '/api/payments/900000000000000103',
      { indexes: { payments: ['payments_txn_idx'], refunds: ['refunds_payment_idx'] } },
    ],
    [
      "one payment's request-log evidence",
      () => '/api/payments/900000000000000103/request-log',
      { indexes: { request_log: ['request_log_txn_idx'] } },
    ],
    ['refunds, first page', () => '/api/refunds?limit=50', { indexes: { refunds: ['PRIMARY'] } }],
    [
      'refunds by status',
      () => '/api/refunds?status=fatal',
      { indexes: { refunds: ['refunds_status_idx'] } },
    ],
    [
      // Flagged refunds are the handful a person must handle: read by their index, then sorted.
      'refunds flagged',
      () => '/api/refunds?flagged=true',
      { indexes: { refunds: ['refunds_flagged_idx'] }, sortAllowed: true },
    ],
    [
      'refunds of a txn_id',
      () => '/api/refunds?txnId=900000000000000103',
      { indexes: { refunds: ['refunds_txn_idx'] } },
    ],
    [
      'the metrics scrape (pending credits, refunds by status, flagged refunds)',
      () => '/metrics',
      {
        indexes: {
          payments: ['payments_state_next_idx', 'payments_state_idx'],
          // by status for gateway_refunds{status} (any index led by status: SQLite may take the
          // reconciliation's (status, finished_at)); flagged_at for gateway_refunds_flagged
          refunds: [
            'refunds_status_idx',
            'refunds_status_next_idx',
            'refunds_status_finished_idx',
            'refunds_flagged_idx',
          ],
        },
      },
    ],
  ];

  it.each(cases)(
    'when the admin API lists %s, then every SELECT reads the index it needs',
    async (_name, url, want) => {
      const selects = await captureSelects(t.gateway.db, async () => {
        const res = await t.admin().get(url()).set(AUTH);
        expect(res.status).toBe(200);
      });
      expect(selects.length).toBeGreaterThan(0);
      const problems = [];
      for (const q of selects) problems.push(...(await planProblems(t.gateway.db, q, want)));
      expect(problems).toEqual([]);
    },
  );

  it('when keyset pages are followed to the end, then they hold every payment of the filter once, newest first', async () => {
    const seen: string[] = [];
    let before: string | null = '';
    let pages = 0;
    while (before !== null) {
      const res = await t
        .admin()
        .get(`/api/payments?account=BENCH-00011&limit=3${before ? `&before=${before}` : ''}`)
        .set(AUTH);
      expect(res.status).toBe(200);
      seen.push(...(res.body.payments as { prvTxn: string }[]).map((p) => p.prvTxn));
      before = res.body.nextBefore as string | null;
      pages++;
    }
    const expected = (await t.gateway.db
      .knex('payments')
      .where({ account: 'BENCH-00011' })
      .orderBy('id', 'desc')
      .pluck('id')) as (string | number)[];
    expect(expected).toHaveLength(PAYMENTS / 2000);
    expect(seen).toEqual(expected.map(String));
    expect(pages).toBe(Math.ceil(expected.length / 3) + (expected.length % 3 === 0 ? 1 : 0));
  });

  it('when the pages of one day are followed to the end, then they hold every payment of the day once, newest first, ties by id', async () => {
    const db = t.gateway.db;
    const from = day(300);
    const to = day(299);
    const ofDay = (await db
      .knex('payments')
      .where('received_at', '>=', from)
      .where('received_at', '<', to)
      .orderBy('id')
      .pluck('id')) as (string | number)[];
    expect(ofDay.length).toBeGreaterThan(20);
    // The day's ten oldest ids made its newest instant: received order is not id order here, and a
    // page boundary falls among equal received_at values.
    const same = (await db
      .knex('payments')
      .where({ id: ofDay.at(-1) })
      .first('received_at')) as {
      received_at: string;
    };
    await db.knex('payments').whereIn('id', ofDay.slice(0, 10)).update({ received_at: same.received_at });
    const expected = (
      (await db
        .knex('payments')
        .where('received_at', '>=', from)
        .where('received_at', '<', to)
        .orderBy([
          { column: 'received_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .pluck('id')) as (string | number)[]
    ).map(String);
    const seen: string[] = [];
    let before: string | null = '';
    while (before !== null) {
      const res = await t
        .admin()
        .get(`/api/payments?from=${from}&to=${to}&limit=4${before ? `&before=${before}` : ''}`)
        .set(AUTH);
      expect(res.status).toBe(200);
      seen.push(...(res.body.payments as { prvTxn: string }[]).map((p) => p.prvTxn));
      before = res.body.nextBefore as string | null;
    }
    expect(seen).toEqual(expected);
  });

  it('when the retention purge selects a batch, then it reads request_log_at_idx in order and sorts nothing', async () => {
    const selects = await captureSelects(t.gateway.db, async () => {
      // 3650 days keeps every row (the fill goes back 400): the select runs, nothing is deleted.
      expect(await purgeRequestLog(t.gateway.db, 3650, NOW)).toBe(0);
    });
    expect(selects).toHaveLength(1);
    expect(
      await planProblems(t.gateway.db, selects[0] as never, {
        indexes: { request_log: ['request_log_at_idx'] },
      }),
    ).toEqual([]);
  });

  it('when an index the lists need is missing, then the plan check names it', async () => {
    const db = t.gateway.db;
    const selects = await captureSelects(db, () =>
      t.admin().get('/api/payments/900000000000000103').set(AUTH),
    );
    const want = { indexes: { payments: ['payments_txn_idx'] } };
    await db.knex.schema.alterTable('payments', (tb) => tb.dropIndex(['txn_id'], 'payments_txn_idx'));
    try {
      const problems = await planProblems(db, selects[0] as never, want);
      expect(problems.join('\n')).toMatch(/payments: reads .*wants payments_txn_idx/);
    } finally {
      await db.knex.schema.alterTable('payments', (tb) => tb.index(['txn_id'], 'payments_txn_idx'));
    }
  });
});
