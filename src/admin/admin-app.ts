import express, { type Express, type Router } from 'express';
import { ping, type Db } from '../db/db.js';
import { jsonErrorHandler, notFound } from '../http/error-mapper.js';
import { requestId } from '../http/request-id.js';

export interface AdminAppDeps {
  db: Db;
  /** More admin capabilities (/api, /metrics) mount here. */
  routers?: Router[];
}

/** The admin listener: health, metrics and the operator API. Keep it on a private address. */
export function createAdminApp(deps: AdminAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestId);
  app.get('/healthz', async (_req, res) => {
    const ok = await ping(deps.db);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', database: ok ? 'up' : 'down' });
  });
  for (const r of deps.routers ?? []) app.use(r);
  app.use(notFound);
  app.use(jsonErrorHandler);
  return app;
}
