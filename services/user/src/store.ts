import { randomUUID } from 'node:crypto';
import { type OutboxRecord, outboxInsertCte, queryRows, sql } from '@ordermesh/kit';
import type pg from 'pg';
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

/**
 * Data access as everywhere (README, "Data access"): the reads and the update
 * by key use Prisma's model API; the insert is hand-written, the kit's `sql`
 * sent on the shared pool by `queryRows`, so that its outbox row is written
 * the one way every outbox row is (kit outboxInsertCte).
 */
export class PostgresUserStore implements UserStore {
  constructor(
    private readonly db: Database,
    private readonly pool: pg.Pool,
  ) {}

  findById(id: string) {
    return this.db.user.findUnique({ where: { id } });
  }

  findByEmail(email: string) {
    return this.db.user.findUnique({ where: { email } });
  }

  findByRegistrationKey(registrationKey: string) {
    return this.db.user.findUnique({ where: { registrationKey } });
  }

  /**
   * One statement, so one round trip and one implicit transaction: the user and
   * its event are written together or not at all. The event is built from the
   * row as it will be stored, so id and times are chosen here; times to the
   * millisecond, the columns' precision.
   */
  async insert(user: NewUser, event: (user: User) => OutboxRecord) {
    const now = new Date();
    const created: User = { id: randomUUID(), ...user, createdAt: now, updatedAt: now };
    await queryRows(
      this.pool,
      sql`
      WITH u AS (
        INSERT INTO users (id, email, display_name, password_hash, registration_key, created_at, updated_at)
        VALUES (${created.id}::uuid, ${created.email}, ${created.displayName}, ${created.passwordHash},
                ${created.registrationKey}, ${now}::timestamptz, ${now}::timestamptz)
        RETURNING id),
      ${outboxInsertCte(event(created), 'u')}
      SELECT id FROM u`,
    );
    return created;
  }

  async updateDisplayName(id: string, displayName: string) {
    const { count } = await this.db.user.updateMany({ where: { id }, data: { displayName } });
    return count === 1 ? this.findById(id) : null;
  }
}
