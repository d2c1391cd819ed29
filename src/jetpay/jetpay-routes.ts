import express, { Router, type Request, type Response } from 'express';
import { toJetpayAnswer } from './jetpay-errors.js';
import { isAppError } from '../shared/errors.js';
import { noteOutcome } from '../http/observe.js';
import { elapsedMs } from '../http/request-id.js';
import type { RequestLog } from '../http/request-log.js';
import { getLogger } from '../log/logger.js';
import { parseJetpayBody, type JsonObject } from './jetpay-json.js';
import {
  checkProject,
  claimedPaymentId,
  checkSignature,
  INVALID_SIGNATURE,
  readCallback,
  readCheckDeposit,
  readType,
  readVerify,
  requireObject,
} from './jetpay-request.js';
import type { JetpayService } from './jetpay-service.js';
import { StuckCallbackWatch } from './stuck-callback-watch.js';

const log = getLogger('jetpay');

export const JETPAY_PATH = '/jetpay';
export const JETPAY_CALLBACK_PATH = '/jetpay/callback';
/** JetPay's messages are a few hundred bytes; anything near this is not JetPay. */
export const JETPAY_BODY_LIMIT = 64 * 1024;

export interface JetpayRouteDeps {
  service: JetpayService;
  requestLog: RequestLog;
  projectId: string;
  secret: string;
  /** Development only (config refuses it in production): verify/check_deposit unsigned. Never callbacks. */
  skipRequestSignature: boolean;
  /** RETRY_STUCK_AFTER_MS: a callback still answered 500 after this long is an ERROR. */
  stuckAfterMs: number;
}

type Answer = { code: number; message?: string } & Record<string, unknown>;

/** What the request log files a request under; filled in as soon as the request says it. */
interface LogContext {
  command: string | null;
  txnId: string | null;
}

// The raw bytes, not express.json(): the body must be parsed losslessly (big integers keep their
// digits for the signature), and nothing else on this app may parse it first.
const rawBody = express.raw({ type: () => true, limit: JETPAY_BODY_LIMIT });

function readBody(req: Request, res: Response): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    rawBody(req, res, (err?: unknown) => {
      if (err) reject(err);
      else resolve(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
    });
  });
}

const SIGNATURE_VALUE = /("signature"\s*:\s*)("(?:[^"\\]|\\.)*"|[^,}\]\s]+)/g;

/** The request as logged: the signature is a credential-like value, kept out of the log. */
export function maskSignature(text: string): string {
  return text.replace(SIGNATURE_VALUE, '$1"***"');
}

/**
 * The HTTP status of an answer. verify/check_deposit: HTTP 200 whatever the JSON code (the seed's
 * tables). A callback: the status is the code (0 → 200), because the Gate platform redelivers a
 * callback until it gets HTTP 200 and reads nothing else (docs/decisions/004-jetpay.md).
 */
function httpStatusOf(kind: 'request' | 'callback', answer: Answer): number {
  if (kind === 'request' || answer.code === 0) return 200;
  return answer.code;
}

/**
 * POST /jetpay (verify, check_deposit) and POST /jetpay/callback. Authenticated by the Gate
 * signature, not by IP. A body over the limit is HTTP 413; every request and its answer goes to
 * the request log.
 */
export function jetpayRoutes(deps: JetpayRouteDeps): Router {
  const router = Router();
  const stuck = new StuckCallbackWatch(deps.requestLog, deps.stuckAfterMs);

  const serve =
    (
      kind: 'request' | 'callback',
      handle: (doc: JsonObject, ctx: LogContext, req: Request) => Promise<Answer>,
    ) =>
    async (req: Request, res: Response) => {
      const ctx: LogContext = { command: kind === 'callback' ? 'callback' : null, txnId: null };
      let raw: string | null = null;
      let tooLarge = false;
      let answer: Answer;
      try {
        const body = await readBody(req, res);
        raw = body.toString('utf8');
        answer = await handle(requireObject(parseJetpayBody(body)), ctx, req);
      } catch (e) {
        tooLarge = (e as { type?: string })?.type === 'entity.too.large';
        answer = tooLarge ? { code: 400, message: 'Request body too large' } : toJetpayAnswer(e);
        if (answer.code === 500 && !(isAppError(e) && e.operational)) {
          log.error('jetpay request failed', { err: e, requestId: req.id, kind });
        }
        if (answer.message === INVALID_SIGNATURE) {
          // WARN: noise heals itself; a wrong JETPAY_SECRET shows as a run of these (and no credits).
          log.warn('jetpay request with an invalid signature refused', {
            requestId: req.id,
            ip: req.ip,
            kind,
          });
        }
      }
      const status = tooLarge ? 413 : httpStatusOf(kind, answer);
      const text = JSON.stringify(answer);
      // A metric label, so a bounded name: only the types JetPay has.
      const endpoint =
        kind === 'callback'
          ? 'jetpay_callback'
          : ctx.command === 'verify' || ctx.command === 'check_deposit'
            ? `jetpay_${ctx.command}`
            : 'jetpay';
      noteOutcome(res, { endpoint, result: answer.code, txnId: ctx.txnId });
      res.status(status).type('application/json').send(text);
      if (kind === 'callback' && status === 500 && ctx.txnId !== null) stuck.answered500(ctx.txnId);
      deps.requestLog.record({
        channel: 'jetpay',
        requestId: req.id,
        clientIp: req.ip,
        method: 'POST',
        request: raw === null ? undefined : maskSignature(raw),
        command: ctx.command,
        txnId: ctx.txnId,
        httpStatus: status,
        result: answer.code,
        comment: typeof answer.message === 'string' ? answer.message : null,
        response: text,
        durationMs: elapsedMs(req),
      });
    };

  router.post(
    JETPAY_PATH,
    serve('request', async (doc, ctx) => {
      const type = readType(doc);
      ctx.command = type;
      if (!deps.skipRequestSignature) checkSignature(doc, deps.secret);
      checkProject(doc, deps.projectId);
      if (type === 'verify') return { ...(await deps.service.verify(readVerify(doc))) };
      const answer = await deps.service.checkDeposit(readCheckDeposit(doc));
      ctx.txnId = answer.payment_id;
      return { ...answer };
    }),
  );

  router.post(
    JETPAY_CALLBACK_PATH,
    serve('callback', async (doc, ctx, req) => {
      ctx.txnId = claimedPaymentId(doc);
      checkSignature(doc, deps.secret);
      checkProject(doc, deps.projectId);
      const r = readCallback(doc);
      ctx.txnId = r.paymentId;
      return { ...(await deps.service.callback(r, req.startedAt)) };
    }),
  );

  return router;
}
