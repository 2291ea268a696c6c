export * from './broker.ts';
export * from './databases.ts';
export * from './e2e.ts';
export * from './eventually.ts';
export * from './grpc.ts';
export * from './prisma.ts';
export * from './service-tokens.ts';
export * from './tcp-proxy.ts';
