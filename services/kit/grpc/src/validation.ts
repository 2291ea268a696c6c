import { invalidArgument } from '@ordermesh/runtime';
import type { z } from 'zod';

/** `paymentMethodId` -> `payment_method_id`: callers know the proto field names. */
const protoFieldName = (path: readonly PropertyKey[]) =>
  path
    .map((part) =>
      typeof part === 'number' ? `[${part}]` : String(part).replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
    )
    .join('.')
    .replace(/\.\[/g, '[');

/**
 * Validates a decoded request at the edge. A failure becomes INVALID_ARGUMENT
 * naming the proto field, e.g. `lines[0].quantity: must be at most 100`.
 */
export function parseRequest<Schema extends z.ZodType>(schema: Schema, request: unknown): z.infer<Schema> {
  const result = schema.safeParse(request);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw invalidArgument(issue ? protoFieldName(issue.path) || 'request' : 'request', issue?.message ?? 'is invalid');
}
