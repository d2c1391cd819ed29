import express, {
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import type { Config } from './config/config.js';
import { notFound, plainErrorHandler } from './http/error-mapper.js';
import { trustProxySetting, type IpAllowlist } from './http/ip-allowlist.js';
import { observeRequests, requestWatcher } from './http/observe.js';
import { requestId, startRequest } from './http/request-id.js';
import { runWithRequestContext } from './log/request-context.js';
import { getLogger } from './log/logger.js';
import type { Metrics } from './metrics/metrics.js';
import type { RequestLog } from './http/request-log.js';
import { kaspiHandler } from './kaspi/kaspi-routes.js';
import type { PaymentService } from './payments/payment-service.js';
import type { Router } from 'express';

export interface PublicAppDeps {
  config: Config;
  allowlist: IpAllowlist;
  payments: PaymentService;
  requestLog: RequestLog;
  /** Request counters and latency, kept in memory (no query on the pay path). */
  metrics?: Metrics;
  /** More capabilities (JetPay) mount their routers here. */
  routers?: Router[];
}

const accessLog = getLogger('access');

/**
 * The public listener's app: Kaspi's path and JetPay's; nothing else of ours is reachable here.
 * Built without listening, so tests drive it in-process.
 */
/** What requestId and observeRequests do for every other path, done by the Kaspi route itself. */
function kaspiRoute(watch: (res: Response) => void, handler: RequestHandler): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    startRequest(req, res);
    watch(res);
    return runWithRequestContext({ requestId: req.id }, () => handler(req, res, next));
  };
}

export function createApp(deps: PublicAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', trustProxySetting(deps.config.TRUST_PROXY));
  // Kaspi's path first, ahead of the stack every other path walks: the request id, the access line
  // and the request context are entered by the route itself (kaspiRoute), one layer instead of three.
  const watch = requestWatcher({ log: accessLog, metrics: deps.metrics });
  app.get(
    deps.config.KASPI_PATH,
    kaspiRoute(
      watch,
      kaspiHandler({
        path: deps.config.KASPI_PATH,
        allowlist: deps.allowlist,
        payments: deps.payments,
        requestLog: deps.requestLog,
        rules: {
          accountRegex: new RegExp(deps.config.ACCOUNT_REGEX, 'u'),
          minSum: deps.config.PAY_MIN_SUM,
          maxSum: deps.config.PAY_MAX_SUM,
          txnDateOffset: deps.config.KASPI_TXN_DATE_OFFSET,
        },
      }),
    ),
  );
  app.use(requestId);
  app.use(observeRequests({ log: accessLog, metrics: deps.metrics }));
  for (const r of deps.routers ?? []) app.use(r);
  app.use(notFound);
  app.use(plainErrorHandler);
  return app;
}
