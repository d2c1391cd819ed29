import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';

const run = promisify(execFile);

const MARIADBD = process.env.CHAOS_MARIADBD ?? '/usr/sbin/mariadbd';
const INSTALL_DB = process.env.CHAOS_MARIADB_INSTALL_DB ?? 'mariadb-install-db';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A MariaDB server of our own, on its own data directory and loopback port: the chaos run stops,
 * kills and freezes it, so it must never be a server anyone else uses. Only the pid we spawned is
 * ever signalled.
 */
export class PrivateMariaDb {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly dataDir: string,
    readonly port: number,
  ) {}

  static async create(): Promise<PrivateMariaDb> {
    if (!fs.existsSync(MARIADBD)) throw new Error(`no MariaDB server at ${MARIADBD} (set CHAOS_MARIADBD)`);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-chaos-mysql-'));
    await run(
      INSTALL_DB,
      [
        '--no-defaults',
        `--datadir=${dataDir}`,
        '--user=root',
        '--skip-test-db',
        '--auth-root-authentication-method=normal',
      ],
      { timeout: 120_000 },
    );
    const db = new PrivateMariaDb(dataDir, Number(process.env.CHAOS_MYSQL_PORT ?? (await freePort())));
    await db.start();
    return db;
  }

  get url(): string {
    return `mysql://root@127.0.0.1:${this.port}/gw_chaos`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async start(): Promise<void> {
    if (this.proc) return;
    const log = fs.openSync(path.join(this.dataDir, 'server.log'), 'a');
    const proc = spawn(
      MARIADBD,
      [
        '--no-defaults',
        `--datadir=${this.dataDir}`,
        `--port=${this.port}`,
        '--bind-address=127.0.0.1',
        `--socket=${path.join(this.dataDir, 'mysqld.sock')}`,
        `--pid-file=${path.join(this.dataDir, 'mysqld.pid')}`,
        '--user=root',
        '--skip-grant-tables',
        '--skip-log-bin',
        '--innodb-buffer-pool-size=64M',
        '--max-connections=300',
      ],
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    proc.once('exit', () => {
      if (this.proc === proc) this.proc = undefined;
    });
    await this.waitReady(60_000);
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.proc) throw new Error(`mariadbd exited at start; see ${this.dataDir}/server.log`);
      try {
        const c = await mysql.createConnection({
          host: '127.0.0.1',
          port: this.port,
          user: 'root',
          connectTimeout: 2000,
        });
        await c.query('select 1');
        await c.end();
        return;
      } catch (e) {
        last = (e as Error).message;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
    throw new Error(`mariadbd did not answer in time: ${last}`);
  }

  /** A clean shutdown (SIGTERM), as an operator's restart would do. */
  async stop(): Promise<void> {
    if (!this.proc) return;
    this.proc.kill('SIGCONT');
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc?.kill('SIGKILL'), 60_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGSTOP: the server holds every connection open and answers nothing. */
  freeze(): void {
    this.proc?.kill('SIGSTOP');
  }

  thaw(): void {
    this.proc?.kill('SIGCONT');
  }

  async destroy(): Promise<void> {
    await this.stop();
    if (!process.env.CHAOS_KEEP_DATADIR) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}
