import { invalidArgument } from '@ordermesh/runtime';
import { UUID } from './fields.js';

/** Where a newest-first list stopped: the last row's creation time and id (ids break ties). */
export interface PageCursor {
  createdAt: Date;
  id: string;
}

export function encodePageToken(cursor: PageCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt.getTime(), cursor.id])).toString('base64url');
}

/** The last millisecond a JavaScript Date can hold (year 275760), which PostgreSQL's timestamptz can hold too. */
const MAX_TIME = 8.64e15;
const isUuid = (id: unknown): id is string => typeof id === 'string' && UUID.test(id);

/** An empty token means the first page; anything not made by encodePageToken is INVALID_ARGUMENT. */
export function decodePageToken(token: string): PageCursor | undefined {
  if (token === '') return undefined;
  try {
    const [time, id] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown[];
    // Only what encodePageToken makes: a time a database timestamp can hold and a row's UUID.
    // Anything else would reach the query and fail there as an internal error.
    if (typeof time === 'number' && Number.isSafeInteger(time) && time >= 0 && time <= MAX_TIME && isUuid(id)) {
      return { createdAt: new Date(time), id };
    }
  } catch {
    // fall through
  }
  throw invalidArgument('page_token', 'is not a token from a previous response');
}

/**
 * Given up to pageSize + 1 rows (newest first), returns the page and the token
 * for the next one: fetching one extra row tells whether there is a next page.
 */
export function toPage<Row extends PageCursor>(rows: Row[], pageSize: number): { rows: Row[]; nextPageToken: string } {
  if (rows.length <= pageSize) return { rows, nextPageToken: '' };
  const page = rows.slice(0, pageSize);
  const last = page[page.length - 1];
  return { rows: page, nextPageToken: last ? encodePageToken(last) : '' };
}
