import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SERVICE_NAMES, type ServiceName } from '@ordermesh/dev/platform';
import { OrderStatus } from '@ordermesh/proto/order';
import { call, DECLINED_CARD, type E2E, eventually, failure, query, startE2E } from '@ordermesh/testing';
import { type ReceivedSpan, startOtlpReceiver } from '../observability/support/otlp-receiver.ts';
import { startAuthenticatingSmtp } from './support/abuse-smtp.ts';

/**
 * A full flow (register, a failed and a good login, a bad and a good card,
 * an order, a declined order, a tampered token) against the four processes
 * with debug logging and every span exported, then a scan of everything they
 * logged and traced for the secrets that went through them, and of every
 * database for the card numbers.
 */
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const WRONG_PASSWORD = `wrong-${randomBytes(12).toString('hex')}`;
const CARD = '4111111111111111';
const NOT_A_CARD = '4111111111111112'; // fails the Luhn check: rejected, and must not be echoed either
const DB_PASSWORD = `db-${randomBytes(12).toString('hex')}`;
const SMTP_PASSWORD = `smtp-${randomBytes(12).toString('hex')}`;
/** A compact JWS with a JSON header and payload: an access token or a service token. */
const ANY_JWT = /eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{20,}/;

let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
let smtp: Awaited<ReturnType<typeof startAuthenticatingSmtp>>;
let e2e: E2E;
const savedEnv = { ...process.env };
/** Secrets the flow handled, by what they are. */
const secrets = new Map<string, string>();

/** The service's database URL, with a password: PostgreSQL's trust auth on loopback ignores it, the services carry it. */
function databaseUrlWithPassword(name: ServiceName): string {
  const url = new URL(e2e.databaseUrl(name));
  url.password = DB_PASSWORD;
  return url.toString();
}

/** The base64 lines of every private key in the platform's state directory. */
function privateKeyMaterial(stateDir: string): string[] {
  return readdirSync(stateDir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.pem'))
    .map((entry) => readFileSync(join(stateDir, entry.name), 'utf8'))
    .filter((pem) => pem.includes('PRIVATE KEY'))
    .flatMap((pem) => pem.split('\n').filter((line) => line.length >= 16 && !line.startsWith('-----')));
}

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  smtp = await startAuthenticatingSmtp('ordermesh', SMTP_PASSWORD);
  Object.assign(process.env, receiver.exportingEnv);
  e2e = await startE2E('secrets', 28600);
  // Again, with passwords in the connection URLs and every debug line written.
  await e2e.platform.stop();
  for (const name of SERVICE_NAMES) {
    const env: Record<string, string> = { DATABASE_URL: databaseUrlWithPassword(name), LOG_LEVEL: 'debug' };
    if (name === 'notification') env.SMTP_URL = smtp.url;
    await e2e.platform.startService(name, env);
  }
}, 180_000);

afterAll(async () => {
  await e2e?.close();
  await receiver?.close();
  await smtp?.close();
  process.env = savedEnv;
}, 60_000);

describe('secrets stay out of logs, traces and databases', () => {
  it('runs the flow, with every secret passing through', async () => {
    const users = e2e.users;
    const email = `${randomUUID()}@example.com`;
    await call(users.register.bind(users), {
      idempotencyKey: randomUUID(),
      email,
      password: PASSWORD,
      displayName: 'S',
    });
    const wrong = await failure(call(users.login.bind(users), { email, password: WRONG_PASSWORD }));
    expect(wrong.code).toBe(status.UNAUTHENTICATED);
    const { accessToken } = await call(users.login.bind(users), { email, password: PASSWORD });
    const card = (cardNumber: string) =>
      call(
        users.addPaymentMethod.bind(users),
        { idempotencyKey: randomUUID(), cardNumber, expMonth: 12, expYear: 2031, holderName: 'S' },
        accessToken,
      );
    expect((await failure(card(NOT_A_CARD))).code).toBe(status.INVALID_ARGUMENT);
    const { paymentMethod } = await card(CARD);
    const { paymentMethod: declining } = await card(DECLINED_CARD);
    const order = (paymentMethodId: string) =>
      call(
        users.placeOrder.bind(users),
        { idempotencyKey: randomUUID(), lines: [{ sku: 'MUG-001', quantity: 1 }], paymentMethodId },
        accessToken,
      );
    expect((await order(paymentMethod?.id ?? '')).order?.status).toBe(OrderStatus.ORDER_STATUS_PAID);
    expect((await order(declining?.id ?? '')).order?.status).toBe(OrderStatus.ORDER_STATUS_PAYMENT_FAILED);
    // Outages make the services log their connection errors: those lines are scanned too.
    await Promise.all([e2e.proxies.amqp.cut(), e2e.proxies.redis.cut()]);
    await call(users.getProfile.bind(users), {}, accessToken);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await Promise.all([e2e.proxies.amqp.restore(), e2e.proxies.redis.restore()]);
    const tampered = `${accessToken.slice(0, -4)}AAAA`;
    const rejected = await failure(call(users.getProfile.bind(users), {}, tampered));
    expect(rejected.code).toBe(status.UNAUTHENTICATED);

    // Welcome, order received twice, payment received, payment failed: through the password-protected relay.
    await eventually('five emails through the authenticated SMTP relay', () => smtp.stats.accepted >= 5, 30_000);
    expect(smtp.stats.badLogins).toBe(0);
    // Every process exported the spans of the flow: the last email's delivery is in.
    await eventually(
      'the spans of all four services',
      () => new Set(receiver.spans.map((span) => span.service)).size === 4 && receiver.spans.length > 50,
      20_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    secrets.set('password', PASSWORD);
    secrets.set('wrong password', WRONG_PASSWORD);
    secrets.set('access token', accessToken);
    secrets.set('access token signature', accessToken.split('.')[2] ?? accessToken);
    secrets.set('tampered token', tampered);
    secrets.set('card number', CARD);
    secrets.set('rejected card number', NOT_A_CARD);
    secrets.set('declined card number', DECLINED_CARD);
    secrets.set('database password', DB_PASSWORD);
    secrets.set('SMTP password', SMTP_PASSWORD);
    // RabbitMQ's local guest account: its password cannot be made unique, so look for the pair as a URL carries it.
    secrets.set('AMQP credentials', 'guest:guest@');
    privateKeyMaterial(e2e.settings.stateDir).forEach((line, i) => {
      secrets.set(`private key line ${i + 1}`, line);
    });
  }, 120_000);

  /** The names of the secrets `text` contains; any JWT at all counts too (service tokens are minted per call). */
  const leaked = (text: string) => [
    ...[...secrets].filter(([, secret]) => text.includes(secret)).map(([name]) => name),
    ...(ANY_JWT.test(text) ? ['a JWT'] : []),
  ];

  it('finds none of them in any service log', () => {
    expect(secrets.size).toBeGreaterThan(10);
    const findings: string[] = [];
    const lines = SERVICE_NAMES.flatMap((name) =>
      readFileSync(e2e.platform.logFile(name), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => ({ name, line })),
    );
    for (const { name, line } of lines) {
      for (const what of leaked(line)) findings.push(`${name} log: ${what} in ${line.slice(0, 300)}`);
    }
    console.log(
      `scanned ${lines.length} log lines of 4 services for ${secrets.size} secrets: ${findings.length} found`,
    );
    // The rejected calls were logged (at debug), so their lines were among those scanned.
    const rejected = (rpc: string, code: string) =>
      lines.some(({ line }) => line.includes(`UserService/${rpc}`) && line.includes(`"code":"${code}"`));
    expect(rejected('Login', 'UNAUTHENTICATED')).toBe(true);
    expect(rejected('AddPaymentMethod', 'INVALID_ARGUMENT')).toBe(true);
    expect(rejected('GetProfile', 'UNAUTHENTICATED')).toBe(true);
    expect(lines.some(({ line }) => line.includes('cache unavailable'))).toBe(true);
    expect(findings).toEqual([]);
  });

  it('finds none of them in any span', () => {
    expect(secrets.size).toBeGreaterThan(10);
    const findings = receiver.spans.flatMap((span: ReceivedSpan) =>
      leaked(JSON.stringify(span)).map((what) => `${span.service} span "${span.name}": ${what}`),
    );
    const attributes = receiver.spans.reduce((sum, span) => sum + Object.keys(span.attributes).length, 0);
    console.log(`scanned ${receiver.spans.length} spans (${attributes} attributes): ${findings.length} found`);
    expect(findings).toEqual([]);
  });

  it('stores only a provider token and the last four digits of a card, in every database', async () => {
    const cardNumbers = [CARD, NOT_A_CARD, DECLINED_CARD];
    const findings: string[] = [];
    for (const name of SERVICE_NAMES) {
      const url = e2e.databaseUrl(name);
      const tables = await query<{ table_name: string }>(
        url,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
      );
      for (const { table_name: table } of tables) {
        const rows = await query<{ row: string }>(url, `SELECT row_to_json(t)::text AS row FROM "${table}" t`);
        for (const { row } of rows) {
          for (const secret of [...cardNumbers, PASSWORD, WRONG_PASSWORD]) {
            if (row.includes(secret)) findings.push(`${name}.${table}: ${row.slice(0, 200)}`);
          }
        }
      }
    }
    expect(findings).toEqual([]);

    const methods = await query<{ provider_token: string; last4: string }>(
      e2e.databaseUrl('payment'),
      'SELECT provider_token, last4 FROM payment_methods ORDER BY created_at',
    );
    expect(methods.map((m) => m.last4)).toEqual([CARD.slice(-4), DECLINED_CARD.slice(-4)]);
    for (const method of methods) expect(method.provider_token).toMatch(/^sim_tok_[0-9a-z_]+$/);
  });
});
