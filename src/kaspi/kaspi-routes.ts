import type { Request, RequestHandler, Response } from 'express';
import { clientIp, elapsedMs } from '../http/request-id.js';
import { toKaspiAnswer } from './kaspi-errors.js';
import { noteOutcome } from '../http/observe.js';
import type { IpAllowlist } from '../http/ip-allowlist.js';
import type { RequestLog } from '../http/request-log.js';
import { getLogger } from '../log/logger.js';
import type { PaymentService } from '../payments/payment-service.js';
import { isRejection, validateKaspiRequest, type KaspiRules } from './kaspi-request.js';
import { renderCheck, renderPay } from './kaspi-xml.js';

const log = getLogger('kaspi');
const XML_TYPE = 'text/xml; charset=utf-8';

export interface KaspiDeps {
  path: string;
  allowlist: IpAllowlist;
  rules: KaspiRules;
  payments: PaymentService;
  requestLog: RequestLog;
}

/**
 * GET {KASPI_PATH}: Kaspi's check and pay. Every protocol outcome, errors included, is HTTP 200
 * with an XML body; only a caller outside the allowlist gets a bare 403. The public app routes it
 * directly (`app.get`, not a router of its own: one stack walk less per request on the busiest path).
 */
export function kaspiHandler(deps: KaspiDeps): RequestHandler {
  return async (req: Request, res: Response) => {
    const rawQuery = req.originalUrl.includes('?')
      ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1)
      : '';
    const ip = clientIp(req);
    const entry = {
      channel: 'kaspi' as const,
      requestId: req.id,
      clientIp: ip,
      method: 'GET',
      request: rawQuery,
    };

    if (!deps.allowlist.allows(ip)) {
      noteOutcome(res, { endpoint: 'kaspi' });
      log.warn('caller outside the allowlist refused', { ip, requestId: req.id });
      res.status(403).type('text/plain').send('Forbidden');
      deps.requestLog.record({ ...entry, httpStatus: 403, comment: 'forbidden', durationMs: elapsedMs(req) });
      return;
    }

    const parsed = validateKaspiRequest(rawQuery, deps.rules);
    let body: string;
    let result: number;
    let comment: string;
    const command = isRejection(parsed) ? parsed.command : parsed.command;
    const txnId = parsed.txnId;

    if (isRejection(parsed)) {
      ({ result, comment } = parsed);
      body =
        parsed.command === 'pay'
          ? renderPay({ txnId, prvTxn: null, sum: null, result, comment })
          : renderCheck({ txnId, result, comment });
    } else if (parsed.command === 'check') {
      try {
        const out = await deps.payments.check(parsed.account, req.startedAt);
        ({ result, comment } = out);
        body = renderCheck({ txnId, result, comment, fields: out.fields });
      } catch (e) {
        log.warn('check failed: billing unavailable', { err: e, txnId, requestId: req.id });
        ({ result, comment } = toKaspiAnswer(e));
        body = renderCheck({ txnId, result, comment });
      }
    } else {
      try {
        // recordAndCredit() answers every failure itself (4 when in doubt) and is not meant to throw.
        const out = await deps.payments.recordAndCredit({
          source: 'kaspi',
          txnId: parsed.txnId,
          account: parsed.account,
          amount: parsed.sum as number,
          txnDateRaw: parsed.txnDateRaw,
          txnDate: parsed.txnDateUtc,
          txnDateIso: parsed.txnDateIso,
          extra: parsed.extra,
          startedAt: req.startedAt,
        });
        ({ result, comment } = out);
        body = renderPay({ txnId, prvTxn: out.prvTxn, sum: out.amount, result, comment });
      } catch (e) {
        // If it ever does, the payment may be stored: 4 (Kaspi repeats), never 5 and never a bare 500.
        log.error('pay threw past its own error handling; answered 4', { err: e, txnId, requestId: req.id });
        result = 4;
        comment = 'Payment is being processed';
        body = renderPay({ txnId, prvTxn: null, sum: parsed.sum, result, comment });
      }
    }

    // A label, so only the two commands we know: anything else a caller sends is plain `kaspi`.
    const endpoint = command === 'check' || command === 'pay' ? `kaspi_${command}` : 'kaspi';
    noteOutcome(res, { endpoint, result, txnId });
    // What res.status().type().send() sends for this body, without its content-type parsing.
    res.writeHead(200, { 'Content-Type': XML_TYPE, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    deps.requestLog.record({
      ...entry,
      command,
      txnId,
      httpStatus: 200,
      result,
      comment,
      response: body,
      durationMs: elapsedMs(req),
    });
  };
}
