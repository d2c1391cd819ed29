/**
 * `npm run bench:reconcile`: a registry of BENCH_RECONCILE_ROWS rows (default 200 000) against as many
 * credited Kaspi payments, imported and matched through the service (read → map → match → store), timed,
 * with the process's peak RSS growth sampled every 50 ms. Budget (shared/spec/reconciliation.md): under
 * 30 s and under 300 MiB on the 2-core machine. A benchmark, not a test: it prints figures, asserts none.
 *
 *   npm run bench:reconcile                          # SQLite in a temp dir, CSV
 *   BENCH_RECONCILE_FORMAT=xlsx npm run bench:reconcile
 *   DATABASE_URL=mysql://root@127.0.0.1:3306/bench_rc npm run bench:reconcile
 *   BENCH_RECONCILE_TRACE=1 npm run bench:reconcile  # + time per step and statements by shape
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
import { HeldRecords } from '../src/reconcile/reconcile-held.js';
import { ReconcileStore } from '../src/reconcile/reconcile-store.js';
import { createServices, createStores } from '../src/wiring/wiring.js';

const ROWS = Number(process.env.BENCH_RECONCILE_ROWS ?? 200_000);
const FORMAT = process.env.BENCH_RECONCILE_FORMAT === 'xlsx' ? 'xlsx' : 'csv';
const TRACE = process.env.BENCH_RECONCILE_TRACE === '1';

type Tally = Map<string, { n: number; ms: number }>;
const add = (t: Tally, k: string, ms: number) => {
  const e = t.get(k) ?? { n: 0, ms: 0 };
  e.n++;
  e.ms += ms;
  t.set(k, e);
};
const table = (t: Tally) =>
  [...t.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .map(([k, v]) => `${String(Math.round(v.ms)).padStart(8)} ms ${String(v.n).padStart(7)}×  ${k}`)
    .join('\n');

const mib = (b: number) => Math.round(b / 1024 / 1024);
/** Calls over 20 ms in order: when they started and ended (s from the import's start), RSS and heap after. */
const timeline: string[] = [];
let importStart = 0;

/** Wall time of each call of the store's and the held records' methods (outermost only counted once). */
function timeMethods(t: Tally, proto: object, label: string): void {
  const p = proto as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(proto)) {
    const f = p[name];
    if (name === 'constructor' || typeof f !== 'function') continue;
    if (f.constructor.name !== 'AsyncFunction') continue;
    p[name] = async function (this: unknown, ...args: unknown[]) {
      const t0 = performance.now();
      try {
        return await (f as (...a: unknown[]) => Promise<unknown>).apply(this, args);
      } finally {
        const t1 = performance.now();
        add(t, `${label}.${name}`, t1 - t0);
        if (t1 - t0 > 20) {
          const m = process.memoryUsage();
          const at = (x: number) => ((x - importStart) / 1000).toFixed(1).padStart(5);
          timeline.push(
            `${at(t0)}-${at(t1)} s  rss ${mib(m.rss)} MiB heap ${mib(m.heapUsed)} MiB  ${label}.${name}`,
          );
        }
      }
    };
  }
}

/** Statements by shape: the SQL with its bound lists and numbers folded, counted and timed. */
function traceStatements(knex: import('knex').Knex, t: Tally): void {
  const started = new Map<string, number>();
  knex.on('query', (q: { __knexQueryUid: string }) => started.set(q.__knexQueryUid, performance.now()));
  const done = (q: { __knexQueryUid: string; sql: string }) => {
    const t0 = started.get(q.__knexQueryUid);
    started.delete(q.__knexQueryUid);
    const shape = q.sql
      .replace(/\((\?, )+\?\)/g, '(?…)')
      .replace(/(\(\?…\), )+\(\?…\)/g, '(?…)…')
      .slice(0, 160);
    add(t, shape, t0 === undefined ? 0 : performance.now() - t0);
  };
  knex.on('query-response', (_r: unknown, q: { __knexQueryUid: string; sql: string }) => done(q));
  knex.on('query-error', (_e: unknown, q: { __knexQueryUid: string; sql: string }) => done(q));
}

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
  let peakAt = 0;
  const sampler = setInterval(() => {
    const rss = process.memoryUsage().rss;
    if (rss > peak) [peak, peakAt] = [rss, performance.now()];
  }, 50);
  const steps: Tally = new Map();
  const statements: Tally = new Map();
  if (TRACE) {
    timeMethods(steps, HeldRecords.prototype, 'held');
    timeMethods(steps, ReconcileStore.prototype, 'store');
    traceStatements(db.knex, statements);
  }
  importStart = performance.now();
  const t1 = Date.now();
  const cpu0 = process.cpuUsage();
  const r = await services.reconcile.import(bytes, {
    fileName: `bench.${FORMAT}`,
    from: '2026-11-23',
    to: '2026-11-23',
    origin: 'cli',
    actor: actors.cli(),
  });
  const importS = (Date.now() - t1) / 1000;
  const cpu = process.cpuUsage(cpu0);
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
    // This process's CPU over the import (user + system): on a shared machine it moves less with the
    // load than the wall time does. MySQL's own work is not in it.
    importCpuSeconds: Math.round((cpu.user + cpu.system) / 1e4) / 100,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    rssGrowthMiB: Math.round(((peak - base) / 1024 / 1024) * 10) / 10,
    status: r.run?.status,
    matched: totals?.byClass?.MATCHED?.count ?? 0,
    budget: { seconds: 30, rssGrowthMiB: 300 },
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  if (TRACE)
    process.stdout.write(
      `load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n` +
        `RSS before ${mib(base)} MiB, peak ${mib(peak)} MiB at ${((peakAt - importStart) / 1000).toFixed(1)} s\n\n` +
        `timeline:\n${timeline.join('\n')}\n\nsteps:\n${table(steps)}\n\nstatements:\n${table(statements)}\n`,
    );
  await db.close();
  if (!process.env.DATABASE_URL) fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
