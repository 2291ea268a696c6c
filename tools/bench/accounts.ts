/**
 * The benchmark's users, signed up through the platform's own API with fixed
 * emails and idempotency keys, so a second run finds the same accounts (and
 * the orders seeded for them) instead of making new ones.
 */
import { createHash } from 'node:crypto';
import { type CallOptions, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import {
  type AddPaymentMethodRequest,
  type AddPaymentMethodResponse,
  type LoginRequest,
  type LoginResponse,
  User,
  UserServiceClient,
} from '@ordermesh/proto/user';
import { Redis } from 'ioredis';
import { bearer } from './grpc-caller.ts';

export interface Account {
  userId: string;
  token: string;
  paymentMethodId: string;
  metadata: Metadata;
}

const PASSWORD = 'benchmark password, long enough';

/** A UUID-shaped key derived from `text`, the same on every run. */
const stableKey = (text: string) =>
  createHash('sha256')
    .update(text)
    .digest('hex')
    .slice(0, 32)
    .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');

/**
 * One call with a deadline, as every real client sends: a bounded deadline keeps the
 * sign-ups from hanging on a stuck service.
 */
function unary<Req, Res>(
  method: (
    request: Req,
    metadata: Metadata,
    options: Partial<CallOptions>,
    callback: (error: ServiceError | null, response: Res) => void,
  ) => unknown,
  request: Req,
  metadata = new Metadata(),
): Promise<Res> {
  return new Promise((resolve, reject) =>
    method(request, metadata, { deadline: Date.now() + 15_000 }, (error, response) =>
      error ? reject(error) : resolve(response),
    ),
  );
}

/**
 * Generation of the accounts: 2 are hashed at N = 2^12. Generation 1 (N = 2^14, 16 MiB per
 * hash) left each of libuv's threads a retained 16 MiB malloc arena after the logins, which
 * showed up as ~60 MiB of UserService RSS that production parameters (32 MiB hashes, always
 * mmapped and returned) never leave behind.
 */
const GENERATION = 2;

/** Registers (or finds) `name`, logs in and adds (or finds) a card. */
async function signUp(users: UserServiceClient, name: string): Promise<Account & { user: User }> {
  const email = `${name}.g${GENERATION}@bench.invalid`;
  await unary(users.register.bind(users), {
    idempotencyKey: stableKey(`register ${GENERATION} ${name}`),
    email,
    password: PASSWORD,
    displayName: name,
  });
  const login = await unary<LoginRequest, LoginResponse>(users.login.bind(users), { email, password: PASSWORD });
  const metadata = bearer(login.accessToken);
  const card = await unary<AddPaymentMethodRequest, AddPaymentMethodResponse>(
    users.addPaymentMethod.bind(users),
    {
      idempotencyKey: stableKey(`card ${GENERATION} ${name}`),
      cardNumber: '4242424242424242',
      expMonth: 12,
      expYear: 2035,
      holderName: name,
    },
    metadata,
  );
  const user = login.user ?? User.fromPartial({});
  return { user, userId: user.id, token: login.accessToken, paymentMethodId: card.paymentMethod?.id ?? '', metadata };
}

export async function signUpAll(address: string, names: readonly string[]): Promise<Map<string, Account>> {
  const users = new UserServiceClient(address, credentials.createInsecure());
  const redis = new Redis('redis://127.0.0.1:6379');
  try {
    const accounts = new Map<string, Account>();
    for (const name of names) {
      const { user, ...account } = await signUp(users, name);
      // The bare baseline reads profiles from its own cache keys, filled here as a first GetProfile would.
      await redis.set(`bench:bare:user:v1:${user.id}`, Buffer.from(User.encode(user).finish()), 'EX', 3600);
      accounts.set(name, account);
    }
    return accounts;
  } finally {
    users.close();
    redis.disconnect();
  }
}
