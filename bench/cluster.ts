import cluster from 'node:cluster';

export interface Ports {
  port: number;
  adminPort: number;
}

/**
 * Runs a server as production's pm2 cluster mode does (ecosystem.config.js: one worker per core):
 * with BENCH_WORKERS=n > 1 this process forks n workers sharing one port (node's cluster module,
 * connections dealt round-robin by this primary), else it runs the server itself. Either way it
 * reports the ports to the bench over IPC once every worker listens, and stops them on SIGTERM.
 */
export async function serve(start: () => Promise<Ports>, stop: () => Promise<void>): Promise<void> {
  const workers = Number(process.env.BENCH_WORKERS ?? 1);
  if (workers <= 1 || !cluster.isPrimary) {
    const ports = await start();
    if (cluster.isWorker) process.send?.({ workerReady: true, ...ports });
    else process.send?.({ ready: true, ...ports });
    let stopping = false;
    process.on('SIGTERM', () => {
      if (stopping) return;
      stopping = true;
      stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
    return;
  }
  const ready: Ports[] = [];
  for (let i = 0; i < workers; i++) {
    const w = cluster.fork({ NODE_APP_INSTANCE: String(i) });
    w.on('message', (m: { workerReady?: boolean } & Ports) => {
      if (!m?.workerReady) return;
      ready.push(m);
      if (ready.length === workers) process.send?.({ ready: true, ...(ready[0] as Ports), workers });
    });
  }
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    let left = workers;
    cluster.on('exit', () => {
      if (--left === 0) process.exit(0);
    });
  });
}
