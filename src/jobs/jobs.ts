import type { Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import type { Services, Stores } from '../main.js';
import { refundPollJob } from '../refunds/refund-poller.js';
import { purgeRequestLog } from './request-log-retention.js';
import type { JobDefinition } from './scheduler.js';

export interface JobDeps {
  config: Config;
  db: Db;
  stores: Stores;
  services: Services;
}

/**
 * Every cron job of the service, in one list: name, schedule, lease and what it runs. The
 * composition root registers them all with the Scheduler; add a job here and nowhere else.
 */
export function buildJobs(deps: JobDeps): JobDefinition[] {
  const { config, db } = deps;
  const jobs: JobDefinition[] = [
    {
      name: 'request-log-retention',
      cron: config.REQUEST_LOG_RETENTION_CRON,
      leaseMs: 60_000,
      run: async (ctx) => {
        await purgeRequestLog(db, config.REQUEST_LOG_RETENTION_DAYS, new Date(), {
          shouldStop: () => ctx.signal.aborted,
        });
      },
    },
  ];
  // Follows refunds with Kaspi; without REFUND_API_URL there is no one to ask.
  if (deps.services.refunds.enabled) {
    jobs.push(refundPollJob(deps.services.refundPoller, config.REFUND_POLL_CRON));
  }
  return jobs;
}
