import type { OutboxRecord } from '@ordermesh/kit';
import type { Database } from './db.js';
import type { User } from './generated/prisma/client.js';

export type { User };
export type NewUser = Pick<User, 'email' | 'displayName' | 'passwordHash' | 'registrationKey'>;

/** UserService's data access. */
export interface UserStore {
  findById(id: string): Promise<User | null>;
  findByEmail(email: string): Promise<User | null>;
  findByRegistrationKey(key: string): Promise<User | null>;
  /** Inserts the user and its event in one transaction; throws a unique violation on a taken email or key. */
  insert(user: NewUser, event: (user: User) => OutboxRecord): Promise<User>;
  updateDisplayName(id: string, displayName: string): Promise<User | null>;
}

export class PrismaUserStore implements UserStore {
  constructor(private readonly db: Database) {}

  findById(id: string) {
    return this.db.user.findUnique({ where: { id } });
  }

  findByEmail(email: string) {
    return this.db.user.findUnique({ where: { email } });
  }

  findByRegistrationKey(registrationKey: string) {
    return this.db.user.findUnique({ where: { registrationKey } });
  }

  insert(user: NewUser, event: (user: User) => OutboxRecord) {
    return this.db.$transaction(async (tx) => {
      const created = await tx.user.create({ data: user });
      await tx.outboxEvent.create({ data: event(created) });
      return created;
    });
  }

  async updateDisplayName(id: string, displayName: string) {
    const { count } = await this.db.user.updateMany({ where: { id }, data: { displayName } });
    return count === 1 ? this.findById(id) : null;
  }
}
