/**
 * ordermesh load test: k6 over gRPC against the mesh ingress (UserService).
 *
 *   k6 run -e PROFILE=average -e RATE=50 -e TARGET=ingress.example:443 -e TLS=true load-tests/ordermesh.ts
 *
 * setup() registers USERS accounts (or logs in to ACCOUNTS), each with a card;
 * the scenarios then share them. See docs/load-tests.md for every variable.
 */
import { fail } from 'k6';
import exec from 'k6/execution';
import { profileOptions } from './lib/profiles.ts';
import { settings } from './lib/settings.ts';
import { invoke, uuid } from './lib/user-api.ts';

export const options = profileOptions(settings.profile, settings.rate);

interface Account {
  email: string;
  password: string;
  paymentMethodId: string;
}

interface Session {
  token: string;
  /** Unix ms. */
  expiresAt: number;
}

interface LoginResponse {
  accessToken: string;
  expiresAt?: string;
}

function login(email: string, password: string): Session {
  const response = invoke<LoginResponse>('Login', { email, password });
  if (!response) fail(`login failed for ${email}`);
  const expiresAt = response.expiresAt ? Date.parse(response.expiresAt) : Date.now() + 3_600_000;
  return { token: response.accessToken, expiresAt };
}

function addCard(token: string): string {
  const response = invoke<{ paymentMethod?: { id: string } }>(
    'AddPaymentMethod',
    {
      idempotencyKey: uuid(),
      cardNumber: settings.cardNumber,
      expMonth: 12,
      expYear: 2035,
      holderName: 'k6 load test',
    },
    token,
  );
  if (!response?.paymentMethod) fail('could not add a payment method');
  return response.paymentMethod.id;
}

function existingAccounts(): Array<{ email: string; password: string }> {
  return settings.accounts.split(',').map((pair) => {
    const [email = '', password = ''] = pair.split(':');
    return { email, password };
  });
}

function registeredAccounts(): Array<{ email: string; password: string }> {
  const runId = uuid().slice(0, 8);
  return Array.from({ length: settings.users }, (_, index) => {
    const email = `k6-${runId}-${index}@loadtest.invalid`;
    const registered = invoke('Register', {
      idempotencyKey: uuid(),
      email,
      password: settings.password,
      displayName: `k6 user ${index}`,
    });
    if (!registered) fail(`could not register ${email}`);
    return { email, password: settings.password };
  });
}

export function setup(): Account[] {
  const credentials = settings.accounts ? existingAccounts() : registeredAccounts();
  return credentials.map(({ email, password }) => ({
    email,
    password,
    paymentMethodId: addCard(login(email, password).token),
  }));
}

// Per VU: one account and its session, logged in again shortly before the token expires.
let account: Account | undefined;
let session: Session | undefined;

function sessionFor(accounts: Account[]): { account: Account; token: string } {
  account ??= accounts[exec.vu.idInTest % accounts.length];
  if (!account) fail('setup() returned no accounts');
  if (!session || Date.now() > session.expiresAt - settings.tokenRefreshMarginSeconds * 1000) {
    session = login(account.email, account.password);
  }
  return { account, token: session.token };
}

export function getProfile(accounts: Account[]): void {
  invoke('GetProfile', {}, sessionFor(accounts).token);
}

export function listMyOrders(accounts: Account[]): void {
  invoke('ListMyOrders', { pageSize: 20, pageToken: '' }, sessionFor(accounts).token);
}

export function placeOrder(accounts: Account[]): void {
  const { account: buyer, token } = sessionFor(accounts);
  invoke(
    'PlaceOrder',
    { idempotencyKey: uuid(), lines: [{ sku: 'MUG-001', quantity: 1 }], paymentMethodId: buyer.paymentMethodId },
    token,
  );
}
