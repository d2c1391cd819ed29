import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
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
 * An idle keep-alive connection is closed at a stop only after it has been idle this long. A busy
 * client sends its next request within milliseconds and gets `Connection: close` with the answer: a
 * clean close. Closing at once instead races with a request already on its way (the client sees
 * ECONNRESET for a request the server never read).
 */
const IDLE_GRACE_MS = 1000;
const SWEEP_EVERY_MS = 100;

interface ConnectionState {
  active: number;
  idleSince: number;
}

/**
 * One listening server and its graceful close. Apps are built apart (createApp); this owns the socket:
 * timeouts, TLS, and the drain that lets every request in flight finish before the process exits.
 */
export class Listener {
  private draining = false;
  private readonly active = new Set<ServerResponse>();
  private readonly connections = new Map<Socket, ConnectionState>();

  private constructor(
    readonly server: http.Server,
    tls: boolean,
  ) {
    server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
      this.connections.set(socket, { active: 0, idleSince: Date.now() });
      socket.once('close', () => this.connections.delete(socket));
    });
    // First listener, ahead of the app: a request that arrives while draining is answered, and its
    // connection closed after the answer, so no client keeps a connection to a process that is leaving.
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      this.active.add(res);
      const conn = this.connections.get(req.socket);
      if (conn) conn.active += 1;
      res.once('close', () => {
        this.active.delete(res);
        if (conn) {
          conn.active -= 1;
          conn.idleSince = Date.now();
        }
      });
      if (this.draining) res.setHeader('Connection', 'close');
    });
  }

  static async listen(app: Express, opts: ListenOptions): Promise<Listener> {
    // Node checks the timeouts below every connectionsCheckingInterval (30 s by default): once a
    // second makes a 15 s header timeout mean 15-16 s, not up to 45.
    const base = { connectionsCheckingInterval: 1000 };
    const server = opts.tls
      ? https.createServer(
          // a handshake that never finishes must not hold a stop until Node's 120 s default
          { ...base, ...readTls(opts.tls), minVersion: 'TLSv1.2', handshakeTimeout: opts.headersTimeoutMs },
          app,
        )
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
    return new Listener(server, Boolean(opts.tls));
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get inFlight(): number {
    return this.active.size;
  }

  /**
   * Stops taking connections and lets requests in flight finish; their answers, and any request that
   * still comes on an open connection, carry `Connection: close`. Connections idle for IDLE_GRACE_MS
   * are closed. After `timeoutMs` whatever is left is cut.
   */
  async close(timeoutMs: number): Promise<CloseResult> {
    const started = Date.now();
    this.draining = true;
    for (const res of this.active) if (!res.headersSent) res.setHeader('Connection', 'close');
    // net.Server's close, not http.Server's: that one also drops every idle keep-alive connection at
    // once, which is the race IDLE_GRACE_MS avoids. In a pm2/cluster worker this also tells the master
    // to hand new connections to the other workers.
    const closed = new Promise<void>((resolve) =>
      net.Server.prototype.close.call(this.server, () => resolve()),
    );
    const sweepIdle = () => {
      const now = Date.now();
      for (const [socket, c] of this.connections)
        if (c.active === 0 && now - c.idleSince >= IDLE_GRACE_MS) socket.destroy();
    };
    sweepIdle();
    const sweep = setInterval(sweepIdle, SWEEP_EVERY_MS);
    let cut = 0;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        cut = this.active.size;
        this.server.closeAllConnections();
        resolve();
      }, timeoutMs);
    });
    await Promise.race([closed, timedOut]);
    clearInterval(sweep);
    clearTimeout(timer);
    await closed;
    // Now that nothing is connected, http.Server's own close stops its timeout checks.
    this.server.close();
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
