/**
 * What the bare baseline's processes share. The baseline does the platform's
 * work with the raw libraries only (grpc-js, pg, ioredis, amqplib, node:crypto)
 * and no framework, so it shows what those libraries can do on this machine.
 */
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Server, ServerCredentials, type ServiceError, type status } from '@grpc/grpc-js';
import type { ConfirmChannel } from 'amqplib';
import type pg from 'pg';

export function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

export async function listen(server: Server, address: string): Promise<void> {
  await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    ),
  );
  process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
}

export const failure = (code: status, details: string): Partial<ServiceError> => ({ code, details });

/** Verifies an ES256 JWT with node:crypto alone; returns its subject, or undefined when it is not valid now. */
export function jwtVerifier(publicKeyFile: string): (authorization: string | undefined) => string | undefined {
  const key: KeyObject = createPublicKey(readFileSync(publicKeyFile, 'utf8'));
  return (authorization) => {
    const [header, payload, signature] = (authorization ?? '').replace(/^Bearer /, '').split('.');
    if (!header || !payload || !signature) return undefined;
    const signed = Buffer.from(`${header}.${payload}`);
    const valid = verify('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
    if (!valid) return undefined;
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: string; exp?: number };
    return claims.exp !== undefined && claims.exp * 1000 > Date.now() ? claims.sub : undefined;
  };
}

/**
 * The outbox row of one event. The bare chain shares the platform's databases, so the row is
 * written leased: the platform's relay skips leased rows, and would otherwise publish the bare
 * chain's events to the platform's exchange (and its NotificationService would take the
 * notification rows the bare consumer needs).
 */
export const INSERT_OUTBOX_EVENT = `INSERT INTO outbox_events (event_id, routing_key, message_type, payload, locked_until)
  VALUES ($1, $2, $3, $4, now() + interval '1 hour')`;

/**
 * The outbox relay's job for one event, inline: publish it with a publisher
 * confirm, then mark its row sent. Not awaited by the call that wrote it,
 * as the relay is not either.
 */
export function relayEvent(
  db: pg.Pool,
  channel: ConfirmChannel,
  exchange: string,
  event: { eventId: string; routingKey: string; payload: Buffer },
): void {
  channel.publish(
    exchange,
    event.routingKey,
    event.payload,
    { persistent: true, messageId: event.eventId },
    (error) => {
      if (error) return;
      db.query('UPDATE outbox_events SET sent_at = now() WHERE event_id = $1', [event.eventId]).catch(() => {});
    },
  );
}

export const newServer = () => new Server({ 'grpc.max_concurrent_streams': 256 });
