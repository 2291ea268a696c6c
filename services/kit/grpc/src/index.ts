export * from './fields.js';
export * from './grpc-client.js';
export * from './grpc-server.js';
export * from './money.js';
export * from './paging.js';
export * from './pass-through.js';
export * from './validation.js';
export * from './xds.js';
