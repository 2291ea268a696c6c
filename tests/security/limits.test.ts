import { randomBytes, randomUUID } from 'node:crypto';
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SERVICE_NAMES, type ServiceName } from '@ordermesh/dev/platform';
import { clientOptions, serverOptions } from '@ordermesh/grpc';
import { AddPaymentMethodRequest, type LoginResponse, UserServiceClient } from '@ordermesh/proto/user';
import { call, type E2E, eventually, failure, startE2E } from '@ordermesh/testing';
import { Redis } from 'ioredis';
import { RawHttp2Client, summarize } from './support/abuse-http2.ts';

/**
 * Size and rate limits against the real processes: oversized messages,
 * one client flooding a connection with streams, pings and calls, and the
 * login throttle, which must outlive a restart of UserService.
 */
const THROTTLE = {
  LOGIN_THROTTLE_PER_ACCOUNT: '3',
  LOGIN_THROTTLE_PER_SOURCE: '5',
  LOGIN_THROTTLE_WINDOW_SECONDS: '600',
  // As behind the mesh ingress: each test below then comes from addresses of its own.
  LOGIN_CLIENT_ADDRESS_FROM: 'x-forwarded-for',
};
const PASSWORD = 'a long enough password';
const MAX_RECEIVE = serverOptions['grpc.max_receive_message_length'];
const HEALTH_CHECK = '/grpc.health.v1.Health/Check';

let e2e: E2E;
const clients: { close(): void }[] = [];

beforeAll(async () => {
  e2e = await startE2E('limits', 28500);
  // The same UserService with small throttle limits, so a test reaches them in a few calls.
  await e2e.platform.stopService('user');
  await e2e.platform.startService('user', THROTTLE);
}, 180_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await e2e?.close();
  const redis = new Redis('redis://127.0.0.1:6379');
  const keys = await redis.keys(`login-throttle:v1:ordermesh_user${e2e?.settings.databaseSuffix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
}, 60_000);

/** A client on a connection of its own (grpc-js shares one per target otherwise). */
function ownConnection(name: ServiceName = 'user'): UserServiceClient {
  const client = new UserServiceClient(e2e.platform.address(name), credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  });
  clients.push(client);
  return client;
}

/** A made-up client address for x-forwarded-for, new on every run (throttle keys live in Redis for the window). */
const newSource = () => `10.${randomBytes(3).join('.')}`;

function login(email: string, password: string, source: string): Promise<LoginResponse> {
  const metadata = new Metadata();
  // What a client sent, then the address the ingress appended: only the last entry counts.
  metadata.set('x-forwarded-for', `192.0.2.1, ${source}`);
  return new Promise((resolve, reject) =>
    e2e.users.login({ email, password }, metadata, { deadline: new Date(Date.now() + 15_000) }, (error, response) =>
      error ? reject(error) : resolve(response),
    ),
  );
}

async function register(): Promise<string> {
  const email = `${randomUUID()}@example.com`;
  await call(e2e.users.register.bind(e2e.users), {
    idempotencyKey: randomUUID(),
    email,
    password: PASSWORD,
    displayName: 'Throttled',
  });
  return email;
}

/** A unary call of `path` whose request is `bytes` as they are, on a connection of its own. */
function rawCall(name: ServiceName, path: string, bytes: Buffer): Promise<{ error: ServiceError | null }> {
  const client = new Client(e2e.platform.address(name), credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  });
  clients.push(client);
  return new Promise((resolve) =>
    client.makeUnaryRequest(
      path,
      (request: Buffer) => request,
      (response: Buffer) => response,
      bytes,
      new Metadata(),
      { deadline: new Date(Date.now() + 15_000) },
      (error) => resolve({ error }),
    ),
  );
}

describe('message size', () => {
  it.each(SERVICE_NAMES)('%s rejects a request over the limit at once, and keeps serving', async (name) => {
    const startedAt = performance.now();
    const { error } = await rawCall(name, HEALTH_CHECK, Buffer.alloc(MAX_RECEIVE + 1));
    const elapsedMs = Math.round(performance.now() - startedAt);
    console.log(`${name}: ${MAX_RECEIVE + 1}-byte request answered ${status[error?.code ?? 0]} in ${elapsedMs} ms`);
    expect(error?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(elapsedMs).toBeLessThan(10_000);
    // The empty request is a valid HealthCheckRequest, and the process is still there to answer it.
    expect((await rawCall(name, HEALTH_CHECK, Buffer.alloc(0))).error).toBeNull();
  });

  it('lets a request under the limit through to validation', async () => {
    const register = (displayName: string) =>
      call(e2e.users.register.bind(e2e.users), {
        idempotencyKey: randomUUID(),
        email: `${randomUUID()}@example.com`,
        password: PASSWORD,
        displayName,
      });
    const over = await failure(register('x'.repeat(MAX_RECEIVE)));
    expect(over.code).toBe(status.RESOURCE_EXHAUSTED);
    const under = await failure(register('x'.repeat(MAX_RECEIVE - 1_000)));
    expect(under.code).toBe(status.INVALID_ARGUMENT);
    expect(under.details).toContain('display_name');
  });

  it('limits what a service sends downstream too: a request UserService takes but may not forward', async () => {
    const { token } = await e2e.signUp();
    const request = {
      idempotencyKey: randomUUID(),
      cardNumber: '4242424242424242',
      expMonth: 12,
      expYear: 2031,
      holderName: '',
    };
    // 10 bytes under UserService's receive limit; the user id it adds (38 bytes) takes it over its
    // client's send limit to PaymentService. 4 bytes: the field's tag and 3-byte length.
    const fill = MAX_RECEIVE - 10 - AddPaymentMethodRequest.encode(request).finish().length - 4;
    request.holderName = 'x'.repeat(fill);
    expect(AddPaymentMethodRequest.encode(request).finish().length).toBe(MAX_RECEIVE - 10);
    expect(clientOptions['grpc.max_send_message_length']).toBe(MAX_RECEIVE);
    const refused = await failure(call(e2e.users.addPaymentMethod.bind(e2e.users), request, token));
    console.log(`oversized forward: ${status[refused.code]} ${refused.details}`);
    expect(refused.code).toBe(status.RESOURCE_EXHAUSTED);
    // Refused by UserService's own client on the way out, not by either server on the way in.
    expect(refused.details).toContain('send message');
  });
});

describe('one client flooding one connection', () => {
  /** Sequential ListProducts calls on a connection of their own; their latencies in ms. */
  async function timedCalls(count: number): Promise<number[]> {
    const client = ownConnection();
    const latencies: number[] = [];
    for (let i = 0; i < count; i += 1) {
      const startedAt = performance.now();
      await call(client.listProducts.bind(client), {});
      latencies.push(performance.now() - startedAt);
    }
    return latencies;
  }

  it('cannot hold more streams than the server allows, and another client is served meanwhile', async () => {
    const flooder = await RawHttp2Client.connect(e2e.platform.address('user'));
    clients.push(flooder);
    const limit = serverOptions['grpc.max_concurrent_streams'];
    expect(flooder.maxConcurrentStreams).toBe(limit);

    // Streams that send headers and nothing else: the server waits on each of them.
    const streams = Array.from({ length: limit + 100 }, () =>
      flooder.holdOpen('/ordermesh.user.v1.UserService/ListProducts'),
    );
    await eventually('the server to accept streams up to its limit', () => flooder.openStreams(streams) >= limit);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const held = flooder.openStreams(streams);

    const baseline = summarize(await timedCalls(10));
    const during = summarize(await timedCalls(20));
    console.log(
      `held streams: ${held} of ${streams.length} opened (limit ${limit}); second client ListProducts ms, ` +
        `before: ${JSON.stringify(baseline)}, while held: ${JSON.stringify(during)}`,
    );
    expect(held).toBe(limit);
    expect(during.n).toBe(20);
    flooder.close();
  });

  it('does not starve a second client while it floods with calls', async () => {
    const baseline = summarize(await timedCalls(10));
    const flooder = ownConnection();
    const floodSize = 1_000;
    const outcomes = new Map<string, number>();
    const floodStartedAt = performance.now();
    const flood = Promise.all(
      Array.from({ length: floodSize }, () =>
        call(flooder.listProducts.bind(flooder), {}).then(
          () => 'OK',
          (error: ServiceError) => status[error.code] ?? String(error.code),
        ),
      ),
    ).then((codes) => {
      for (const code of codes) outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
      return performance.now() - floodStartedAt;
    });
    const during = summarize(await timedCalls(20));
    const floodMs = Math.round(await flood);
    console.log(
      `flood of ${floodSize} concurrent ListProducts on one connection took ${floodMs} ms: ` +
        `${JSON.stringify(Object.fromEntries(outcomes))}; second client ms, before: ${JSON.stringify(baseline)}, ` +
        `during: ${JSON.stringify(during)}`,
    );
    // Every call of the second client succeeded within its deadline (call() throws otherwise).
    expect(during.n).toBe(20);
    expect(outcomes.get('OK')).toBe(floodSize);
  }, 120_000);

  it('answers a ping flood without starving a second client (grpc-js has no ping policy: see docs/security.md)', async () => {
    const flooder = await RawHttp2Client.connect(e2e.platform.address('user'));
    clients.push(flooder);
    const pings = flooder.pingFlood(2_000);
    const during = summarize(await timedCalls(10));
    const answered = await pings;
    console.log(
      `ping flood: ${answered} of 2000 answered, GOAWAY code ${flooder.goawayCode ?? 'none'}; ` +
        `second client ListProducts ms during it: ${JSON.stringify(during)}`,
    );
    expect(during.n).toBe(10);
    expect(answered).toBeGreaterThan(0);
  });
});

describe('login throttling', () => {
  it('throttles an account after too many failures, the same way whether it exists or not', async () => {
    const email = await register();
    const ghost = `${randomUUID()}@example.com`;
    const answers: Record<string, ServiceError> = {};
    for (const account of [email, ghost]) {
      for (let i = 0; i < 3; i += 1) {
        // From a new address each time: it is the account's limit that is reached, not the source's.
        expect((await failure(login(account, 'wrong password!', newSource()))).code).toBe(status.UNAUTHENTICATED);
      }
      answers[account] = await failure(login(account, PASSWORD, newSource()));
    }
    expect(answers[email]?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(answers[ghost]?.code).toBe(status.RESOURCE_EXHAUSTED);
    // Nothing tells an existing account from a made-up one.
    expect(answers[email]?.details).toBe(answers[ghost]?.details);
    expect(answers[email]?.details).not.toContain(email);
  });

  it('throttles a source address after too many failures across accounts', async () => {
    const source = newSource();
    const email = await register();
    for (let i = 0; i < 5; i += 1) {
      const attempt = login(`${randomUUID()}@example.com`, 'wrong password!', source);
      expect((await failure(attempt)).code).toBe(status.UNAUTHENTICATED);
    }
    expect((await failure(login(email, PASSWORD, source))).code).toBe(status.RESOURCE_EXHAUSTED);
    // The account itself is fine from anywhere else.
    expect((await login(email, PASSWORD, newSource())).accessToken).not.toBe('');
  });

  it('does not count successful logins', async () => {
    const email = await register();
    const source = newSource();
    for (let i = 0; i < 8; i += 1) expect((await login(email, PASSWORD, source)).accessToken).not.toBe('');
  });

  it('outlives a restart of UserService, because it is kept in Redis', async () => {
    const email = await register();
    for (let i = 0; i < 3; i += 1) await failure(login(email, 'wrong password!', newSource()));
    expect((await failure(login(email, PASSWORD, newSource()))).code).toBe(status.RESOURCE_EXHAUSTED);

    await e2e.platform.stopService('user', 'SIGKILL');
    await e2e.platform.startService('user', THROTTLE);

    expect((await failure(login(email, PASSWORD, newSource()))).code).toBe(status.RESOURCE_EXHAUSTED);
    // While a fresh account logs in fine: the restarted service is serving.
    expect((await login(await register(), PASSWORD, newSource())).accessToken).not.toBe('');
  }, 90_000);

  it('fails open to counting in the process while Redis is away', async () => {
    const email = await register();
    await e2e.proxies.redis.cut();
    try {
      expect((await login(email, PASSWORD, newSource())).accessToken).not.toBe('');
      for (let i = 0; i < 3; i += 1) await failure(login(email, 'wrong password!', newSource()));
      expect((await failure(login(email, PASSWORD, newSource()))).code).toBe(status.RESOURCE_EXHAUSTED);
    } finally {
      await e2e.proxies.redis.restore();
    }
  });
});
