import { Counter, Gauge, type Registry } from 'prom-client';
import type { MethodName } from './kaspi-qr-methods.js';
import type { EngineStats } from './kaspi-qr-engine.js';
import type { KaspiQrService } from './kaspi-qr-service.js';
import { QR_STATES } from './kaspi-qr-store.js';

/**
 * Kaspi QR in /metrics: purchases by state and the oldest open one (database, at scrape time),
 * calls to Kaspi by method and outcome, the engine's polls and credits (this process), the client
 * certificate's expiry.
 */
export function kaspiQrMetrics(
  registry: Registry,
  service: KaspiQrService,
  engine: { stats: EngineStats },
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
  return {
    onCall(method, outcome) {
      calls.inc({ method, outcome });
    },
    async refresh(now) {
      const counts = await service.deps.store.countByState();
      for (const st of QR_STATES) byState.set({ state: st }, counts.get(st) ?? 0);
      const oldest = await service.deps.store.oldestOpen();
      return { oldestOpenSeconds: oldest ? Math.max(0, (now.getTime() - oldest.getTime()) / 1000) : 0 };
    },
  };
}
