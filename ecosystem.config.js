/**
 * pm2: the gateway in cluster mode, one worker per core, with graceful reload.
 *
 *   npm ci && npm run build
 *   pm2 start ecosystem.config.js --env production
 *   pm2 reload kaspi-gateway          # zero-downtime: one worker at a time
 *
 * An ES module (the package is "type": "module"): pm2 loads it with require(), which Node 20.19+
 * does for ES modules; hence the named `apps` export and no `module.exports`. See docs/pm2.md.
 *
 * Settings come from the environment pm2 is started with (or from `env_production` below): every
 * key in README "Configuration". Under cluster mode the workers share PORT and ADMIN_PORT.
 */
const instances = process.env.PM2_INSTANCES ?? 'max';

export const apps = [
  {
    name: process.env.PM2_APP_NAME ?? 'kaspi-gateway',
    cwd: import.meta.dirname,
    script: 'dist/src/main.js',
    exec_mode: 'cluster',
    instances: /^\d+$/.test(instances) ? Number(instances) : instances,

    // A worker gets traffic, and on reload the old one is stopped, only once the new one has
    // migrated, listened and sent process.send('ready').
    wait_ready: true,
    // Migrations run at start under knex's lock: give a large one time before pm2 gives up.
    listen_timeout: 30_000,
    // Stop and reload: pm2 sends SIGINT (SIGTERM from systemd or a person works the same), the worker
    // drains (SHUTDOWN_TIMEOUT_MS, 15 s by default), closes the pool (5 s at most) and exits by itself.
    // pm2 sends SIGKILL only after kill_timeout, which must stay above SHUTDOWN_TIMEOUT_MS + 5 s.
    kill_timeout: 25_000,

    autorestart: true,
    // The database down at start: back off instead of restarting in a tight loop.
    exp_backoff_restart_delay: 500,
    // Our lines are JSON with their own timestamp, request id and worker number: one merged file.
    merge_logs: true,
    time: false,

    env_production: {
      NODE_ENV: 'production',
    },
  },
];
