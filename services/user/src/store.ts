import { randomUUID } from 'node:crypto';
import { type OutboxRecord, outboxInsertCte } from '@ordermesh/messaging';
import { queryRows, raw, type Sql, sql } from '@ordermesh/storage';
import type pg from 'pg';
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
 * Data access as everywhere (README, "Data access"): every statement is the
 * kit's `sql`, sent on the service's pool by `queryRows`; rows come back under
 * the field names of the Prisma schema's types.
 */
export class PostgresUserStore implements UserStore {
  constructor(private readonly pool: pg.Pool) {}

  findById(id: string) {
    return this.findOne(sql`u.id = ${id}::uuid`);
  }

  findByEmail(email: string) {
    return this.findOne(sql`u.email = ${email}`);
  }

  findByRegistrationKey(registrationKey: string) {
    return this.findOne(sql`u.registration_key = ${registrationKey}`);
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
    const [user] = await queryRows<User>(
      this.pool,
      sql`WITH u AS (UPDATE users SET display_name = ${displayName}, updated_at = now() WHERE id = ${id}::uuid RETURNING *)
          SELECT ${USER_COLUMNS} FROM u`,
    );
    return user ?? null;
  }

  /** The user a unique condition picks. */
  private async findOne(condition: Sql) {
    const [user] = await queryRows<User>(this.pool, sql`SELECT ${USER_COLUMNS} FROM users u WHERE ${condition}`);
    return user ?? null;
  }
}

/** The users columns under their Prisma field names, from a row source aliased `u`. */
const USER_COLUMNS = raw(`u.id::text AS id, u.email, u.display_name AS "displayName", u.password_hash AS "passwordHash",
  u.registration_key AS "registrationKey", u.created_at AS "createdAt", u.updated_at AS "updatedAt"`);
