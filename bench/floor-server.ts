/**
 * The floor under the gateway's check and pay on this machine: Express plus the one database call
 * each needs, over the same kind of connection, and nothing else: no validation, no logs, no
 * request log, no metrics, no deadline. A pay is the same stored procedure the gateway calls, one
 * call per pay; a check is the one account read (`select ... from accounts where account = ?`).
 * What the gateway costs above this is ours to cut; what this costs is the machine's
 * (bench/floor.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import mysql from 'mysql2';

const url = new URL(process.env.DATABASE_URL as string);
const pool = mysql.createPool({
  host: url.hostname,
  port: Number(url.port || 3306),
  user: decodeURIComponent(url.username),
  password: decodeURIComponent(url.password),
  database: url.pathname.slice(1),
  connectionLimit: Number(process.env.DB_POOL_MAX ?? 10),
  supportBigNumbers: true,
  bigNumberStrings: true,
  dateStrings: true,
});

const HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<response>\n';

function pay(q: Record<string, string>, res: express.Response) {
  const now = new Date().toISOString().replace('T', ' ').replace('Z', '');
  // One pay per call, no batching: the procedure as a pay alone calls it.
  const items = [
    { source: 'kaspi', txn: q.txn_id, account: q.account, amount: '1000', raw: q.txn_date, date: now },
  ];
  pool.query(
    'CALL `gw_pay_accounts`(?, ?, ?, ?, ?)',
    [JSON.stringify(items), 'OK', 'ledger', now, 0],
    (err, rows) => {
      const id = err ? null : /^\d+/.exec((rows as [{ outcomes: string }[]])[0][0]?.outcomes ?? '')?.[0];
      res
        .status(200)
        .type('text/xml; charset=utf-8')
        .send(
          `${HEAD}  <txn_id>${q.txn_id}</txn_id>\n  <prv_txn>${id}</prv_txn>\n` +
            `  <sum>10.00</sum>\n  <result>${id ? 0 : 4}</result>\n  <comment>OK</comment>\n</response>\n`,
        );
    },
  );
}

function check(q: Record<string, string>, res: express.Response) {
  pool.query(
    'select `name`, `balance`, `status` from `accounts` where `account` = ? limit 1',
    [q.account],
    (err, rows) => {
      const a = err ? undefined : (rows as { name: string; balance: string; status: string }[])[0];
      const ok = a !== undefined && a.status === 'active';
      res
        .status(200)
        .type('text/xml; charset=utf-8')
        .send(
          `${HEAD}  <txn_id>${q.txn_id}</txn_id>\n  <result>${ok ? 0 : 1}</result>\n` +
            (ok
              ? `  <fields>\n    <field1 name="fio">${a.name}</field1>\n` +
                `    <field2 name="balance">${a.balance}</field2>\n  </fields>\n`
              : '') +
            `  <comment>OK</comment>\n</response>\n`,
        );
    },
  );
}

const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.get('/payment_app.cgi', (req, res) => {
  const q = req.query as Record<string, string>;
  if (q.command === 'check') check(q, res);
  else pay(q, res);
});

const server = http.createServer(app);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.send?.({ ready: true, port, adminPort: 0 });
});
process.on('SIGTERM', () => server.close(() => pool.end(() => process.exit(0))));
