/**
 * The gateway as production runs it (NODE_ENV=production, JSON logs at info to stdout), in a
 * process of its own, configured from the environment. Reports its ports over IPC.
 */
import { loadConfig } from '../src/config/config.js';
import { configureLogger, getLogger } from '../src/log/logger.js';
import { buildGateway } from '../src/main.js';

const config = loadConfig({
  overrides: { PORT: 0, ADMIN_PORT: 0, HOST: '127.0.0.1', ADMIN_HOST: '127.0.0.1' },
});
configureLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT });
const gateway = await buildGateway(config);
const ports = await gateway.start();
process.send?.({ ready: true, ...ports });

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  gateway
    .stop()
    .then(() => process.exit(0))
    .catch((err: unknown) => {
      getLogger('bench').error('unclean stop', { err });
      process.exit(1);
    });
});
