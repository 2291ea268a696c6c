import { empty, raw, type Sql, sql } from './database.js';

/** Where a newest-first list stopped: the last row's creation time and id (ids break ties). */
export interface KeysetPosition {
  createdAt: Date;
  id: string;
}

/**
 * The one keyset condition of every newest-first list, for rows aliased
 * `alias` and ordered by (created_at DESC, id DESC): a range on an index with
 * those columns after the owner's, so the hundredth page costs what the first
 * does. Empty on the first page.
 */
export function afterCursor(alias: string, after: KeysetPosition | undefined): Sql {
  if (!after) return empty;
  const row = raw(alias);
  return sql`AND (${row}.created_at, ${row}.id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`;
}
