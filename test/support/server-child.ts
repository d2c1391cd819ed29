/**
 * A gateway in a process of its own, for the tests that need several processes or a kill -9:
 * configured from the environment like the real service, listening on an ephemeral port that
 * it reports on stdout as one JSON line.
 */
import { loadConfig } from '../../src/config/config.js';
import { configureLogger } from '../../src/log/logger.js';
import { buildGateway } from '../../src/wiring/wiring.js';

const config = loadConfig({
  overrides: { NODE_ENV: 'test', PORT: 0, ADMIN_PORT: 0, HOST: '127.0.0.1', SEED_DEMO_ACCOUNTS: false },
});
configureLogger({ level: config.LOG_LEVEL, format: 'json', stream: process.stderr });
const gateway = await buildGateway(config);
const ports = await gateway.start();
process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid, ...ports })}\n`);
process.on('SIGTERM', () => {
  void gateway.stop().then(() => process.exit(0));
});
