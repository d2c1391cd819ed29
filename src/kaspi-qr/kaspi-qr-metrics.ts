import { Counter, Gauge, type Registry } from 'prom-client';
import { dbTime } from '../db/db.js';
import { REFUND_STATUSES } from '../refunds/refund-store.js';
import { SESSION_STATES } from '../refunds/kaspi-qr-return-sessions.js';
import type { MethodName } from './kaspi-qr-methods.js';
import type { EngineStats } from './kaspi-qr-engine.js';
import type { KaspiQrService } from './kaspi-qr-service.js';
import { QR_STATES } from './kaspi-qr-store.js';
import type { RemoteInvoices } from './remote-invoice.js';

/** A remote invoice whose 24 h + 5 min check is this late: the expiry job is not running. */
const EXPIRY_LATE_MS = 15 * 60_000;
/** A post-payment check due this long: the engine is not running (a failed read retries within 1 h). */
const PAID_CHECK_LATE_MS = 2 * 3_600_000;
const INVOICE_STATES = ['sending', 'created', 'unknown'] as const;

/**
 * Kaspi QR in /metrics: purchases by state and the oldest open one (database, at scrape time),
 * calls to Kaspi by method and outcome, the engine's polls and credits (this process), the client
 * certificate's expiry; remote invoices (by state, their 24 h checks overdue, refreshes that asked
 * Kaspi or answered the stored state), returns (kaspi_qr refunds by status, r2 sessions by state),
 * and the post-payment check (outcomes in this process, checks overdue). docs/monitoring/kaspi-qr.rules.yml
 * alerts on them.
 */
export function kaspiQrMetrics(
  registry: Registry,
  service: KaspiQrService,
  engine: { stats: EngineStats },
  remote: Pick<RemoteInvoices, 'stats'> | null = null,
): {
  onCall(method: MethodName, outcome: string): void;
  refresh(now: Date): Promise<{ oldestOpenSeconds: number }>;
} {
  const registers = [registry];
  const byState = new Gauge({
    name: 'gateway_kaspi_qr_payments',
    help: 'Kaspi QR purchases by our state (pending and scanned are open)',
    labelNames: ['state'],
    registers,
  });
  const calls = new Counter({
    name: 'gateway_kaspi_qr_calls_total',
    help: 'Calls to Kaspi QR by method and outcome (ok, a Kaspi error kind, transport_<reason>)',
    labelNames: ['method', 'outcome'],
    registers,
  });
  new Counter({
    name: 'gateway_kaspi_qr_polls_total',
    help: 'Status calls made by the status engine in this process',
    registers,
    collect() {
      this.reset();
      this.inc(engine.stats.polls);
    },
  });
  new Counter({
    name: 'gateway_kaspi_qr_credits_total',
    help: 'Purchases credited by the status engine in this process (first credit only, never a replay)',
    registers,
    collect() {
      this.reset();
      this.inc(engine.stats.credits);
    },
  });
  new Gauge({
    name: 'gateway_kaspi_qr_cert_expiry_seconds',
    help: 'Seconds until the Kaspi QR client certificate expires (absent for r1)',
    registers,
    collect() {
      const c = service.client.certificate;
      if (c) this.set((c.validTo.getTime() - Date.now()) / 1000);
    },
  });
  const invoices = new Gauge({
    name: 'gateway_kaspi_qr_remote_invoices',
    help: 'Remote invoices by remote/create outcome: sending, created, unknown (answer lost: a person decides)',
    labelNames: ['state'],
    registers,
  });
  const expiryOverdue = new Gauge({
    name: 'gateway_kaspi_qr_remote_expiry_overdue',
    help: 'Remote invoices whose 24 h + 5 min check is over 15 min late (the expiry job is not running)',
    registers,
  });
  new Counter({
    name: 'gateway_kaspi_qr_remote_refreshes_total',
    help: 'Refreshes of remote invoices in this process: kaspi (a status call was made) or stored (inside the 30 s window)',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset();
      this.inc({ outcome: 'kaspi' }, remote?.stats.asked ?? 0);
      this.inc({ outcome: 'stored' }, remote?.stats.stored ?? 0);
    },
  });
  const returns = new Gauge({
    name: 'gateway_kaspi_qr_returns',
    help: 'Kaspi QR returns (refunds with source kaspi_qr) by status; new = its outcome is being settled',
    labelNames: ['status'],
    registers,
  });
  const sessions = new Gauge({
    name: 'gateway_kaspi_qr_return_sessions',
    help: 'r2 return sessions by state (pending: waiting for the scan, identified: the return is being made)',
    labelNames: ['state'],
    registers,
  });
  new Counter({
    name: 'gateway_kaspi_qr_paid_checks_total',
    help: 'Post-payment checks (payment/details once on paid) in this process: ok, mismatch (flagged), failed (gave up: flagged)',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset();
      const st = service.paidCheck.stats;
      this.inc({ outcome: 'ok' }, st.ok);
      this.inc({ outcome: 'mismatch' }, st.mismatch);
      this.inc({ outcome: 'failed' }, st.failed);
    },
  });
  const checksOverdue = new Gauge({
    name: 'gateway_kaspi_qr_paid_checks_overdue',
    help: 'Paid purchases whose post-payment check has been due for over 2 h (the engine is not running)',
    registers,
  });

  const knex = service.deps.db.knex;
  const grouped = async (q: Promise<unknown[]>, key: string): Promise<Map<string, number>> =>
    new Map(
      (await q).map((r) => [String((r as Record<string, unknown>)[key]), Number((r as { n: unknown }).n)]),
    );

  return {
    onCall(method, outcome) {
      calls.inc({ method, outcome });
    },
    async refresh(now) {
      const counts = await service.deps.store.countByState();
      for (const st of QR_STATES) byState.set({ state: st }, counts.get(st) ?? 0);
      const oldest = await service.deps.store.oldestOpen();

      const inv = await grouped(
        knex('kaspi_qr_remote_invoices').select('state').count({ n: '*' }).groupBy('state'),
        'state',
      );
      for (const st of INVOICE_STATES) invoices.set({ state: st }, inv.get(st) ?? 0);
      const late = (await knex('kaspi_qr_remote_invoices')
        .where({ state: 'created', expiry_done: false })
        .where('expiry_check_at', '<', dbTime(new Date(now.getTime() - EXPIRY_LATE_MS)))
        .count({ n: '*' })
        .first()) as { n: unknown } | undefined;
      expiryOverdue.set(Number(late?.n ?? 0));

      const ret = await grouped(
        knex('refunds').where({ source: 'kaspi_qr' }).select('status').count({ n: '*' }).groupBy('status'),
        'status',
      );
      for (const st of REFUND_STATUSES) returns.set({ status: st }, ret.get(st) ?? 0);
      const ses = await grouped(
        knex('kaspi_qr_return_sessions').select('state').count({ n: '*' }).groupBy('state'),
        'state',
      );
      for (const st of SESSION_STATES) sessions.set({ state: st }, ses.get(st) ?? 0);

      const checks = (await knex('kaspi_qr_purchases')
        .where('details_due_at', '<', dbTime(new Date(now.getTime() - PAID_CHECK_LATE_MS)))
        .count({ n: '*' })
        .first()) as { n: unknown } | undefined;
      checksOverdue.set(Number(checks?.n ?? 0));

      return { oldestOpenSeconds: oldest ? Math.max(0, (now.getTime() - oldest.getTime()) / 1000) : 0 };
    },
  };
}
