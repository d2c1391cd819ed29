/**
 * A registry to try the reconciliation on (README "Reconciliation"): plants our side in the
 * configured database (accounts and Kaspi payments, through the same pay path Kaspi's pay uses) and
 * writes Kaspi's side as an xlsx registry with one difference of each class that can be planted
 * without a Refund API or a billing that is down. Then:
 *
 *   npx tsx bench/reconcile-demo.ts --out reestr-demo.xlsx          # prints the import command
 *   npm run cli -- reconcile import reestr-demo.xlsx --from 2026-11-23 --to 2026-11-23 \
 *       --received-at 2026-11-24T09:00:00+05:00                      # the summary, exit 3
 *
 * Use a fresh database (or another --day): other payments of that day are MISSING_KASPI too.
 */
import fs from 'node:fs';
import ExcelJS from 'exceljs';
import { openCliContext } from '../src/cli/cli-context.js';
import { addDays } from '../src/reconcile/reconcile-calendar.js';
import { readTxnDate } from '../src/shared/txn-date.js';
import type { Services } from '../src/wiring/services.js';
import { createServices, type Stores } from '../src/wiring/wiring.js';

export interface DemoResolution {
  class: string;
  action: string;
  note?: string;
  payment?: string;
}

export interface Demo {
  bytes: Buffer;
  /** What the run's totals.byClass counts. */
  expected: Record<string, number>;
  /** What closes each item that needs a person (or is watched). */
  resolutions: DemoResolution[];
}

const HEADER = ['№ платежа', 'Сумма, тг', 'Дата и время', 'Лицевой счёт', 'Тип операции', 'Статус'];

/** `day` YYYY-MM-DD; `tag` keeps txn_ids and accounts apart between demos in one database. */
export async function plantDemo(
  services: Pick<Services, 'payments'>,
  stores: Pick<Stores, 'accounts'>,
  day = '2026-11-23',
  tag = String(Date.now()).slice(-10),
  offset = '+05:00',
): Promise<Demo> {
  const d = day.replace(/-/g, '');
  const ru = `${d.slice(6, 8)}.${d.slice(4, 6)}.${d.slice(0, 4)}`;
  const txn = (n: number) => `7${tag}${String(n).padStart(2, '0')}`;
  const acc = (n: number) => `DEMO-${tag}-${n}`;
  const open = (n: number) => stores.accounts.addAccount({ account: acc(n), name: 'Demo Payer', balance: 0 });
  const payOurs = async (txnId: string, account: string, tiyn: number, raw: string) => {
    const when = readTxnDate(raw, offset) as { utc: string; iso: string };
    return services.payments.recordAndCredit({
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
  for (const n of [1, 2, 3, 4]) await open(n);
  await payOurs(txn(1), acc(1), 200_000, `${d}141500`); // listed: MATCHED, its account and time differ
  await payOurs(txn(2), acc(2), 50_000, `${d}120000`); // listed as 500.01: AMOUNT_DIFFERS
  await payOurs(txn(3), acc(3), 30_000, `${d}100000`); // not listed: MISSING_KASPI
  // Refused (no such account yet); the account opens later, so the person can credit it.
  const refused = await payOurs(txn(5), acc(5), 10_000, `${d}110000`);
  if (refused.result === 0) throw new Error('the demo payment meant to be refused was credited');
  await open(5);
  // Excel keeps 15 digits of a number: the row's 18-digit id is damaged, ours is the candidate.
  const long = `3${tag}0000456`;
  const before = addDays(d, -1);
  await payOurs(long, acc(4), 70_000, `${before}090000`);

  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('Реестр');
  ws.addRow([`Реестр платежей за ${ru} (демо)`]);
  ws.addRow([]);
  ws.addRow(HEADER);
  const rows: unknown[][] = [
    [txn(1), '2 000,00', `${ru} 15:15:00`, `${acc(1)}-other`, 'Платёж', 'Успешно'],
    [txn(2), '500,01', `${ru} 12:00:00`, acc(2), 'Платёж', 'Успешно'],
    [txn(6), '250,00', `${ru} 10:00:00`, acc(4), 'Платёж', 'Успешно'], // MISSING_OURS
    [txn(5), '100,00', `${ru} 11:00:00`, acc(5), 'Платёж', 'Успешно'], // REFUSED_OURS
    [txn(1), '2 000,00', `${ru} 15:15:00`, acc(1), 'Платёж', 'Успешно'], // DUPLICATE_ROW
    [txn(7), '15,00', `${ru} 13:00:00`, acc(4), 'Платёж', 'Отклонён'], // STATUS_NOT_SUCCESS
    [txn(1), '100,00', `${ru} 18:00:00`, acc(1), 'Возврат', 'Успешно'], // REFUND_MISSING_OURS
    [txn(8), '40,00', `${ru} 18:30:00`, acc(4), 'Возврат', 'Успешно'], // REFUND_WITHOUT_PAYMENT
    [txn(9), '10,00', '31.02.2026', acc(4), 'Платёж', 'Успешно'], // ROW_INVALID
    [
      Number(long),
      '700,00',
      `${before.slice(6, 8)}.${before.slice(4, 6)}.${before.slice(0, 4)} 09:00:00`,
      acc(4),
      'Платёж',
      'Успешно',
    ], // TXN_ID_PRECISION
    ['Итого', '1,00', '', '', '', ''], // FILE_TOTAL_MISMATCH
  ];
  for (const r of rows) ws.addRow(r);
  return {
    bytes: Buffer.from(await wb.xlsx.writeBuffer()),
    expected: {
      MATCHED: 1,
      ACCOUNT_DIFFERS: 1,
      DATE_DIFFERS: 1,
      AMOUNT_DIFFERS: 1,
      MISSING_OURS: 1,
      REFUSED_OURS: 1,
      DUPLICATE_ROW: 1,
      STATUS_NOT_SUCCESS: 1,
      MISSING_KASPI: 1,
      REFUND_MISSING_OURS: 1,
      REFUND_WITHOUT_PAYMENT: 1,
      ROW_INVALID: 1,
      TXN_ID_PRECISION: 1,
      FILE_TOTAL_MISMATCH: 1,
    },
    resolutions: [
      { class: 'MISSING_OURS', action: 'credit' },
      { class: 'REFUSED_OURS', action: 'credit' },
      {
        class: 'AMOUNT_DIFFERS',
        action: 'accept',
        note: 'Kaspi confirmed 500.01; the billing adjusted by 0.01',
      },
      { class: 'ACCOUNT_DIFFERS', action: 'accept', note: 'the same payer written another way' },
      { class: 'DUPLICATE_ROW', action: 'ignore', note: 'Kaspi: listed twice by mistake, settled once' },
      { class: 'MISSING_KASPI', action: 'accept', note: 'Kaspi: in the next registry' },
      { class: 'REFUND_MISSING_OURS', action: 'record-refund', note: 'refunded in the Kaspi cabinet' },
      { class: 'REFUND_WITHOUT_PAYMENT', action: 'ignore', note: 'a sale that did not come through us' },
      { class: 'ROW_INVALID', action: 'ignore', note: 'Kaspi sent a corrected line by e-mail' },
      { class: 'TXN_ID_PRECISION', action: 'link', payment: long, note: 'same amount and day' },
      { class: 'FILE_TOTAL_MISMATCH', action: 'accept', note: 'Kaspi: the totals line is wrong' },
    ],
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, fallback: string) => {
    const i = args.indexOf(name);
    return i >= 0 && args[i + 1] ? (args[i + 1] as string) : fallback;
  };
  const day = opt('--day', '2026-11-23');
  const out = opt('--out', 'reestr-demo.xlsx');
  const ctx = await openCliContext();
  try {
    const demo = await plantDemo(createServices(ctx.config, ctx.db, ctx.stores), ctx.stores, day);
    fs.writeFileSync(out, demo.bytes);
    const next = addDays(day.replace(/-/g, ''), 1);
    process.stdout.write(
      `${JSON.stringify({ file: out, planted: demo.expected, resolutions: demo.resolutions }, null, 2)}\n` +
        `npm run cli -- reconcile import ${out} --from ${day} --to ${day} --received-at ${next.slice(0, 4)}-${next.slice(4, 6)}-${next.slice(6, 8)}T09:00:00+05:00\n`,
    );
  } finally {
    await ctx.db.close();
  }
}

if (process.argv[1] && /reconcile-demo\.ts$/.test(process.argv[1])) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
