import express, { type Express, type Router } from 'express';
import { ping, type Db } from '../db/db.js';
import { jsonErrorHandler, notFound } from '../http/error-mapper.js';
import { observeRequests } from '../http/observe.js';
import { requestId } from '../http/request-id.js';
import { getLogger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';

export interface AdminAppDeps {
  db: Db;
  /** Prometheus text at /metrics (no auth: the admin listener is private). */
  metrics?: Metrics;
  /** More admin capabilities (/api) mount here. */
  routers?: Router[];
  /** What else /healthz reports (Kaspi QR's state); never changes the 200/503, which is the database's. */
  health?: () => Promise<Record<string, unknown>>;
}

const accessLog = getLogger('access');

/** The admin listener: health, metrics and the operator API. Keep it on a private address. */
export function createAdminApp(deps: AdminAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestId);
  app.use(observeRequests({ log: accessLog, quietPaths: ['/healthz', '/metrics'] }));
  app.get('/healthz', async (_req, res) => {
    const ok = await ping(deps.db);
    const more = deps.health ? await deps.health().catch(() => ({})) : {};
    res
      .status(ok ? 200 : 503)
      .json({ status: ok ? 'ok' : 'unavailable', database: ok ? 'up' : 'down', ...more });
  });
  const metrics = deps.metrics;
  if (metrics) {
    app.get('/metrics', async (_req, res) => {
      const body = await metrics.render();
      res.status(200).type(metrics.contentType).send(body);
    });
  }
  for (const r of deps.routers ?? []) app.use(r);
  app.use(notFound);
  app.use(jsonErrorHandler);
  return app;
}

/** The optional per-worker metrics listener (METRICS_PORT): /metrics and nothing else. */
export function createMetricsApp(metrics: Metrics): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (_req, res) => {
    res
      .status(200)
      .type(metrics.contentType)
      .send(await metrics.render());
  });
  app.use(notFound);
  app.use(jsonErrorHandler);
  return app;
}
