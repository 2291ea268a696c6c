import { z } from 'zod';

/** The form of every id in ordermesh. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `text` has a C0 control character or DEL. */
const hasControlCharacter = (text: string) =>
  [...text].some((char) => {
    const code = char.charCodeAt(0);
    return code < 0x20 || code === 0x7f;
  });

/** Validators for request fields that every service shares. */
export const fields = {
  /**
   * Short text that is stored and shown, such as a name: PostgreSQL text
   * cannot hold NUL (a NUL here was an INTERNAL error), and other control
   * characters only serve to forge log lines and mail headers.
   */
  text: (max: number) =>
    z
      .string()
      .trim()
      .min(1, 'is required')
      .max(max, `must be at most ${max} characters`)
      .refine((text) => !hasControlCharacter(text), 'must not contain control characters'),
  /** Chosen by the caller once per logical operation and sent again on every retry of it. */
  idempotencyKey: z
    .string()
    .min(1, 'is required')
    .max(128, 'must be at most 128 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
  id: z.string().min(1, 'is required').regex(UUID, 'must be a UUID'),
  pageSize: z
    .number()
    .int()
    .min(0, 'must not be negative')
    .max(100, 'must be at most 100')
    .transform((size) => size || 20),
  pageToken: z.string().max(512, 'is not a token from a previous response'),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR'),
};
