import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { plantDemo } from '../../bench/reconcile-demo.js';
import { registerReconcileCommands } from '../../src/cli/reconcile-commands.js';
import { createDb } from '../../src/db/db.js';
import { CREDIT_RETRY_JOB } from '../../src/jobs/jobs.js';
import { createServices, createStores } from '../../src/wiring/wiring.js';
import { dbKinds } from '../support/databases.js';
import { FakeBilling } from '../support/fake-billing.js';
import { FakeRefundApi } from '../support/fake-refund-api.js';
import type { TestGateway } from '../support/gateway.js';
import { captureLogs } from '../support/log-capture.js';
import { makeDue, startRefundGateway } from '../support/refunds.js';

// The demo's pending credits log "credit in doubt" (WARN): expected, kept out of the test output.
const logs = captureLogs('warn');

const ROOT = path.resolve(import.meta.dirname ?? '.', '../..');
const TSX = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/** `npm run cli -- …` as a person runs it: a process of its own, in the checkout, with only DATABASE_URL set. */
function cliProcess(
  args: string[],
  databaseUrl: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', TSX, path.join(ROOT, 'src/cli/index.ts'), ...args],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', DATABASE_URL: databaseUrl },
        timeout: 90_000,
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

/**
 * The "done when" (#15): a generated registry (bench/reconcile-demo.ts, one planted
 * difference of each class of the spec, every one) imported with `npm run cli -- reconcile import`
 * prints a summary whose counts are what was planted and exits 3; the resolutions (and, for the two
 * the gateway heals itself, the credit retry and the refund poll, then the watch job) close every
 * item and the to-do list is empty.
 */
describe.each(dbKinds)('[%s] the reconciliation demo through the CLI', (kind) => {
  let t: TestGateway;
  let dir: string;
  let billing: FakeBilling;
  let refundApi: FakeRefundApi;

  beforeAll(async () => {
    billing = await new FakeBilling().start();
    billing.mode = '5xx';
    refundApi = new FakeRefundApi();
    await refundApi.start();
    t = await startRefundGateway(kind, refundApi);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-demo-'));
  });
  afterAll(async () => {
    await t?.close();
    await refundApi.stop();
    await billing.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function cli(args: string[]): Promise<{ out: string; code: number }> {
    const program = new Command('cli').exitOverride();
    registerReconcileCommands(program, {
      open: async () => {
        const db = createDb(t.config.DATABASE_URL, { poolMax: 2 });
        return { config: t.config, db, stores: createStores(db) };
      },
    });
    let out = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
    process.exitCode = undefined;
    try {
      await program.parseAsync(['node', 'cli', ...args]);
    } finally {
      process.stdout.write = write;
    }
    const code = Number(process.exitCode ?? 0);
    process.exitCode = undefined;
    return { out, code };
  }

  it('when the generated registry is imported, then the summary counts one of each class, exit 3, and the resolutions close the items', async () => {
    const g = t.gateway;
    // The same pay path with the external billing answering 503: the demo's pending credits.
    const down = createServices(
      {
        ...t.config,
        BILLING_ADAPTER: 'http',
        BILLING_URL: billing.url,
        BILLING_MAX_ATTEMPTS: 1,
        BILLING_TIMEOUT_MS: 2000,
        RETRY_BACKOFF_MS: 3_600_000,
        RETRY_BACKOFF_MAX_MS: 3_600_000,
      },
      g.db,
      g.stores,
    );
    const demo = await plantDemo({
      payments: g.services.payments,
      pendingPayments: down.payments,
      refunds: g.services.refunds,
      refundAnswers: (txnId, steps) => refundApi.script(txnId, steps),
      reconcile: g.services.reconcile,
      stores: g.stores,
    });
    await g.stores.requestLog.flush();
    // Every class the spec names, once.
    const { CLASSES } = await import('../../src/reconcile/reconcile-matcher.js');
    expect(Object.keys(demo.expected).sort()).toEqual([...CLASSES].sort());
    const file = path.join(dir, 'reestr-demo.xlsx');
    fs.writeFileSync(file, demo.bytes);

    const imported = await cliProcess(
      ['reconcile', 'import', file, ...demo.importArgs],
      t.config.DATABASE_URL,
    );
    if (imported.code !== 3) throw new Error(`exit ${imported.code}: ${imported.stderr}`);
    const summary = imported.stdout;
    expect(summary).toMatch(
      new RegExp(`^Kaspi registry reconciliation #\\d+ — daily ${demo.day} \\(period given\\)`),
    );
    expect(summary).toContain('Matched:  1 payments 2 000.00 | 1 refunds 100.00');
    expect(summary).toContain('Result: DISCREPANCIES (exit 3)');
    const listed = (cls: string) =>
      summary.split('\n').filter((l) => l.trimStart().startsWith(`${cls} `)).length;
    for (const [cls, n] of Object.entries(demo.expected))
      if (cls !== 'MATCHED' && cls !== 'REFUND_MATCHED') expect([cls, listed(cls)]).toEqual([cls, n]);
    const runId = (/reconciliation #(\d+)/.exec(summary) as RegExpExecArray)[1] as string;

    const report = JSON.parse((await cli(['reconcile', 'show', runId, '--json'])).out);
    const counts = Object.fromEntries(
      Object.entries(report.run.totals.byClass as Record<string, { count: number }>).map(([k, v]) => [
        k,
        v.count,
      ]),
    );
    expect(counts).toEqual(demo.expected);

    const items = report.items as Array<{ id: string; class: string; state: string; severity: string }>;
    const needing = items.filter((i) => i.severity !== 'info').map((i) => i.class);
    expect(needing.sort()).toEqual(demo.resolutions.map((r) => r.class).sort());
    for (const r of demo.resolutions) {
      if (r.heals) continue;
      const item = items.find((i) => i.class === r.class) as { id: string };
      const args = ['reconcile', 'resolve', item.id, '--action', r.action, '--operator', 'aigul'];
      if (r.note) args.push('--note', r.note);
      if (r.payment) args.push('--payment', r.payment);
      const done = await cli(args);
      expect([r.class, done.code, JSON.parse(done.out).state]).toEqual([
        r.class,
        0,
        r.action === 'ignore' ? 'ignored' : 'resolved',
      ]);
    }
    // The two the gateway finishes itself: the import made them due, the jobs finish the money,
    // the watch job closes the items.
    expect((await cli(['reconcile', 'todo'])).code).toBe(3); // PENDING_OURS is still open
    await g.scheduler.runNow(CREDIT_RETRY_JOB);
    await makeDue(g);
    await g.services.refundPoller.runOnce();
    expect((await g.services.reconcile.watch()).closed).toBe(2);

    const after = JSON.parse((await cli(['reconcile', 'show', runId, '--json'])).out);
    expect(after.run.status).toBe('resolved');
    const state = (cls: string) => after.items.find((i: { class: string }) => i.class === cls)?.state;
    expect([state('PENDING_OURS'), state('REFUND_PENDING_OURS')]).toEqual(['auto_closed', 'auto_closed']);
    expect(
      after.items.filter(
        (i: { state: string; severity: string }) => i.state === 'open' && i.severity !== 'info',
      ),
    ).toEqual([]);
    expect((await cli(['reconcile', 'todo'])).code).toBe(0);
    // The money the resolutions moved, each once: the credits of the missing, the refused and the
    // pending payment (with yesterday's 7 and today's 3), the cabinet refund and the declined one Kaspi paid.
    const refunds = await g.db.knex('refunds').where({ origin: 'registry', status: 'success' });
    expect(refunds).toHaveLength(2);
    expect(await g.db.knex('payments').where({ state: 'credited' })).toHaveLength(13);
    expect(await g.db.knex('payments').where({ state: 'pending' })).toHaveLength(1);
    const audit = await g.db.knex('audit_log').where({ action: 'item.resolved' });
    const byPerson = audit.filter((a) => String(a.actor).endsWith('aigul'));
    expect(byPerson).toHaveLength(demo.resolutions.filter((r) => !r.heals).length);
    expect(audit.length - byPerson.length).toBe(2); // the watch job's auto-closes
    expect(logs.lines.filter((l) => l.level === 'error')).toEqual([]);
  }, 180_000);
});
