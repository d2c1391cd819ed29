import fs from 'node:fs';
import http, { type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { ConfigError } from '../config/config.js';

export interface ListenOptions {
  port: number;
  host: string;
  /** PEM files: the listener speaks HTTPS. */
  tls?: { certFile: string; keyFile: string };
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export interface CloseResult {
  /** Requests still running when the time was up, whose connections were cut. */
  cut: number;
  ms: number;
}

/**
 * One listening server and its graceful close. Apps are built apart (createApp); this owns the socket:
 * timeouts, TLS, and the drain that lets every request in flight finish before the process exits.
 */
export class Listener {
  private draining = false;
  private readonly active = new Set<ServerResponse>();

  private constructor(readonly server: http.Server) {
    // First listener, ahead of the app: a request that arrives while draining is answered, and its
    // connection closed after the answer, so no client keeps a connection to a process that is leaving.
    server.prependListener('request', (_req, res: ServerResponse) => {
      this.active.add(res);
      res.once('close', () => this.active.delete(res));
      if (this.draining) res.setHeader('Connection', 'close');
    });
  }

  static async listen(app: Express, opts: ListenOptions): Promise<Listener> {
    // Node checks the timeouts below every connectionsCheckingInterval (30 s by default): once a
    // second makes a 15 s header timeout mean 15-16 s, not up to 45.
    const base = { connectionsCheckingInterval: 1000 };
    const server = opts.tls
      ? https.createServer({ ...base, ...readTls(opts.tls), minVersion: 'TLSv1.2' }, app)
      : http.createServer(base, app);
    // Slow senders: headers and the whole request must arrive in time. The answer's own time is not
    // limited here (pay has PAY_DEADLINE_MS). keep-alive outlives the proxy's idle timeout: see config.
    server.headersTimeout = opts.headersTimeoutMs;
    server.requestTimeout = opts.requestTimeoutMs;
    server.keepAliveTimeout = opts.keepAliveTimeoutMs;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new Listener(server);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get inFlight(): number {
    return this.active.size;
  }

  /**
   * Stops taking connections, lets requests in flight finish (their connections close after the
   * answer), closes idle keep-alive connections, and after `timeoutMs` cuts whatever is left.
   */
  async close(timeoutMs: number): Promise<CloseResult> {
    const started = Date.now();
    this.draining = true;
    for (const res of this.active) if (!res.headersSent) res.setHeader('Connection', 'close');
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // server.close() drops the connections idle at that moment; these sweeps drop the ones that
    // become idle later (an answer already on its way when the drain began).
    const sweep = setInterval(() => this.server.closeIdleConnections(), 100);
    let cut = 0;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        cut = this.active.size;
        this.server.closeAllConnections();
        resolve();
      }, timeoutMs);
    });
    this.server.closeIdleConnections();
    await Promise.race([closed, timedOut]);
    clearInterval(sweep);
    clearTimeout(timer);
    await closed;
    return { cut, ms: Date.now() - started };
  }
}

function readTls(tls: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  const read = (key: string, file: string) => {
    try {
      return fs.readFileSync(file);
    } catch (e) {
      throw new ConfigError([
        `${key}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      ]);
    }
  };
  return { cert: read('TLS_CERT_FILE', tls.certFile), key: read('TLS_KEY_FILE', tls.keyFile) };
}
