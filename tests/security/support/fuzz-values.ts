/**
 * fast-check arbitraries for hostile requests, driven by the message
 * descriptors: every field of every request gets boundary and hostile values
 * for its type, and fields the domain knows (ids, idempotency keys, amounts,
 * currencies, cards) also get realistic values, so cases get past validation
 * and reach the handlers and databases. Each value says whether the contract
 * requires the call to fail, which turns an OK answer into a finding.
 */
import { randomUUID } from 'node:crypto';
import { create, type DescEnum, type DescField, type DescMessage, ScalarType, toBinary } from '@bufbuild/protobuf';
// The services' own id pattern: a value it refuses in an id field must be refused by every RPC.
import { UUID } from '@ordermesh/grpc';
import fc from 'fast-check';

/** A generated value and whether the contract says a request carrying it must be refused. */
export interface Tagged<T = unknown> {
  value: T;
  invalid: boolean;
}

/** A request as message init, its encoding, and the fields that make it one the contract refuses. */
export interface FuzzRequest {
  init: Record<string, unknown>;
  bytes: Uint8Array;
  invalidFields: string[];
}

/** Real ids and values from the running platform, so that cases hit existing rows. */
export interface Pools {
  userIds: string[];
  orderIds: string[];
  paymentMethodIds: string[];
  skus: string[];
  emails: string[];
  password: string;
  goodCard: string;
  declinedCard: string;
}

export const MIB = 1024 * 1024;

const ok = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<Tagged<T>> =>
  arbitrary.map((value) => ({ value, invalid: false }));
const bad = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<Tagged<T>> =>
  arbitrary.map((value) => ({ value, invalid: true }));
const weighted = <T>(...choices: [number, fc.Arbitrary<T>][]) =>
  fc.oneof(...choices.map(([weight, arbitrary]) => ({ weight, arbitrary })));

/** Strings that have broken parsers, databases, logs and terminals before. */
const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\u202Eexe.txt\u202C',
  '\u200B\u200D\uFEFF',
  'é',
  'e\u0301',
  '𝕏🙂👩‍👩‍👧',
  '\uD800',
  '\uDFFF\uD800',
  "' OR 1=1 --",
  '"; DROP TABLE orders; --',
  '%s%n%x',
  '../../../../etc/passwd',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4j-style lookup, meant literally
  '${jndi:ldap://127.0.0.1/x}',
  '<script>alert(1)</script>',
  '\r\n\tX-Injected: 1',
  'null',
  '-1',
  'NaN',
  '00000000-0000-0000-0000-000000000000',
  'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
  ' 8a1f3c1e-6a7b-4c1d-9e2f-0123456789ab',
];

/** Lengths around the server's 1 MiB receive limit and the validators' limits. */
const HUGE_LENGTHS = [MIB - 512, MIB - 64, MIB + 1, 2 * MIB];
const LONG_LENGTHS = [65, 101, 129, 255, 257, 513, 4096, 100_000];

/** Any string, hostile ones much more often than chance would give. */
export const hostileString: fc.Arbitrary<string> = weighted<string>(
  [6, fc.constantFrom(...NASTY_STRINGS)],
  [4, fc.string({ unit: 'binary', maxLength: 40 })],
  [2, fc.string({ unit: 'grapheme', maxLength: 40 })],
  [2, fc.constantFrom(...LONG_LENGTHS).map((n) => 'x'.repeat(n))],
  [2, fc.tuple(fc.constantFrom(...NASTY_STRINGS), fc.constantFrom(...LONG_LENGTHS)).map(([s, n]) => s.repeat(n))],
  [1, fc.constantFrom(...HUGE_LENGTHS).map((n) => 'x'.repeat(n))],
);

const INT32_EDGES = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 15, 2 ** 16 + 1, 101, 1000];
const UINT32_EDGES = [0, 1, 2 ** 32 - 1, 2 ** 31];
const INT64_EDGES = [
  0n,
  1n,
  -1n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 53n + 1n,
  -(2n ** 53n) - 1n,
  2n ** 63n - 1n,
  -(2n ** 63n),
  10n ** 15n,
];
const UINT64_EDGES = [0n, 1n, 2n ** 64n - 1n, 2n ** 63n];
const UNKNOWN_ENUM_NUMBERS = [-1, 99, 2 ** 31 - 1, -(2 ** 31)];

function scalarArbitrary(scalar: ScalarType): fc.Arbitrary<Tagged> {
  switch (scalar) {
    case ScalarType.STRING:
      return ok(hostileString);
    case ScalarType.BYTES:
      return ok(fc.uint8Array({ maxLength: 64 }));
    case ScalarType.BOOL:
      return ok(fc.boolean());
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return ok(fc.double());
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return ok(weighted([1, fc.constantFrom(...INT32_EDGES)], [1, fc.integer()]));
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return ok(weighted([1, fc.constantFrom(...UINT32_EDGES)], [1, fc.nat()]));
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return ok(weighted([1, fc.constantFrom(...UINT64_EDGES)], [1, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })]));
    default:
      return ok(
        weighted([1, fc.constantFrom(...INT64_EDGES)], [1, fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })]),
      );
  }
}

function enumArbitrary(desc: DescEnum): fc.Arbitrary<Tagged> {
  const known = desc.values.map((v) => v.number);
  return weighted<Tagged>([3, ok(fc.constantFrom(...known))], [1, ok(fc.constantFrom(...UNKNOWN_ENUM_NUMBERS))]);
}

/** Field-name rules: what the domain knows about a field beyond its type. */
function domainArbitrary(name: string, pools: Pools): fc.Arbitrary<Tagged> | undefined {
  const uuidLike = (known: string[]) =>
    weighted<Tagged>(
      [5, ok(known.length > 0 ? fc.constantFrom(...known) : fc.uuid())],
      [2, ok(fc.uuid())],
      [2, hostileString.map((value) => ({ value, invalid: !UUID.test(value) }))],
      [1, bad(fc.constantFrom('', 'not-a-uuid', '123', `${randomUUID()}x`, randomUUID().replaceAll('-', '')))],
    );
  switch (name) {
    case 'idempotency_key':
      return weighted<Tagged>(
        // A few shared keys, so that duplicates and reuse for a different request happen often.
        [3, ok(fc.constantFrom('fuzz-key-1', 'fuzz-key-2', 'fuzz-key-3'))],
        [3, ok(fc.uuid())],
        [2, bad(fc.constantFrom('', ' ', 'a b', 'ключ', 'x'.repeat(129), '\u0000', 'tab\tkey'))],
        [1, hostileString.map((value) => ({ value, invalid: !/^[\x21-\x7e]{1,128}$/.test(value) }))],
      );
    case 'user_id':
      return uuidLike(pools.userIds);
    case 'order_id':
      return uuidLike(pools.orderIds);
    case 'payment_method_id':
      return uuidLike(pools.paymentMethodIds);
    case 'sku':
      return weighted<Tagged>([4, ok(fc.constantFrom(...pools.skus))], [2, ok(hostileString)]);
    case 'quantity':
      return weighted<Tagged>(
        [4, ok(fc.integer({ min: 1, max: 100 }))],
        [2, bad(fc.constantFrom(0, -1, 101, 2 ** 31 - 1, -(2 ** 31)))],
      );
    case 'page_size':
      return weighted<Tagged>(
        [3, ok(fc.integer({ min: 0, max: 100 }))],
        [2, bad(fc.constantFrom(-1, 101, 2 ** 31 - 1, -(2 ** 31)))],
      );
    case 'page_token':
      return weighted<Tagged>([3, ok(forgedPageToken)], [2, ok(hostileString)]);
    case 'amount_minor':
      return weighted<Tagged>(
        [4, ok(fc.bigInt({ min: 1n, max: 2_000_000n }))],
        [2, bad(fc.constantFrom(0n, -1n, -(2n ** 63n), -(2n ** 53n)))],
        // Past Number.MAX_SAFE_INTEGER: the services would lose precision, so they must refuse it.
        [2, bad(fc.constantFrom(2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n))],
      );
    case 'currency':
      return weighted<Tagged>(
        [4, ok(fc.constantFrom('EUR', 'USD', 'JPY'))],
        [3, bad(fc.constantFrom('', 'eur', 'EURO', 'EU', '€', 'E1R', 'EUR\u0000', ' EUR', 'ÉUR'))],
        [1, hostileString.map((value) => ({ value, invalid: !/^[A-Z]{3}$/.test(value) }))],
      );
    case 'card_number':
      return weighted<Tagged>(
        [4, ok(fc.constantFrom(pools.goodCard, pools.declinedCard, '5555555555554444'))],
        [
          2,
          bad(
            fc.constantFrom(
              '4242424242424241',
              '4242 4242 4242 4242',
              '42424242424',
              '4'.repeat(20),
              '',
              '-4242424242424242',
            ),
          ),
        ],
        [2, ok(fc.stringMatching(/^\d{12,19}$/))],
        [1, ok(hostileString)],
      );
    case 'exp_month':
      return weighted<Tagged>(
        [4, ok(fc.integer({ min: 1, max: 12 }))],
        [2, bad(fc.constantFrom(0, 13, -1, 2 ** 31 - 1))],
      );
    case 'exp_year':
      return weighted<Tagged>(
        [4, ok(fc.integer({ min: 2020, max: 2045 }))],
        [2, bad(fc.constantFrom(0, 99, 1999, 2101, -(2 ** 31), 2 ** 31 - 1))],
      );
    case 'email':
      return weighted<Tagged>(
        [3, ok(pools.emails.length > 0 ? fc.constantFrom(...pools.emails) : fc.emailAddress())],
        [2, ok(fc.uuid().map((id) => `${id}@example.com`))],
        [1, ok(fc.emailAddress())],
        [2, ok(hostileString)],
      );
    case 'password':
      return weighted<Tagged>(
        [3, ok(fc.constant(pools.password))],
        [1, ok(fc.string({ minLength: 10, maxLength: 40 }))],
        [2, ok(hostileString)],
      );
    default:
      return undefined;
  }
}

/**
 * Page tokens shaped like the services' own (base64url JSON of [time, id])
 * with hostile insides: times no Date can hold, ids that are not UUIDs.
 */
const forgedPageToken: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom<unknown>(Date.now(), 0, -1, 1e20, -1e20, 8.64e15 + 1, 1.5, '1', null),
    fc.constantFrom<unknown>(randomUUID(), 'not-a-uuid', '', 'x'.repeat(64), '\u0000', 42, null),
  )
  .map((cursor) => Buffer.from(JSON.stringify(cursor)).toString('base64url'));

function fieldArbitrary(field: DescField, pools: Pools): fc.Arbitrary<Tagged> {
  switch (field.fieldKind) {
    case 'scalar':
      return domainArbitrary(field.name, pools) ?? scalarArbitrary(field.scalar);
    case 'enum':
      return enumArbitrary(field.enum);
    case 'message':
      return messageArbitrary(field.message, pools).map(({ init, invalidFields }) => ({
        value: init,
        invalid: invalidFields.length > 0,
      }));
    case 'list': {
      const element: fc.Arbitrary<Tagged> =
        field.listKind === 'message'
          ? messageArbitrary(field.message, pools).map(({ init, invalidFields }) => ({
              value: init,
              invalid: invalidFields.length > 0,
            }))
          : field.listKind === 'enum'
            ? enumArbitrary(field.enum)
            : (domainArbitrary(field.name, pools) ?? scalarArbitrary(field.scalar));
      return weighted(
        [4, fc.array(element, { maxLength: 5 })],
        [1, fc.array(element, { minLength: 40, maxLength: 120 })],
      ).map((items) => ({ value: items.map((item) => item.value), invalid: items.some((item) => item.invalid) }));
    }
    case 'map':
      return ok(fc.constant({}));
  }
}

interface MessageInit {
  init: Record<string, unknown>;
  invalidFields: string[];
}

/** Values the contract accepts for a field, so that a case can be wrong in one field only. */
function plausibleArbitrary(field: DescField, pools: Pools): fc.Arbitrary<unknown> {
  // The first of a pool is the main fuzz user and its card, so that user and card match often enough to charge.
  const pick = <T>(values: T[], fallback: fc.Arbitrary<T>) =>
    values.length > 0 ? weighted<T>([3, fc.constant(values[0] as T)], [2, fc.constantFrom(...values)]) : fallback;
  const byName: Record<string, fc.Arbitrary<unknown>> = {
    idempotency_key: fc.oneof(fc.constantFrom('fuzz-key-1', 'fuzz-key-2', 'fuzz-key-3'), fc.uuid()),
    user_id: pick(pools.userIds, fc.uuid()),
    // A new order id too: Charge and Refund create the payment of an order they have not seen.
    order_id: fc.oneof(pick(pools.orderIds, fc.uuid()), fc.uuid()),
    payment_method_id: pick(pools.paymentMethodIds, fc.uuid()),
    sku: pick(pools.skus, fc.constant('MUG-001')),
    quantity: fc.integer({ min: 1, max: 3 }),
    page_size: fc.integer({ min: 0, max: 100 }),
    page_token: fc.constant(''),
    amount_minor: fc.bigInt({ min: 1n, max: 2_000_000n }),
    currency: fc.constantFrom('EUR', 'USD'),
    card_number: fc.constantFrom(pools.goodCard, pools.declinedCard, '5555555555554444'),
    exp_month: fc.integer({ min: 1, max: 12 }),
    exp_year: fc.integer({ min: 2030, max: 2040 }),
    email: fc.oneof(
      pick(pools.emails, fc.constant('a@example.com')),
      fc.uuid().map((id) => `${id}@example.com`),
    ),
    password: fc.oneof(fc.constant(pools.password), fc.stringMatching(/^[a-zA-Z0-9]{10,30}$/)),
  };
  switch (field.fieldKind) {
    case 'scalar':
      if (field.name in byName) return byName[field.name] as fc.Arbitrary<unknown>;
      if (field.scalar === ScalarType.STRING) return fc.stringMatching(/^[A-Z][a-z]{1,15}( [A-Z][a-z]{1,15})?$/);
      if (field.scalar === ScalarType.BOOL) return fc.boolean();
      if (field.scalar === ScalarType.BYTES) return fc.uint8Array({ maxLength: 8 });
      return fc.integer({ min: 1, max: 12 });
    case 'enum':
      return fc.constantFrom(...field.enum.values.map((v) => v.number));
    case 'message':
      return plausibleMessage(field.message, pools);
    case 'list':
      if (field.listKind === 'message')
        return fc.array(plausibleMessage(field.message, pools), { minLength: 1, maxLength: 3 });
      if (field.listKind === 'enum')
        return fc.array(fc.constantFrom(...field.enum.values.map((v) => v.number)), { maxLength: 3 });
      return fc.array(byName[field.name] ?? fc.stringMatching(/^[a-z]{1,10}$/), { maxLength: 3 });
    case 'map':
      return fc.constant({});
  }
}

function plausibleMessage(desc: DescMessage, pools: Pools): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(Object.fromEntries(desc.fields.map((field) => [field.localName, plausibleArbitrary(field, pools)])));
}

/** Every field hostile or missing (unset, its default), independently. */
function chaoticMessage(desc: DescMessage, pools: Pools): fc.Arbitrary<MessageInit> {
  const entries = desc.fields.map((field) =>
    fc.option(fieldArbitrary(field, pools), { freq: 6 }).map((tagged) => ({ field, tagged })),
  );
  return fc.tuple(...entries).map((values) => {
    const init: Record<string, unknown> = {};
    const invalidFields: string[] = [];
    for (const { field, tagged } of values) {
      if (tagged === null) continue;
      init[field.localName] = tagged.value;
      if (tagged.invalid) invalidFields.push(field.name);
    }
    return { init, invalidFields };
  });
}

/**
 * A message: all fields plausible (so the handler and the database are
 * reached), plausible but for one field that is hostile or missing (the
 * usual way a single check is missed), or hostile throughout.
 */
export function messageArbitrary(desc: DescMessage, pools: Pools): fc.Arbitrary<MessageInit> {
  if (desc.fields.length === 0) return fc.constant({ init: {}, invalidFields: [] });
  const plausible = plausibleMessage(desc, pools);
  const oneOff = fc.integer({ min: 0, max: desc.fields.length - 1 }).chain((index) => {
    const field = desc.fields[index] as DescField;
    return fc.tuple(plausible, fc.option(fieldArbitrary(field, pools), { freq: 4 })).map(([init, tagged]) => {
      const changed: Record<string, unknown> = { ...init };
      if (tagged === null) delete changed[field.localName];
      else changed[field.localName] = tagged.value;
      // A missing field is refused where the contract requires it, which this generic layer cannot tell: not marked.
      return { init: changed, invalidFields: tagged?.invalid ? [field.name] : [] };
    });
  });
  return weighted<MessageInit>(
    [2, plausible.map((init) => ({ init, invalidFields: [] }))],
    [5, oneOff],
    [3, chaoticMessage(desc, pools)],
  );
}

/** A whole request: its init, its wire encoding and what makes it invalid. */
export function requestArbitrary(desc: DescMessage, pools: Pools): fc.Arbitrary<FuzzRequest> {
  return messageArbitrary(desc, pools).map(({ init, invalidFields }) => ({
    init,
    invalidFields,
    bytes: toBinary(desc, create(desc, init)),
  }));
}

// ---- malformed wire bytes ----

const varint = (value: bigint): number[] => {
  const out: number[] = [];
  let rest = BigInt.asUintN(64, value);
  while (rest > 0x7fn) {
    out.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  out.push(Number(rest));
  return out;
};
const tag = (field: number, wireType: number) => varint(BigInt((field << 3) | wireType));
/** Wire types 0 varint, 1 fixed64, 2 length-delimited, 3/4 groups (deprecated), 5 fixed32; 6 and 7 do not exist. */
const wireTypeOf = (field: DescField): number => {
  if (field.fieldKind === 'message' || field.fieldKind === 'list' || field.fieldKind === 'map') return 2;
  if (field.fieldKind === 'enum') return 0;
  switch (field.scalar) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return 2;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return 1;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return 5;
    default:
      return 0;
  }
};

/** Byte sequences that no correct encoder writes, for a field of this message (or field 1 when it has none). */
function malformedTail(desc: DescMessage): fc.Arbitrary<{ kind: string; bytes: number[] }> {
  const numbers = desc.fields.length > 0 ? desc.fields.map((f) => f.number) : [1];
  const fieldOf = (n: number) => desc.fields.find((f) => f.number === n);
  return fc.constantFrom(...numbers).chain((n) => {
    const field = fieldOf(n);
    const own = field ? wireTypeOf(field) : 0;
    const kinds: { kind: string; bytes: number[] }[] = [
      { kind: 'truncated varint', bytes: [...tag(n, 0), 0xff, 0xff] },
      { kind: 'overlong varint', bytes: [...tag(n, 0), ...Array(10).fill(0xff), 0x01] },
      { kind: 'wrong wire type', bytes: [...tag(n, own === 2 ? 0 : 2), ...(own === 2 ? [0x05] : [0x02, 0x41, 0x42])] },
      { kind: 'length past the end', bytes: [...tag(n, 2), ...varint(BigInt(2 ** 31 - 1)), 0x41] },
      { kind: 'invalid utf-8', bytes: [...tag(n, 2), 0x07, 0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80] },
      { kind: 'unterminated group', bytes: [...tag(n, 3), 0x08, 0x01] },
      { kind: 'stray end group', bytes: [...tag(n, 4)] },
      { kind: 'wire type 6', bytes: [...tag(n, 6), 0x00] },
      { kind: 'wire type 7', bytes: [...tag(n, 7), 0x00] },
      { kind: 'field number 0', bytes: [0x00, 0x01] },
      { kind: 'field number 2^29-1', bytes: [...varint(((2n ** 29n - 1n) << 3n) | 0n), 0x01] },
      { kind: 'fixed64 cut short', bytes: [...tag(n, 1), 0x01, 0x02] },
    ];
    return fc.constantFrom(...kinds);
  });
}

/** A valid request's bytes broken in one of many ways. */
export function malformedBytesArbitrary(
  desc: DescMessage,
  pools: Pools,
): fc.Arbitrary<{ kind: string; bytes: Uint8Array }> {
  const valid = requestArbitrary(desc, pools).filter((r) => r.bytes.length < 64 * 1024);
  return weighted<{ kind: string; bytes: Uint8Array }>(
    [
      4,
      fc.tuple(valid, malformedTail(desc), fc.boolean()).map(([request, tail, before]) => ({
        kind: tail.kind,
        bytes: Uint8Array.from(before ? [...tail.bytes, ...request.bytes] : [...request.bytes, ...tail.bytes]),
      })),
    ],
    [
      2,
      // Not a filter: a request of a message without fields always encodes as no bytes at all.
      valid.chain((request) =>
        fc.integer({ min: 0, max: Math.max(0, request.bytes.length - 1) }).map((cut) => ({
          kind: 'truncated message',
          bytes: request.bytes.slice(0, cut),
        })),
      ),
    ],
    [
      2,
      fc
        .tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
        .map(([request, flips]) => {
          const bytes = Uint8Array.from(request.bytes.length > 0 ? request.bytes : [0]);
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          return { kind: 'flipped bytes', bytes };
        }),
    ],
    [2, fc.uint8Array({ maxLength: 256 }).map((bytes) => ({ kind: 'random bytes', bytes }))],
    [
      1,
      fc.constantFrom(MIB - 100, MIB + 100).map((size) => ({
        kind: `unknown field of ${size} bytes`,
        bytes: Uint8Array.from([...tag(15, 2), ...varint(BigInt(size)), ...new Uint8Array(size)]),
      })),
    ],
  );
}
