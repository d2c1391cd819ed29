/**
 * The gateway as production runs it (NODE_ENV=production, JSON logs at info to stdout), in a
 * process of its own (or BENCH_WORKERS of them, as pm2's cluster mode runs it), configured from the
 * environment. Reports its ports over IPC.
 */
import { loadConfig } from '../src/config/config.js';
import { configureLogger, getLogger } from '../src/log/logger.js';
import { buildGateway, type Gateway } from '../src/wiring/wiring.js';
import { serve } from './cluster.js';

const config = loadConfig({
  overrides: { PORT: 0, ADMIN_PORT: 0, HOST: '127.0.0.1', ADMIN_HOST: '127.0.0.1' },
});
configureLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT });
let gateway: Gateway | undefined;
// The scale bench asks for a job run (the retention purge during a pay load) over IPC: the job
// runs as its cron would run it, in this process, through its lease.
process.on('message', (m: { runJob?: string }) => {
  if (!m?.runJob || !gateway) return;
  const started = performance.now();
  gateway.scheduler.runNow(m.runJob).then(
    (ran) => process.send?.({ jobDone: m.runJob, ran, ms: performance.now() - started }),
    (err: unknown) =>
      process.send?.({ jobDone: m.runJob, ran: false, error: String((err as Error)?.message ?? err) }),
  );
});
await serve(
  async () => {
    gateway = await buildGateway(config);
    return gateway.start();
  },
  async () => {
    try {
      await gateway?.stop();
    } catch (err) {
      getLogger('bench').error('unclean stop', { err });
      throw err;
    }
  },
);
