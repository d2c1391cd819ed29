/**
 * `npm run bench:reconcile`: a registry of BENCH_RECONCILE_ROWS rows (default 200 000) against as many
 * credited Kaspi payments, imported and matched through the service (read → map → match → store), timed,
 * with the process's peak RSS growth sampled every 50 ms. Budget (shared/spec/reconciliation.md): under
 * 30 s and under 300 MiB on the 2-core machine. A benchmark, not a test: it prints figures, asserts none.
 *
 *   npm run bench:reconcile                          # SQLite in a temp dir, CSV
 *   BENCH_RECONCILE_FORMAT=xlsx npm run bench:reconcile
 *   DATABASE_URL=mysql://root@127.0.0.1:3306/bench_rc npm run bench:reconcile
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { actors } from '../src/audit/audit-log.js';
import { loadConfig } from '../src/config/config.js';
import { createDb, dbTime } from '../src/db/db.js';
import { migrateLatest } from '../src/db/migrate.js';
import { configureLogger } from '../src/log/logger.js';
import { createServices, createStores } from '../src/wiring/wiring.js';

const ROWS = Number(process.env.BENCH_RECONCILE_ROWS ?? 200_000);
const FORMAT = process.env.BENCH_RECONCILE_FORMAT === 'xlsx' ? 'xlsx' : 'csv';

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-rc-'));
  const url = process.env.DATABASE_URL ?? `sqlite:${path.join(dir, 'bench.sqlite')}`;
  configureLogger({ level: 'error', format: 'pretty', stream: process.stderr });
  const config = loadConfig({
    env: {},
    configDir: '/nonexistent',
    overrides: {
      NODE_ENV: 'test',
      DATABASE_URL: url,
      ADMIN_API_KEY: 'bench-key-0123456789',
      LOG_LEVEL: 'error',
      // 200 000 CSV rows of this shape are ~13 MB: above the 10 MiB default, within MEDIUMBLOB.
      RECONCILE_MAX_FILE_BYTES: 16 * 1024 * 1024,
    },
  });
  const db = createDb(url, { poolMax: 4 });
  await migrateLatest(db);
  const stores = createStores(db);
  const services = createServices(config, db, stores);

  const txn = (i: number) => `30${String(i).padStart(16, '0')}`;
  const t0 = Date.now();
  const now = dbTime();
  for (let i = 0; i < ROWS; i += 1000) {
    const batch = [];
    for (let j = i; j < Math.min(ROWS, i + 1000); j++) {
      const sec = j % 86_400;
      const hh = String(Math.floor(sec / 3600)).padStart(2, '0');
      const mm = String(Math.floor((sec % 3600) / 60)).padStart(2, '0');
      const ss = String(sec % 60).padStart(2, '0');
      batch.push({
        source: 'kaspi',
        txn_id: txn(j),
        account: `B${j % 5000}`,
        amount: 10_000 + (j % 997),
        txn_date_raw: `20261123${hh}${mm}${ss}`,
        state: 'credited',
        attempts: 1,
        received_at: now,
        updated_at: now,
        credited_at: now,
      });
    }
    await db.knex.batchInsert('payments', batch, 500);
  }
  const fillS = (Date.now() - t0) / 1000;

  const header = ['№ платежа', 'Сумма', 'Дата и время', 'Лицевой счёт', 'Тип операции'];
  const line = (j: number) => {
    const sec = j % 86_400;
    const t = `${String(Math.floor(sec / 3600)).padStart(2, '0')}:${String(Math.floor((sec % 3600) / 60)).padStart(2, '0')}:${String(sec % 60).padStart(2, '0')}`;
    const a = 10_000 + (j % 997);
    return [
      txn(j),
      `${Math.floor(a / 100)},${String(a % 100).padStart(2, '0')}`,
      `23.11.2026 ${t}`,
      `B${j % 5000}`,
      'Платёж',
    ];
  };
  let bytes: Buffer;
  if (FORMAT === 'xlsx') {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('Реестр');
    ws.addRow(header);
    for (let j = 0; j < ROWS; j++) ws.addRow(line(j));
    bytes = Buffer.from(await wb.xlsx.writeBuffer());
  } else {
    const lines = [header.join(';')];
    for (let j = 0; j < ROWS; j++) lines.push(line(j).join(';'));
    bytes = Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8');
  }

  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  const t1 = Date.now();
  const r = await services.reconcile.import(bytes, {
    fileName: `bench.${FORMAT}`,
    from: '2026-11-23',
    to: '2026-11-23',
    origin: 'cli',
    actor: actors.cli(),
  });
  const importS = (Date.now() - t1) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const totals = r.run?.totals as { byClass?: Record<string, { count: number }> } | null;
  const out = {
    database: db.dialect,
    format: FORMAT,
    rows: ROWS,
    fileBytes: bytes.length,
    fillSeconds: fillS,
    importAndMatchSeconds: importS,
    rssGrowthMiB: Math.round(((peak - base) / 1024 / 1024) * 10) / 10,
    status: r.run?.status,
    matched: totals?.byClass?.MATCHED?.count ?? 0,
    budget: { seconds: 30, rssGrowthMiB: 300 },
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  await db.close();
  if (!process.env.DATABASE_URL) fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
