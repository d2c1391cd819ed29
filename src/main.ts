import { ConfigError, EXIT_CONFIG, jetpayEnabled, loadConfig, type Config } from './config/config.js';
import { configureLogger, getLogger } from './log/logger.js';
import { devAdminApiKey, seedDemo } from './wiring/demo-seed.js';
import { buildGateway } from './wiring/wiring.js';

/**
 * `npm start` (and every pm2 worker): config, logger, the gateway from src/wiring/wiring.ts, its
 * start, and the signals that stop it. Nothing imports this file; the CLI and the tests build the
 * gateway from src/wiring/ themselves.
 */
const log = getLogger('main');

async function main(): Promise<void> {
  let config: Config = loadConfig();
  // Development with the demo data and no key: one is made, so the README's curl lines work.
  if (config.NODE_ENV === 'development' && config.SEED_DEMO_ACCOUNTS && !config.ADMIN_API_KEY)
    config = loadConfig({ overrides: { ADMIN_API_KEY: devAdminApiKey() } });
  configureLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  const gateway = await buildGateway(config);
  gateway.metrics.collectProcessMetrics();
  const { port, adminPort, metricsPort } = await gateway.start();
  log.info('gateway listening', {
    public: `${config.TLS_CERT_FILE ? 'https' : 'http'}://${config.HOST}:${port}`,
    admin: `${config.ADMIN_HOST}:${adminPort}`,
    metrics: metricsPort === undefined ? undefined : `${config.ADMIN_HOST}:${metricsPort}`,
    database: gateway.db.describe,
    billing: config.BILLING_ADAPTER,
    jetpay: jetpayEnabled(config) ? 'on' : 'off',
    env: config.NODE_ENV,
  });
  if (config.SEED_DEMO_ACCOUNTS) await seedDemo(gateway, port, adminPort);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      // A second Ctrl-C means "now": the person at the terminal has decided.
      if (signal === 'SIGINT' && !process.send) process.exit(130);
      return;
    }
    stopping = true;
    log.info('stopping: draining requests in flight', { signal });
    gateway
      .stop()
      .then(() => exitSoon(0))
      .catch((e: unknown) => {
        log.error('unclean stop', { err: e });
        exitSoon(1);
      });
  };
  // Kaspi QR's certificate files again (a new certificate or passphrase needs no code change).
  process.on('SIGHUP', () => {
    if (gateway.services.kaspiQr) gateway.services.kaspiQr.service.reloadCertificates();
    else log.info('SIGHUP: nothing to reload');
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // pm2 with shutdown_with_message (Windows has no signals) asks with a message instead.
  process.on('message', (msg) => {
    if (msg === 'shutdown') shutdown('shutdown message');
  });
  // pm2 (wait_ready) sends this worker traffic, and stops the old one on reload, only after this.
  process.send?.('ready');
}

/** Exits once the log lines above have left (stdout to a pipe is asynchronous), at most 1 s later. */
function exitSoon(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 1000).unref();
}

main().catch((e: unknown) => {
  if (e instanceof ConfigError) {
    // One line naming the setting, no stack; 78 (EX_CONFIG) so pm2 and systemd tell it from a crash.
    process.stderr.write(`Refusing to start: ${e.message}\n`);
    process.exit(EXIT_CONFIG);
  }
  log.error('failed to start', { err: e });
  process.exit(1);
});
