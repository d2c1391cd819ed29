/**
 * The Kaspi QR status engine with many open purchases (issue 18): QR_OPEN purchases (10 000) made
 * through the service against the fake Kaspi QR server over real HTTPS, then the engine ticked as the
 * scheduler ticks it (every KASPI_QR_POLL_CRON period, 2 s by default) for QR_RUN_S seconds of real
 * time. Prints Kaspi status calls per second against what the purchases' StatusPollingInterval allows
 * (open / interval: the most we may ask), how often each purchase was actually asked, the tick's
 * length, and database statements per poll (knex's 'query' event).
 *
 *   TEST_DATABASE_URL=mysql://root@127.0.0.1:3306/test npm run bench:qr -- mysql
 *   npm run bench:qr            (SQLite)
 */
import os from 'node:os';
import { configureLogger } from '../src/log/logger.js';
import type { DbKind } from '../test/support/databases.js';
import { startQrGateway } from '../test/support/kaspi-qr.js';

const env = process.env;
const OPEN = Number(env.QR_OPEN ?? 10_000);
const RUN_S = Number(env.QR_RUN_S ?? 30);
const TICK_MS = Number(env.QR_TICK_MS ?? 2000);
const INTERVAL_S = Number(env.QR_INTERVAL_S ?? 5);
const kind = (process.argv[2] ?? 'sqlite') as DbKind;

function pct(sorted: number[], p: number): number {
  return sorted.length
    ? (sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0)
    : 0;
}

async function main(): Promise<void> {
  configureLogger({ level: 'warn', format: 'pretty' });
  const { fake, t } = await startQrGateway(kind, 'r1', { KASPI_QR_TIMEOUT_MS: 15_000 });
  fake.behaviour.StatusPollingInterval = INTERVAL_S;
  // Open for the whole run: scanned never, so every purchase stays due at its own interval.
  fake.behaviour.QrCodeScanWaitTimeout = 3600;
  const qr = t.gateway.services.kaspiQr!;
  const started = Date.now();
  let made = 0;
  let lost = 0;
  let asked = 0;
  const worker = async () => {
    while (asked < OPEN + lost) {
      const key = `bench-${asked++}`;
      // A lost answer on a loaded machine leaves nothing open: counted, and made again under a new key.
      await qr.service.create({ kind: 'qr', account: 'QR-1', amount: 100_00, idempotencyKey: key }).then(
        () => (made += 1),
        () => (lost += 1),
      );
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const makeS = (Date.now() - started) / 1000;

  const statusCalls = () => fake.calls('paymentStatus').length;
  let queries = 0;
  const onQuery = () => queries++;
  t.gateway.db.knex.on('query', onQuery);
  const calls0 = statusCalls();
  const polls0 = qr.engine.stats.polls;
  const tickMs: number[] = [];
  const runStart = Date.now();
  while (Date.now() - runStart < RUN_S * 1000) {
    const t0 = Date.now();
    await qr.engine.run();
    tickMs.push(Date.now() - t0);
    const wait = TICK_MS - (Date.now() - t0);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const runS = (Date.now() - runStart) / 1000;
  t.gateway.db.knex.off('query', onQuery);
  const calls = statusCalls() - calls0;
  const polls = qr.engine.stats.polls - polls0;

  // How long each purchase went between two asks, from the fake's own record of the run.
  const byId = new Map<string, number[]>();
  for (const r of fake.requests.filter((x) => x.method === 'paymentStatus' && x.at >= runStart)) {
    const id = r.path.split('/').pop()!;
    const list = byId.get(id) ?? [];
    list.push(r.at);
    byId.set(id, list);
  }
  const gaps: number[] = [];
  for (const ats of byId.values())
    for (let i = 1; i < ats.length; i++) gaps.push((ats[i]! - ats[i - 1]!) / 1000);
  gaps.sort((a, b) => a - b);
  tickMs.sort((a, b) => a - b);

  const allowed = OPEN / INTERVAL_S;
  const rate = calls / runS;
  console.log(
    `## Kaspi QR engine, ${kind}: ${OPEN.toLocaleString('en')} open purchases (made in ${makeS.toFixed(0)} s, ${lost} create answers lost and made again)`,
  );
  console.log(
    `StatusPollingInterval ${INTERVAL_S} s, tick every ${TICK_MS} ms, ${runS.toFixed(0)} s of ticks`,
  );
  console.log('| measure | value |');
  console.log('| --- | ---: |');
  console.log(`| Kaspi status calls/s | ${rate.toFixed(1)} |`);
  console.log(`| most the intervals allow (open / interval) | ${allowed.toFixed(0)} |`);
  console.log(`| calls/s ÷ allowed | ${(rate / allowed).toFixed(3)} |`);
  console.log(
    `| purchases asked at least once in the run | ${byId.size.toLocaleString('en')} of ${OPEN.toLocaleString('en')} |`,
  );
  console.log(
    `| seconds between two asks of one purchase, p50 / max | ${pct(gaps, 50).toFixed(1)} / ${(gaps.at(-1) ?? 0).toFixed(1)} |`,
  );
  console.log(`| tick length p50 / max, ms | ${pct(tickMs, 50)} / ${tickMs.at(-1) ?? 0} |`);
  console.log(`| database statements per poll | ${polls ? (queries / polls).toFixed(1) : 'n/a'} |`);
  console.log(`load average ${os.loadavg()[0]?.toFixed(1)}`);
  await t.close();
  await t.database.drop();
  await fake.stop();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
