export * from './service-tokens.js';
export * from './user-tokens.js';
