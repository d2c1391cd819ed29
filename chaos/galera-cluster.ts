import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';

const run = promisify(execFile);

const MARIADBD = process.env.CLUSTER_MARIADBD ?? '/usr/sbin/mariadbd';
const INSTALL_DB = process.env.CLUSTER_MARIADB_INSTALL_DB ?? 'mariadb-install-db';
/**
 * The user the nodes run as: root starts them as `mysql` (the Debian package's user). Not only
 * custom: as root, the rsync daemon a joiner starts for its state transfer drops to `nobody` and
 * cannot write the data directory (the SST fails with rsync code 23).
 */
const RUN_AS = process.getuid?.() === 0 ? 'mysql' : os.userInfo().username;
export const GALERA_PROVIDER = process.env.CLUSTER_GALERA_PROVIDER ?? '/usr/lib/galera/libgalera_smm.so';

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
 * galera-4 and rsync from Debian, installed when missing (the cluster run's only system needs
 * beyond the MariaDB server the chaos run uses already). Returns what it did, for the report.
 */
export function ensureGaleraPackages(): string {
  const missing: string[] = [];
  if (!fs.existsSync(GALERA_PROVIDER)) missing.push('galera-4');
  if (spawnSync('sh', ['-c', 'command -v rsync']).status !== 0) missing.push('rsync');
  if (!fs.existsSync(MARIADBD)) missing.push('mariadb-server');
  if (missing.length === 0) return 'galera-4, rsync and mariadb-server present';
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'inherit' });
  const install = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    env,
    stdio: 'inherit',
  });
  if (update.status !== 0 || install.status !== 0 || !fs.existsSync(GALERA_PROVIDER))
    throw new Error(`could not install ${missing.join(', ')} with apt-get`);
  return `installed ${missing.join(', ')} with apt-get`;
}

interface Ports {
  sql: number;
  gcomm: number;
  ist: number;
  sst: number;
}

/**
 * One MariaDB Galera node of our own: its data directory under the temp dir, its SQL, group
 * communication, IST and SST ports on loopback. Like chaos/private-mariadb.ts it is never a server
 * anyone else uses, and only the pid we spawned is ever signalled.
 */
export class GaleraNode {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  peers: string[] = [];

  constructor(
    readonly name: string,
    readonly dataDir: string,
    readonly ports: Ports,
  ) {}

  get port(): number {
    return this.ports.sql;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  url(database: string): string {
    return `mysql://root@127.0.0.1:${this.ports.sql}/${database}`;
  }

  private args(extra: string[]): string[] {
    const p = this.ports;
    return [
      '--no-defaults',
      `--datadir=${this.dataDir}`,
      `--port=${p.sql}`,
      '--bind-address=127.0.0.1',
      `--socket=${path.join(this.dataDir, 'mysqld.sock')}`,
      `--pid-file=${path.join(this.dataDir, 'mysqld.pid')}`,
      `--log-error=${path.join(this.dataDir, 'server.log')}`,
      `--user=${RUN_AS}`,
      // Real grants, not --skip-grant-tables: without them a stored procedure's DEFINER is empty
      // and the other nodes refuse to apply its CREATE ("Invalid role specification"), so the
      // procedure would exist on one node only.
      '--innodb-buffer-pool-size=64M',
      '--innodb-log-file-size=48M',
      '--innodb-flush-log-at-trx-commit=2',
      '--max-connections=300',
      // What Galera needs (docs/galera.md):
      '--binlog-format=ROW',
      '--innodb-autoinc-lock-mode=2',
      '--default-storage-engine=InnoDB',
      '--wsrep-on=ON',
      `--wsrep-provider=${GALERA_PROVIDER}`,
      '--wsrep-cluster-name=gw-cluster',
      `--wsrep-node-name=${this.name}`,
      `--wsrep-node-address=127.0.0.1:${p.gcomm}`,
      `--wsrep-node-incoming-address=127.0.0.1:${p.sql}`,
      `--wsrep-cluster-address=gcomm://${this.peers.join(',')}`,
      '--wsrep-sst-method=rsync',
      `--wsrep-sst-receive-address=127.0.0.1:${p.sst}`,
      '--wsrep-slave-threads=2',
      // Loopback: a frozen or killed node is noticed in seconds (defaults: 5 s suspect, 15 s inactive).
      `--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:${p.gcomm};ist.recv_addr=127.0.0.1:${p.ist};` +
        'gcache.size=128M;evs.keepalive_period=PT0.5S;evs.suspect_timeout=PT2S;evs.inactive_timeout=PT4S;' +
        'evs.inactive_check_period=PT0.5S;pc.wait_prim_timeout=PT30S',
      ...extra,
    ];
  }

  static async create(name: string, root: string): Promise<GaleraNode> {
    const dataDir = path.join(root, name);
    fs.mkdirSync(dataDir, { recursive: true });
    if (RUN_AS !== os.userInfo().username) {
      fs.chmodSync(root, 0o755);
      await run('chown', [RUN_AS, dataDir]);
    }
    await run(
      INSTALL_DB,
      [
        '--no-defaults',
        `--datadir=${dataDir}`,
        `--user=${RUN_AS}`,
        '--skip-test-db',
        '--auth-root-authentication-method=normal',
      ],
      { timeout: 120_000 },
    );
    const ports = {
      sql: await freePort(),
      gcomm: await freePort(),
      ist: await freePort(),
      sst: await freePort(),
    };
    return new GaleraNode(name, dataDir, ports);
  }

  /**
   * Starts the node: `bootstrap` makes it a new cluster of one (the first node); otherwise it joins
   * the peers, by IST when the cluster's gcache still holds what it missed (the position recovered
   * from its InnoDB log first, as Debian's galera_recovery does), else by a full rsync SST.
   */
  async start(opts: { bootstrap?: boolean; timeoutMs?: number } = {}): Promise<void> {
    if (this.proc) return;
    const extra: string[] = [];
    if (opts.bootstrap) extra.push('--wsrep-new-cluster');
    else {
      const position = await this.recoverPosition();
      if (position) extra.push(`--wsrep-start-position=${position}`);
    }
    const out = fs.openSync(path.join(this.dataDir, 'stdout.log'), 'a');
    const proc = spawn(MARIADBD, this.args(extra), { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    proc.once('exit', () => {
      if (this.proc === proc) this.proc = undefined;
    });
    await this.waitSynced(opts.timeoutMs ?? 120_000);
  }

  /** `mariadbd --wsrep-recover`: the last committed position in the InnoDB log, after a kill. */
  private async recoverPosition(): Promise<string | null> {
    if (!fs.existsSync(path.join(this.dataDir, 'grastate.dat'))) return null;
    const log = path.join(this.dataDir, 'recover.log');
    fs.rmSync(log, { force: true });
    try {
      await run(MARIADBD, [...this.args([]), '--wsrep-recover', `--log-error=${log}`], { timeout: 120_000 });
    } catch {
      return null;
    }
    const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
    const m = /Recovered position:\s*([0-9a-f-]{36}:-?\d+)/.exec(text);
    return m && !m[1]!.endsWith(':-1') ? (m[1] as string) : null;
  }

  /** Ready when it answers SQL and says Synced (a joiner answers before its state transfer ends). */
  async waitSynced(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.proc) throw new Error(`${this.name} exited at start; see ${this.dataDir}/server.log`);
      try {
        const state = await this.status('wsrep_local_state_comment');
        if (state === 'Synced') return;
        last = `state ${state}`;
      } catch (e) {
        last = (e as Error).message;
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    throw new Error(`${this.name} not synced in time (${last}); see ${this.dataDir}/server.log`);
  }

  /** One statement as root over the node's socket. */
  async admin(sql: string): Promise<void> {
    const c = await mysql.createConnection({
      socketPath: path.join(this.dataDir, 'mysqld.sock'),
      user: 'root',
    });
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  }

  async status(variable: string): Promise<string> {
    // Over the node's own socket (root@localhost): TCP root@127.0.0.1 is granted after the bootstrap.
    const c = await mysql.createConnection({
      socketPath: path.join(this.dataDir, 'mysqld.sock'),
      user: 'root',
      connectTimeout: 2000,
    });
    try {
      const [rows] = (await c.query('show global status like ?', [variable])) as [
        { Value: string }[],
        unknown,
      ];
      return String(rows[0]?.Value ?? '');
    } finally {
      await c.end();
    }
  }

  /** SIGKILL: the node is gone at once, with whatever it had in flight. */
  async kill9(): Promise<void> {
    if (!this.proc) return;
    this.proc.kill('SIGCONT');
    this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** SIGSTOP: it holds every connection open and answers nothing, to clients and to its peers. */
  freeze(): void {
    this.proc?.kill('SIGSTOP');
  }

  thaw(): void {
    this.proc?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    if (!this.proc) return;
    this.proc.kill('SIGCONT');
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc?.kill('SIGKILL'), 60_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Three (or more) Galera nodes on loopback: the first bootstraps, the others join it. */
export class GaleraCluster {
  private constructor(
    readonly root: string,
    readonly nodes: GaleraNode[],
  ) {}

  static async create(size = 3): Promise<GaleraCluster> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-galera-'));
    const nodes: GaleraNode[] = [];
    for (let i = 1; i <= size; i++) nodes.push(await GaleraNode.create(`node${i}`, root));
    const peers = nodes.map((n) => `127.0.0.1:${n.ports.gcomm}`);
    for (const n of nodes) n.peers = peers;
    const cluster = new GaleraCluster(root, nodes);
    await nodes[0]!.start({ bootstrap: true });
    // The gateways connect over TCP as root: granted once, replicated (and copied by SST) to every node.
    await nodes[0]!.admin("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'");
    await nodes[0]!.admin("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION");
    // Bootstrapped: from now on the first node rejoins the others like any node.
    for (const n of nodes.slice(1)) await n.start();
    return cluster;
  }

  async size(): Promise<number> {
    for (const n of this.nodes) {
      try {
        return Number(await n.status('wsrep_cluster_size'));
      } catch {
        // that node is down: ask the next
      }
    }
    return 0;
  }

  async destroy(): Promise<void> {
    for (const n of [...this.nodes].reverse()) await n.stop();
    if (!process.env.CLUSTER_KEEP_DATADIR) fs.rmSync(this.root, { recursive: true, force: true });
  }
}
