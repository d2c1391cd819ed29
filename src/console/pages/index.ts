// The console's pages, one file each; the routes import them from here.
export * from './layout.js';
export * from './sign-in.js';
export * from './overview.js';
export * from './payments.js';
export * from './payment.js';
export * from './refunds.js';
export * from './attention.js';
export * from './audit.js';
export * from './users.js';
export * from './accounts.js';
export * from './qr.js';
export * from './reconcile.js';
