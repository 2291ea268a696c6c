export * from './cache.js';
export * from './database.js';
export * from './keyset.js';
