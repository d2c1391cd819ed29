import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What every log line written while serving a request carries, without each call site passing it:
 * the request id lives in AsyncLocalStorage for the request's whole async chain (body parsers bind
 * their callbacks, so the context survives them).
 */
export interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithRequestContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}
