import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { createLogger } from './logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  it('writes one JSON object a line with the service, level and message', () => {
    const { lines, destination } = capture();
    createLogger('order', 'info', destination).info({ orderId: 'o-1' }, 'order placed');
    expect(lines).toEqual([
      expect.objectContaining({ service: 'order', level: 'info', orderId: 'o-1', msg: 'order placed' }),
    ]);
  });

  it('does not carry one line’s fields onto the next', () => {
    const { lines, destination } = capture();
    const log = createLogger('notification', 'info', destination);
    log.info({ eventId: 'e-1', kind: 'order.placed' }, 'notification sent');
    log.info('shutting down');
    expect(lines[1]).not.toHaveProperty('eventId');
    expect(lines[1]).not.toHaveProperty('kind');
    expect(lines[1]).toMatchObject({ msg: 'shutting down' });
  });

  it('redacts secrets that reach a line through a request or an error', () => {
    const { lines, destination } = capture();
    createLogger('user', 'info', destination).info({ request: { password: 'hunter2', email: 'a@b.c' } }, 'login');
    expect(lines[0]?.request).toEqual({ password: '[redacted]', email: 'a@b.c' });
  });
});
