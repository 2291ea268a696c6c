import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '@ordermesh/runtime';
import { loadNotificationConfig } from './config.js';

const required = { JWT_PUBLIC_KEY_FILE: '/keys/jwt-public.pem' };

describe('loadNotificationConfig', () => {
  it('defaults to the local infrastructure, SMTP and three growing retry delays', () => {
    expect(loadNotificationConfig(required)).toMatchObject({
      GRPC_PORT: 50054,
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/ordermesh_notification',
      NOTIFICATION_QUEUE: 'notification.events',
      NOTIFICATION_PREFETCH: 32,
      NOTIFICATION_RETRY_DELAYS_MS: [1_000, 5_000, 30_000],
      NOTIFICATION_CHANNEL: 'smtp',
      SMTP_URL: 'smtp://127.0.0.1:2525',
      JWT_ISSUER: 'ordermesh-user',
      JWT_AUDIENCE: 'ordermesh',
    });
  });

  it('reads retry delays from a comma-separated list', () => {
    const config = loadNotificationConfig({ ...required, NOTIFICATION_RETRY_DELAYS_MS: '200, 1000' });
    expect(config.NOTIFICATION_RETRY_DELAYS_MS).toEqual([200, 1_000]);
  });

  it.each(['', '0', '1000,,5000', 'soon', '1.5'])('rejects retry delays "%s"', (delays) => {
    expect(() => loadNotificationConfig({ ...required, NOTIFICATION_RETRY_DELAYS_MS: delays })).toThrow(
      'NOTIFICATION_RETRY_DELAYS_MS',
    );
  });

  it('names every bad variable, including a missing public key file', () => {
    const attempt = () => loadNotificationConfig({ NOTIFICATION_CHANNEL: 'pigeon', SMTP_URL: 'http://mail' });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow('JWT_PUBLIC_KEY_FILE: is required');
    expect(attempt).toThrow('NOTIFICATION_CHANNEL="pigeon"');
    expect(attempt).toThrow('SMTP_URL="http://mail/": must be a URL starting with smtp:// or smtps://');
  });
});
