import type { TokenIssuer } from '@ordermesh/identity';
import { outboxRecord } from '@ordermesh/messaging';
import type { User as UserMessage } from '@ordermesh/proto/user';
import { alreadyExists, isUniqueViolation, notFound, unauthenticated } from '@ordermesh/runtime';
import type { Cache, Codec } from '@ordermesh/storage';
import { decoyHash, hashPassword, verifyPassword } from './password.js';
import type { User, UserStore } from './store.js';

export interface Registration {
  idempotencyKey: string;
  email: string;
  password: string;
  displayName: string;
}

const cacheKey = (userId: string) => `user:v1:${userId}`;

export function toUserMessage(user: User): UserMessage {
  return {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    createdAt: user.createdAt,
    updatedAt: user.updatedAt,
  };
}

/** Accounts: registration (once per idempotency key), login, and the cached profile. */
export class Users {
  private decoy: Promise<string> | undefined;

  constructor(
    private readonly store: UserStore,
    private readonly tokens: TokenIssuer,
    private readonly cache: Cache,
    private readonly codec: Codec<UserMessage>,
    private readonly passwordLogN: number,
    private readonly onEventWritten: () => void,
  ) {}

  async register(registration: Registration): Promise<UserMessage> {
    const email = registration.email.trim().toLowerCase();
    const previous = await this.store.findByRegistrationKey(registration.idempotencyKey);
    if (previous) return this.sameRegistration(previous, email);
    const taken = await this.store.findByEmail(email);
    // A racing twin of this very registration may have committed between the two reads.
    if (taken?.registrationKey === registration.idempotencyKey) return this.sameRegistration(taken, email);
    if (taken) throw alreadyExists('an account with this email already exists');

    const passwordHash = await hashPassword(registration.password, this.passwordLogN);
    try {
      const user = await this.store.insert(
        { email, displayName: registration.displayName, passwordHash, registrationKey: registration.idempotencyKey },
        (created) =>
          outboxRecord('user.registered', {
            userId: created.id,
            email: created.email,
            displayName: created.displayName,
            occurredAt: created.createdAt,
          }),
      );
      this.onEventWritten();
      return toUserMessage(user);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      const winner = await this.store.findByRegistrationKey(registration.idempotencyKey);
      if (winner) return this.sameRegistration(winner, email);
      throw alreadyExists('an account with this email already exists');
    }
  }

  async login(emailGiven: string, password: string) {
    const user = await this.store.findByEmail(emailGiven.trim().toLowerCase());
    // Verify against a decoy when there is no such user, so timing does not tell which emails exist.
    this.decoy ??= decoyHash(this.passwordLogN);
    const valid = await verifyPassword(password, user?.passwordHash ?? (await this.decoy));
    if (!user || !valid) throw unauthenticated('wrong email or password');
    const token = await this.tokens.issue(user.id);
    return { accessToken: token.token, expiresAt: token.expiresAt, user: toUserMessage(user) };
  }

  async profile(userId: string): Promise<UserMessage> {
    const user = await this.cache.getOrLoad(cacheKey(userId), this.codec, async () => {
      const row = await this.store.findById(userId);
      return row ? toUserMessage(row) : undefined;
    });
    if (!user) throw notFound('user');
    return user;
  }

  async updateProfile(userId: string, displayName: string): Promise<UserMessage> {
    const user = await this.store.updateDisplayName(userId, displayName);
    if (!user) throw notFound('user');
    await this.cache.invalidate(cacheKey(userId));
    return toUserMessage(user);
  }

  private sameRegistration(user: User, email: string): UserMessage {
    if (user.email !== email) throw alreadyExists('idempotency_key was already used for a different registration');
    return toUserMessage(user);
  }
}
