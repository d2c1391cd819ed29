import https from 'node:https';
import type { Socket } from 'node:net';
import { getLogger } from '../log/logger.js';
import { meaningOf } from './kaspi-qr-codes.js';
import { KaspiQrApiError, KaspiQrTransportError, NotSupportedBySchemeError } from './kaspi-qr-errors.js';
import { methodSpec, type Input, type MethodName, type Scheme } from './kaspi-qr-methods.js';
import { createAgent, isTlsError, loadTlsMaterial, type CertInfo, type TlsFiles } from './kaspi-qr-tls.js';
import { newRequestId, parseWire, readInt, stringifyWire } from './kaspi-qr-wire.js';

const log = getLogger('kaspi-qr');

export interface KaspiQrClientOptions extends TlsFiles {
  baseUrl: string;
  apiKey?: string;
  organizationBin?: string;
  timeoutMs: number;
  testMode: boolean;
  /** GET attempts (transport errors, 5xx, -999); a POST goes again only when it never left. */
  maxAttempts?: number;
  retryBaseMs?: number;
  /** Counts every call by method and outcome (metrics). */
  onCall?: (method: MethodName, outcome: string) => void;
}

/** Kaspi's envelope, numbers still as their text. */
export interface Envelope {
  StatusCode: number;
  Message?: string;
  Data?: unknown;
}

const MAX_BODY = 1024 * 1024;
/** Sockets whose TLS handshake finished: what is written on them may have reached Kaspi. */
const SECURED = new WeakSet<Socket>();

interface RawAnswer {
  status: number;
  body: string;
}

/**
 * The Kaspi QR client: one per configuration, holding its keep-alive agent and no business state.
 * Every call goes through `call()`: capability check before any network call, a fresh X-Request-ID
 * per attempt, Api-Key only on r1, the envelope read, StatusCode mapped. GETs retry; a POST whose
 * answer was lost is an unknown outcome (KaspiQrTransportError with sent='maybe') for its caller
 * to handle.
 */
export class KaspiQrClient {
  readonly scheme: Scheme;
  private agent: https.Agent;
  private cert: CertInfo | null;
  private readonly base: URL;

  constructor(private readonly opts: KaspiQrClientOptions) {
    this.scheme = opts.scheme;
    this.base = new URL(opts.baseUrl.replace(/\/+$/, ''));
    if (this.base.protocol !== 'https:') throw new Error('Kaspi QR base URL must be https:');
    const m = loadTlsMaterial(opts);
    this.cert = m.info;
    this.agent = createAgent(m, opts.timeoutMs);
  }

  get certificate(): CertInfo | null {
    return this.cert;
  }

  get certFile(): string | undefined {
    return this.opts.pfxFile ?? this.opts.certFile;
  }

  /** Re-reads the files (SIGHUP): new calls use the new agent, calls in flight finish on the old one. */
  reload(): CertInfo | null {
    const m = loadTlsMaterial(this.opts);
    const old = this.agent;
    this.agent = createAgent(m, this.opts.timeoutMs);
    this.cert = m.info;
    setTimeout(() => old.destroy(), this.opts.timeoutMs + 1000).unref();
    return this.cert;
  }

  close(): void {
    this.agent.destroy();
  }

  supports(name: MethodName): boolean {
    const spec = methodSpec(name);
    return spec.schemes.includes(this.scheme) && (!spec.testOnly || this.opts.testMode);
  }

  /** Throws NotSupportedBySchemeError when the scheme (or test mode) lacks the method. */
  assertSupported(name: MethodName): void {
    const spec = methodSpec(name);
    if (!spec.schemes.includes(this.scheme))
      throw new NotSupportedBySchemeError(name, this.scheme, spec.instead);
    if (spec.testOnly && !this.opts.testMode)
      throw new NotSupportedBySchemeError(name, this.scheme, 'test emulation needs KASPI_QR_TEST_MODE=true');
  }

  /** One method call; resolves with the envelope of a StatusCode 0 answer. */
  async call(name: MethodName, input: Input = {}): Promise<Envelope> {
    this.assertSupported(name);
    const spec = methodSpec(name);
    const ctx = { scheme: this.scheme, bin: this.opts.organizationBin };
    const path = spec.path(input, ctx);
    let body: string | undefined;
    if (spec.verb === 'POST') {
      const b = spec.body ? spec.body(input) : {};
      if (spec.binInBody && this.scheme === 'r3') b.OrganizationBin = this.opts.organizationBin;
      body = stringifyWire(b);
    }
    const maxAttempts = this.opts.maxAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        const env = await this.attempt(name, spec.verb, path, body);
        this.opts.onCall?.(name, 'ok');
        return env;
      } catch (e) {
        const again =
          attempt < maxAttempts &&
          (spec.verb === 'GET'
            ? e instanceof KaspiQrTransportError || (e instanceof KaspiQrApiError && e.kaspiCode === -999)
            : e instanceof KaspiQrTransportError && e.sent === 'no');
        this.opts.onCall?.(
          name,
          e instanceof KaspiQrApiError
            ? e.kind
            : e instanceof KaspiQrTransportError
              ? `transport_${e.reason}`
              : 'error',
        );
        if (!again) throw e;
        const base = (this.opts.retryBaseMs ?? 500) * 2 ** (attempt - 1);
        await new Promise((r) => setTimeout(r, base / 2 + Math.random() * base));
      }
    }
  }

  private async attempt(
    name: MethodName,
    verb: 'GET' | 'POST',
    path: string,
    body?: string,
  ): Promise<Envelope> {
    const requestId = newRequestId();
    const started = Date.now();
    const raw = await this.send(name, verb, path, body, requestId);
    const ms = Date.now() - started;
    const fields = { method: name, path: logPath(path), requestId, httpStatus: raw.status, ms };
    if (raw.status >= 500) {
      log.debug('kaspi qr call: http error', fields);
      throw new KaspiQrTransportError('http', 'maybe', `HTTP ${raw.status}`, name);
    }
    const env = readEnvelope(raw.body);
    if (!env) {
      log.debug('kaspi qr call: unreadable answer', fields);
      throw new KaspiQrTransportError('garbage', 'maybe', `unreadable answer (HTTP ${raw.status})`, name);
    }
    const level = verb === 'POST' ? 'info' : 'debug';
    log.log(level, 'kaspi qr call', { ...fields, statusCode: env.StatusCode });
    if (env.StatusCode !== 0)
      throw new KaspiQrApiError(env.StatusCode, env.Message ?? meaningOf(env.StatusCode).meaning, name);
    return env;
  }

  private send(
    name: MethodName,
    verb: string,
    path: string,
    body: string | undefined,
    requestId: string,
  ): Promise<RawAnswer> {
    const url = new URL(this.base.pathname + path, this.base);
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'Content-Type': 'application/json',
      'X-Request-ID': requestId,
    };
    // r1 only; r2/r3 authenticate by certificate and never send the key.
    if (this.scheme === 'r1' && this.opts.apiKey) headers['Api-Key'] = this.opts.apiKey;
    if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
    return new Promise<RawAnswer>((resolve, reject) => {
      let handshakeDone = false;
      let settled = false;
      const fail = (e: KaspiQrTransportError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(e);
      };
      const req = https.request(url, { method: verb, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) fail(new KaspiQrTransportError('garbage', 'maybe', 'answer too large', name));
          else chunks.push(c);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', () => fail(new KaspiQrTransportError('reset', 'maybe', 'answer cut off', name)));
      });
      req.on('socket', (s) => {
        // A reused keep-alive socket finished its handshake long ago.
        if (SECURED.has(s)) handshakeDone = true;
        else
          s.once('secureConnect', () => {
            SECURED.add(s);
            handshakeDone = true;
          });
      });
      const timer = setTimeout(
        () =>
          fail(
            new KaspiQrTransportError(
              'timeout',
              handshakeDone ? 'maybe' : 'no',
              `no answer in ${this.opts.timeoutMs} ms`,
              name,
            ),
          ),
        this.opts.timeoutMs,
      );
      req.on('error', (e: NodeJS.ErrnoException) => {
        const code = e.code ?? '';
        if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH'].includes(code))
          fail(new KaspiQrTransportError('refused', 'no', `${code} connecting to ${url.host}`, name));
        else if (!handshakeDone)
          fail(
            new KaspiQrTransportError(
              isTlsError(e) || code === 'ECONNRESET' ? 'tls' : 'network',
              'no',
              `TLS handshake failed: ${e.message}`,
              name,
            ),
          );
        else
          fail(
            new KaspiQrTransportError(
              'reset',
              'maybe',
              `${code || e.message} after the request was sent`,
              name,
            ),
          );
      });
      req.end(body);
    });
  }
}

/** Ids stay in the path (they are what an operator greps for); a device token in a query does not. */
function logPath(path: string): string {
  return path.replace(/([?&](?:DeviceToken|deviceToken|phoneNumber)=)[^&]*/g, '$1***');
}

/** The envelope, or null when the answer is not one (not JSON, no integer StatusCode). */
export function readEnvelope(text: string): Envelope | null {
  let v: unknown;
  try {
    v = parseWire(text);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const code = readInt(o.StatusCode);
  if (code === null) return null;
  const msg = o.Message ?? o.message; // the test emulation answers with a lowercase `message`
  return {
    StatusCode: code,
    Message: typeof msg === 'string' ? msg : undefined,
    Data: o.Data,
  };
}
