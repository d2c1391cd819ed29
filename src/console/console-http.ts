import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Session } from './session-store.js';
import { roleAtLeast, type Role } from './user-store.js';
import { AppError, ForbiddenError } from '../shared/errors.js';
import { LANGS, type Lang } from './format.js';

export const SESSION_COOKIE = 'console_session';
export const LANG_COOKIE = 'console_lang';

/** What every console page knows about the request (res.locals.console). */
export interface ConsoleLocals {
  session: Session | null;
  lang: Lang;
  /** The CSP nonce is not needed: no inline script or style at all. */
}

/** The request's cookies, from the header (no cookie-parser: two cookies, one small function). */
export function cookies(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i < 1) continue;
    const k = part.slice(0, i).trim();
    const v = part.slice(i + 1).trim();
    if (!(k in out)) {
      try {
        out[k] = decodeURIComponent(v);
      } catch {
        out[k] = v;
      }
    }
  }
  return out;
}

/** `Secure` whenever the request came over TLS (req.secure honours TRUST_PROXY) or the setting says so. */
export function cookieFlags(req: Request, forceSecure: boolean): string {
  return `Path=/console; HttpOnly; SameSite=Strict${req.secure || forceSecure ? '; Secure' : ''}`;
}

export function setCookie(res: Response, name: string, value: string, flags: string, maxAgeS?: number) {
  res.append(
    'Set-Cookie',
    `${name}=${encodeURIComponent(value)}; ${flags}${maxAgeS === undefined ? '' : `; Max-Age=${maxAgeS}`}`,
  );
}

export function clearCookie(res: Response, name: string, flags: string) {
  res.append('Set-Cookie', `${name}=; ${flags}; Max-Age=0`);
}

/**
 * The headers of every console answer: a CSP that allows only our own script and style (no inline
 * anything, no outside origin), no framing, no sniffing, no referrer, no caching of pages.
 */
export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader(
    'Content-Security-Policy',
    [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      "connect-src 'self'",
      "form-action 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join('; '),
  );
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=()');
  next();
}

export function isLang(v: unknown): v is Lang {
  return typeof v === 'string' && (LANGS as readonly string[]).includes(v);
}

/** The CSRF token sent with a form equals the session's (compared in constant time). */
export function csrfOk(given: unknown, session: Session): boolean {
  if (typeof given !== 'string' || given.length === 0 || given.length > 200) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(session.csrfToken).digest();
  return timingSafeEqual(a, b);
}

/**
 * A request from another site or origin, by what the browser says: `Sec-Fetch-Site` (every current
 * browser) and, when it names one, `Origin`. With `Referrer-Policy: no-referrer` a browser sends
 * `Origin: null` on our own forms, so "null" alone proves nothing; the CSRF token decides then.
 */
export function crossOrigin(req: Request): boolean {
  const site = req.get('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') return true;
  const origin = req.get('origin');
  if (!origin || origin === 'null') return false;
  try {
    return new URL(origin).host !== req.get('host');
  } catch {
    return true;
  }
}

export class CsrfError extends AppError {
  constructor() {
    super('csrf', 'missing or wrong CSRF token', { httpStatus: 403 });
  }
}

export function needRole(session: Session, role: Role): void {
  if (!roleAtLeast(session.role, role))
    throw new ForbiddenError(`role ${session.role} may not do this; ${role} is needed`);
}
