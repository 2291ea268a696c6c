import { describe, expect, it } from '@jest/globals';
import { ConfigError, commonConfigShape, env, loadConfig } from './config.js';

const shape = {
  ...commonConfigShape,
  GRPC_PORT: env.port(50051),
  DATABASE_URL: env.postgresUrl('ordermesh_test'),
};

describe('loadConfig', () => {
  it('fills defaults that point at the local infrastructure', () => {
    const config = loadConfig(shape, {});
    expect(config.GRPC_PORT).toBe(50051);
    expect(config.DATABASE_URL).toBe('postgresql://postgres@127.0.0.1:5432/ordermesh_test');
    expect(config.LOG_LEVEL).toBe('info');
  });

  it('coerces numbers from strings', () => {
    expect(loadConfig(shape, { GRPC_PORT: '6000' }).GRPC_PORT).toBe(6000);
  });

  it('names every bad variable in one error and hides URL passwords', () => {
    const attempt = () =>
      loadConfig(shape, { GRPC_PORT: 'eighty', DATABASE_URL: 'mysql://u:secret@db/x', LOG_LEVEL: 'loud' });
    expect(attempt).toThrow(ConfigError);
    let message = '';
    try {
      attempt();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('GRPC_PORT="eighty"');
    expect(message).toContain('DATABASE_URL="mysql://u:***@db/x": must be a URL starting with postgres://');
    expect(message).toContain('LOG_LEVEL');
    expect(message).not.toContain('secret');
  });

  it('rejects ports out of range', () => {
    expect(() => loadConfig(shape, { GRPC_PORT: '70000' })).toThrow('GRPC_PORT="70000": must be at most 65535');
  });
});
