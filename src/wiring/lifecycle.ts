import type { Express } from 'express';
import { createMetricsApp } from '../admin/admin-app.js';
import type { Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import { Listener, type ListenOptions } from '../http/listener.js';
import type { Scheduler } from '../jobs/scheduler.js';
import { getLogger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { raceDeadline, TIMED_OUT } from '../shared/deadline.js';

const log = getLogger('lifecycle');

/**
 * After the drain: credits finishing in the background, the request log's last entries and the pool
 * get this long (pm2's kill_timeout covers it). A credit still going then stays pending in the
 * database, and the retry job sends it again with the same idempotency key.
 */
const CLOSE_DATABASE_TIMEOUT_MS = 5000;

export interface Ports {
  port: number;
  adminPort: number;
  metricsPort?: number;
}

export interface Lifecycle {
  /**
   * Listens on PORT and ADMIN_PORT (0 = any free port), and METRICS_PORT when set, and starts the
   * crons (unless `jobs: false`); resolves with the bound ports.
   */
  start(opts?: { jobs?: boolean }): Promise<Ports>;
  /**
   * Stops taking connections, lets in-flight requests finish (up to SHUTDOWN_TIMEOUT_MS), stops
   * jobs, drains the pays finishing in the background, flushes the request log, closes the pool.
   * Safe to call more than once.
   */
  stop(): Promise<void>;
}

export interface LifecycleDeps {
  config: Config;
  db: Db;
  /** false when the caller passed its own database: it closes it. */
  ownsDb: boolean;
  app: Express;
  adminApp: Express;
  metrics: Metrics;
  scheduler: Scheduler;
  /** Pays answered 4 at the deadline may still be finishing their credit. */
  drainPayments(timeoutMs: number): Promise<void>;
  /** What else holds sockets or buffers: the billing's agent, the request log. */
  beforeDbClose(): Promise<void>;
  /** Once listening, before the crons: outside parties checked at start (Kaspi QR's ping). Must not throw. */
  afterStart?(): Promise<void>;
}

/**
 * Under pm2 each worker of an app has its own number, 0..instances-1 (NODE_APP_INSTANCE; not pm_id,
 * which grows across apps and restarts): its metrics port is METRICS_PORT + that.
 */
export function workerNumber(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.NODE_APP_INSTANCE ?? 0);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

export function createLifecycle(deps: LifecycleDeps): Lifecycle {
  const { config, scheduler } = deps;
  const listeners: Listener[] = [];
  const listenOptions = (port: number, host: string): ListenOptions => ({
    port,
    host,
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: config.HTTP_KEEPALIVE_TIMEOUT_MS,
  });
  let stopping: Promise<void> | undefined;

  const stopNow = async () => {
    const started = Date.now();
    // Requests drain and jobs wind down side by side: neither needs the other, and both are bounded.
    const [drained] = await Promise.all([
      Promise.all(listeners.map((l) => l.close(config.SHUTDOWN_TIMEOUT_MS))),
      scheduler.stop(),
    ]);
    const cut = drained.reduce((n, c) => n + c.cut, 0);
    if (cut > 0)
      log.error('requests cut at shutdown: check their payments', {
        cut,
        timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
      });
    // A frozen database must not hold the exit past pm2's kill_timeout: an open transaction is rolled
    // back by the server when its connection goes, and the payment is answered on Kaspi's repeat.
    const closing = (async () => {
      await deps.drainPayments(CLOSE_DATABASE_TIMEOUT_MS - 500);
      await deps.beforeDbClose();
      if (deps.ownsDb) await deps.db.close();
    })();
    const closed = await raceDeadline(closing, CLOSE_DATABASE_TIMEOUT_MS);
    if (closed === TIMED_OUT)
      log.warn('not everything closed in time: exiting anyway; the retry job finishes pending credits', {
        ms: CLOSE_DATABASE_TIMEOUT_MS,
      });
    log.info('stopped', { ms: Date.now() - started });
  };

  return {
    async start(opts = {}) {
      const pub = await Listener.listen(deps.app, {
        ...listenOptions(config.PORT, config.HOST),
        tls:
          config.TLS_CERT_FILE && config.TLS_KEY_FILE
            ? { certFile: config.TLS_CERT_FILE, keyFile: config.TLS_KEY_FILE }
            : undefined,
      });
      listeners.push(pub);
      const admin = await Listener.listen(deps.adminApp, listenOptions(config.ADMIN_PORT, config.ADMIN_HOST));
      listeners.push(admin);
      let metricsPort: number | undefined;
      if (config.METRICS_PORT !== undefined) {
        const port = config.METRICS_PORT === 0 ? 0 : config.METRICS_PORT + workerNumber();
        const m = await Listener.listen(
          createMetricsApp(deps.metrics),
          listenOptions(port, config.ADMIN_HOST),
        );
        listeners.push(m);
        metricsPort = m.port;
      }
      await deps.afterStart?.();
      if (opts.jobs !== false) scheduler.start();
      return { port: pub.port, adminPort: admin.port, metricsPort };
    },
    stop() {
      stopping ??= stopNow();
      return stopping;
    },
  };
}
