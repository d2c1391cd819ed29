/**
 * A registry to try the reconciliation on (README "Reconciliation"): plants our side in the
 * configured database through the paths that make it in real life, and writes Kaspi's side as an
 * xlsx registry with one difference of each class of shared/spec/reconciliation.md (every one).
 *
 * - Payments through the pay path Kaspi's pay uses (embedded billing); two of them through the same
 *   path with an external billing that answers 503 (FakeBilling), so they stay `pending`.
 * - Refunds through the refund ledger and a Refund API (FakeRefundApi, on 127.0.0.1 for the run)
 *   that answers each the way the class needs: success, accepted (still with Kaspi), declined.
 * - Yesterday's registry, imported through the reconciliation itself (a clean run), so that a
 *   payment listed again today is IN_OTHER_REGISTRY and yesterday's payments are settled.
 *
 * The day is today in Kaspi time (KASPI_TXN_DATE_OFFSET): our refunds finish now, and
 * REFUND_MISSING_KASPI is a refund finished in the registry's period. Then:
 *
 *   npx tsx bench/reconcile-demo.ts --out reestr-demo.xlsx          # prints the import command
 *   npm run cli -- reconcile import reestr-demo.xlsx --from D --to D --profile kaspi-demo \
 *       --received-at <D+1>T09:00:00+05:00                           # the summary, exit 3
 *
 * Use a fresh database: other payments of that day are MISSING_KASPI too.
 */
import fs from 'node:fs';
import ExcelJS from 'exceljs';
import { openCliContext } from '../src/cli/cli-context.js';
import type { PaymentService } from '../src/payments/payment-service.js';
import { addDays, isoDay, wallAt } from '../src/reconcile/reconcile-calendar.js';
import type { ReconcileService } from '../src/reconcile/reconcile-service.js';
import type { RefundService } from '../src/refunds/refund-service.js';
import { readTxnDate } from '../src/shared/txn-date.js';
import { createServices, type Stores } from '../src/wiring/wiring.js';
import { FakeBilling } from '../test/support/fake-billing.js';
import { FakeRefundApi, type Step } from '../test/support/fake-refund-api.js';

export interface DemoResolution {
  class: string;
  action: string;
  note?: string;
  payment?: string;
  /**
   * Closed by the gateway itself once the job named here finished the money (the watch job then
   * auto-closes the item); `action` is what a person does when that job cannot run.
   */
  heals?: 'credit-retry' | 'refund-poll';
}

export interface Demo {
  /** The registry's day, YYYY-MM-DD (today in Kaspi time). */
  day: string;
  bytes: Buffer;
  /** What the run's totals.byClass counts. */
  expected: Record<string, number>;
  /** What closes each item that needs a person (or is watched). */
  resolutions: DemoResolution[];
  /** The CLI's import arguments after `reconcile import <file>`. */
  importArgs: string[];
}

/** What the demo plants through. */
export interface DemoDeps {
  /** The pay path (embedded billing). */
  payments: PaymentService;
  /** The same pay path with an external billing that is down: its credits stay pending. */
  pendingPayments: PaymentService;
  /** The refund ledger with a Refund API. */
  refunds: Pick<RefundService, 'create'>;
  /** How the Refund API answers the refunds of a txn_id (FakeRefundApi.script). */
  refundAnswers: (txnId: string, steps: Step[]) => void;
  reconcile: Pick<ReconcileService, 'import'>;
  stores: Pick<Stores, 'accounts' | 'payments'>;
}

export const DEMO_PROFILE = 'kaspi-demo';
const HEADER = [
  '№ платежа',
  'Сумма, тг',
  'Дата и время',
  'Лицевой счёт',
  'Тип операции',
  'Статус',
  'Номер возврата',
  'Услуга',
];
const ACTOR = { id: 'demo', ip: null };

async function registry(title: string, rows: unknown[][]): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('Реестр');
  ws.addRow([title]);
  ws.addRow([]);
  ws.addRow(HEADER);
  for (const r of rows) ws.addRow(r);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

/** `tag` keeps txn_ids and accounts apart between demos in one database. */
export async function plantDemo(
  deps: DemoDeps,
  tag = String(Date.now()).slice(-10),
  offset = '+05:00',
): Promise<Demo> {
  const d = wallAt(new Date(), offset).slice(0, 8);
  const y = addDays(d, -1);
  const ru = (day: string) => `${day.slice(6, 8)}.${day.slice(4, 6)}.${day.slice(0, 4)}`;
  const txn = (n: number) => `7${tag}${String(n).padStart(2, '0')}`;
  const acc = (n: number) => `DEMO-${tag}-${n}`;
  const open = (n: number) =>
    deps.stores.accounts.addAccount({ account: acc(n), name: 'Demo Payer', balance: 0 });
  const payWith = async (
    service: PaymentService,
    txnId: string,
    account: string,
    tiyn: number,
    raw: string,
  ) => {
    const when = readTxnDate(raw, offset) as { utc: string; iso: string };
    return service.recordAndCredit({
      source: 'kaspi',
      txnId,
      account,
      amount: tiyn,
      txnDateRaw: raw,
      txnDate: when.utc,
      txnDateIso: when.iso,
      extra: null,
    });
  };
  const payOurs = async (txnId: string, account: string, tiyn: number, raw: string) => {
    const out = await payWith(deps.payments, txnId, account, tiyn, raw);
    if (out.result !== 0) throw new Error(`demo payment ${txnId} was not credited: ${out.comment}`);
    return out;
  };
  const refund = async (n: number, tiyn: number, steps: Step[]) => {
    deps.refundAnswers(txn(n), steps);
    const { refund } = await deps.refunds.create({
      txnId: txn(n),
      amount: tiyn,
      reason: 'demo refund',
      createdBy: 'demo',
      actor: ACTOR,
    });
    return refund;
  };

  for (const n of [1, 2, 3, 4, 10, 11, 12, 13, 14, 15, 16, 17]) await open(n);

  // Yesterday: the damaged-id candidate and the payments today's refunds are of, listed and settled
  // by yesterday's registry (a clean run); one of them is listed again today.
  const long = `3${tag}0000456`; // Excel keeps 15 digits of a number: today's row damages it
  await payOurs(long, acc(4), 70_000, `${y}090000`);
  const yesterday: Array<[number, number]> = [
    [12, 12_000],
    [13, 15_000],
    [14, 30_000],
    [15, 20_000],
    [16, 25_000],
    [17, 18_000],
  ];
  for (const [n, tiyn] of yesterday) await payOurs(txn(n), acc(n), tiyn, `${y}1${n % 10}0000`);
  const money = (tiyn: number) => (tiyn / 100).toFixed(2).replace('.', ',');
  const earlier = await deps.reconcile.import(
    await registry(`Реестр платежей за ${ru(y)} (демо)`, [
      [long, money(70_000), `${ru(y)} 09:00:00`, acc(4), 'Платёж', 'Успешно', '', ''],
      ...yesterday.map(([n, tiyn]) => [
        txn(n),
        money(tiyn),
        `${ru(y)} 1${n % 10}:00:00`,
        acc(n),
        'Платёж',
        'Успешно',
        '',
        '',
      ]),
    ]),
    {
      fileName: `reestr-demo-${isoDay(y)}.xlsx`,
      from: isoDay(y),
      to: isoDay(y),
      profile: DEMO_PROFILE,
      origin: 'cli',
      actor: ACTOR,
    },
  );
  if (earlier.run?.status !== 'clean')
    throw new Error(`yesterday's demo registry is ${earlier.run?.status}, not clean`);

  // Our refunds, through the Refund API, each answered as its class needs.
  await refund(13, 10_000, [{ status: 2 }]); // success, listed: REFUND_MATCHED
  const r14 = await refund(14, 10_000, [{ status: 2 }]); // success, listed as 350.00 by its id
  await refund(15, 5_000, [{ status: 0 }, { status: 2 }]); // accepted, still with Kaspi
  await refund(16, 6_000, [{ status: 1 }]); // declined, yet Kaspi lists it
  await refund(17, 8_000, [{ status: 2 }]); // success, in no registry: REFUND_MISSING_KASPI
  if (wallAt(new Date(), offset).slice(0, 8) !== d)
    throw new Error('Kaspi midnight passed while the demo was planting: run it again');

  await payOurs(txn(1), acc(1), 200_000, `${d}141500`); // listed: MATCHED, its account and time differ
  await payOurs(txn(2), acc(2), 50_000, `${d}120000`); // listed as 500.01: AMOUNT_DIFFERS
  await payOurs(txn(3), acc(3), 30_000, `${d}100000`); // not listed: MISSING_KASPI
  // Refused (no such account yet); the account opens later, so the person can credit it.
  const refused = await payWith(deps.payments, txn(5), acc(5), 10_000, `${d}110000`);
  if (refused.result === 0) throw new Error('the demo payment meant to be refused was credited');
  await open(5);
  // The billing answers 503: pending. One is listed (PENDING_OURS), one is not (PENDING_NOT_LISTED).
  for (const [n, tiyn, raw] of [
    [10, 12_000, `${d}093000`],
    [11, 9_000, `${d}094500`],
  ] as const) {
    await payWith(deps.pendingPayments, txn(n), acc(n), tiyn, raw);
    const p = await deps.stores.payments.findByTxn('kaspi', txn(n));
    if (p?.state !== 'pending') throw new Error(`demo payment ${txn(n)} is ${p?.state}, not pending`);
  }

  const ok = (n: number | string, sum: string, time: string, account: string, type = 'Платёж') => [
    typeof n === 'number' ? txn(n) : n,
    sum,
    time,
    account,
    type,
    'Успешно',
    '',
    '',
  ];
  const bytes = await registry(`Реестр платежей за ${ru(d)} (демо)`, [
    ok(1, '2 000,00', `${ru(d)} 15:15:00`, `${acc(1)}-other`),
    ok(2, '500,01', `${ru(d)} 12:00:00`, acc(2)),
    ok(6, '250,00', `${ru(d)} 10:00:00`, acc(4)), // MISSING_OURS
    ok(5, '100,00', `${ru(d)} 11:00:00`, acc(5)), // REFUSED_OURS
    ok(1, '2 000,00', `${ru(d)} 15:15:00`, acc(1)), // DUPLICATE_ROW
    [txn(7), '15,00', `${ru(d)} 13:00:00`, acc(4), 'Платёж', 'Отклонён', '', ''], // STATUS_NOT_SUCCESS
    ok(10, '120,00', `${ru(d)} 09:30:00`, acc(10)), // PENDING_OURS
    ok(12, '120,00', `${ru(y)} 12:00:00`, acc(12)), // IN_OTHER_REGISTRY
    ok(1, '100,00', `${ru(d)} 18:00:00`, acc(1), 'Возврат'), // REFUND_MISSING_OURS
    ok(8, '40,00', `${ru(d)} 18:30:00`, acc(4), 'Возврат'), // REFUND_WITHOUT_PAYMENT
    ok(13, '100,00', `${ru(d)} 12:00:00`, acc(13), 'Возврат'), // REFUND_MATCHED
    // Ours is 100.00 under this id, and 350.00 is more than the 300.00 paid: both items, one row.
    [txn(14), '350,00', `${ru(d)} 12:10:00`, acc(14), 'Возврат', 'Успешно', r14.refundIdentificator, ''],
    ok(15, '50,00', `${ru(d)} 12:20:00`, acc(15), 'Возврат'), // REFUND_PENDING_OURS
    ok(16, '60,00', `${ru(d)} 12:30:00`, acc(16), 'Возврат'), // REFUND_STATUS_DIFFERS
    [txn(20), '50,00', `${ru(d)} 12:40:00`, acc(4), 'Платёж', 'Успешно', '', 'Kaspi QR'], // EXCLUDED
    ok(9, '10,00', '31.02.2026', acc(4)), // ROW_INVALID
    [Number(long), '700,00', `${ru(y)} 09:00:00`, acc(4), 'Платёж', 'Успешно', '', ''], // TXN_ID_PRECISION
    ['Итого', '1,00', '', '', '', '', '', ''], // FILE_TOTAL_MISMATCH
  ]);
  const next = isoDay(addDays(d, 1));
  return {
    day: isoDay(d),
    bytes,
    importArgs: [
      '--from',
      isoDay(d),
      '--to',
      isoDay(d),
      '--profile',
      DEMO_PROFILE,
      '--received-at',
      `${next}T09:00:00${offset}`,
    ],
    expected: {
      MATCHED: 1,
      MISSING_OURS: 1,
      PENDING_OURS: 1,
      REFUSED_OURS: 1,
      AMOUNT_DIFFERS: 1,
      ACCOUNT_DIFFERS: 1,
      DATE_DIFFERS: 1,
      STATUS_NOT_SUCCESS: 1,
      DUPLICATE_ROW: 1,
      IN_OTHER_REGISTRY: 1,
      MISSING_KASPI: 1,
      PENDING_NOT_LISTED: 1,
      REFUND_MATCHED: 1,
      REFUND_MISSING_OURS: 1,
      REFUND_PENDING_OURS: 1,
      REFUND_STATUS_DIFFERS: 1,
      REFUND_AMOUNT_DIFFERS: 1,
      REFUND_OVER_PAYMENT: 1,
      REFUND_WITHOUT_PAYMENT: 1,
      REFUND_MISSING_KASPI: 1,
      FILE_TOTAL_MISMATCH: 1,
      ROW_INVALID: 1,
      TXN_ID_PRECISION: 1,
      EXCLUDED: 1,
    },
    resolutions: [
      { class: 'MISSING_OURS', action: 'credit' },
      {
        class: 'PENDING_OURS',
        action: 'accept',
        note: 'credited by the retry after the billing came back',
        heals: 'credit-retry',
      },
      { class: 'REFUSED_OURS', action: 'credit' },
      {
        class: 'AMOUNT_DIFFERS',
        action: 'accept',
        note: 'Kaspi confirmed 500.01; the billing adjusted by 0.01',
      },
      { class: 'ACCOUNT_DIFFERS', action: 'accept', note: 'the same payer written another way' },
      { class: 'DUPLICATE_ROW', action: 'ignore', note: 'Kaspi: listed twice by mistake, settled once' },
      {
        class: 'IN_OTHER_REGISTRY',
        action: 'ignore',
        note: "Kaspi: yesterday's registry settled it, listed again by mistake",
      },
      { class: 'MISSING_KASPI', action: 'accept', note: 'Kaspi: in the next registry' },
      {
        class: 'PENDING_NOT_LISTED',
        action: 'ignore',
        note: 'Kaspi: in the next registry; the credit retry finishes it',
      },
      { class: 'REFUND_MISSING_OURS', action: 'record-refund', note: 'refunded in the Kaspi cabinet' },
      {
        class: 'REFUND_PENDING_OURS',
        action: 'accept',
        note: 'Kaspi: paid, the refund poll will see success',
        heals: 'refund-poll',
      },
      {
        class: 'REFUND_STATUS_DIFFERS',
        action: 'record-refund',
        note: 'Kaspi: the declined refund was paid after all',
      },
      {
        class: 'REFUND_AMOUNT_DIFFERS',
        action: 'accept',
        note: 'Kaspi: 100.00 refunded, the registry line is wrong',
      },
      { class: 'REFUND_OVER_PAYMENT', action: 'accept', note: 'Kaspi: the same wrong line, 100.00 refunded' },
      { class: 'REFUND_WITHOUT_PAYMENT', action: 'ignore', note: 'a sale that did not come through us' },
      { class: 'REFUND_MISSING_KASPI', action: 'accept', note: 'Kaspi: in the next registry' },
      { class: 'ROW_INVALID', action: 'ignore', note: 'Kaspi sent a corrected line by e-mail' },
      { class: 'TXN_ID_PRECISION', action: 'link', payment: long, note: 'same amount and day' },
      { class: 'FILE_TOTAL_MISMATCH', action: 'accept', note: 'Kaspi: the totals line is wrong' },
    ],
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const i = args.indexOf('--out');
  const out = i >= 0 && args[i + 1] ? (args[i + 1] as string) : 'reestr-demo.xlsx';
  const ctx = await openCliContext();
  const billing = await new FakeBilling().start();
  billing.mode = '5xx';
  const refundApi = new FakeRefundApi();
  await refundApi.start();
  try {
    const services = createServices(
      {
        ...ctx.config,
        REFUND_API_URL: refundApi.url,
        REFUND_API_LOGIN: refundApi.login,
        REFUND_API_PASSWORD: refundApi.password,
      },
      ctx.db,
      ctx.stores,
    );
    const down = createServices(
      {
        ...ctx.config,
        BILLING_ADAPTER: 'http',
        BILLING_URL: billing.url,
        BILLING_MAX_ATTEMPTS: 1,
        // The pending credits wait an hour: the gateway's own credit retry finishes them.
        RETRY_BACKOFF_MS: 3_600_000,
        RETRY_BACKOFF_MAX_MS: 3_600_000,
      },
      ctx.db,
      ctx.stores,
    );
    const demo = await plantDemo(
      {
        payments: services.payments,
        pendingPayments: down.payments,
        refunds: services.refunds,
        refundAnswers: (txnId, steps) => refundApi.script(txnId, steps),
        reconcile: services.reconcile,
        stores: ctx.stores,
      },
      undefined,
      ctx.config.KASPI_TXN_DATE_OFFSET,
    );
    fs.writeFileSync(out, demo.bytes);
    process.stdout.write(
      `${JSON.stringify({ file: out, day: demo.day, planted: demo.expected, resolutions: demo.resolutions }, null, 2)}\n` +
        `npm run cli -- reconcile import ${out} ${demo.importArgs.join(' ')}\n`,
    );
  } finally {
    await ctx.stores.requestLog.flush();
    await refundApi.stop();
    await billing.close();
    await ctx.db.close();
  }
}

if (process.argv[1] && /reconcile-demo\.ts$/.test(process.argv[1])) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
