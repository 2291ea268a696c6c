import { describe, expect, it } from '@jest/globals';
import descriptor, { type IFileDescriptorProto } from 'protobufjs/ext/descriptor/index.js';
import { responseWireDifferences } from './descriptors.js';

const OPTIONAL = 1;
const REPEATED = 3;
const [INT32, STRING, MESSAGE, ENUM] = [5, 9, 11, 14];
const field = (name: string, number: number, type: number, extra: object = {}) => ({
  name,
  number,
  type,
  label: OPTIONAL,
  ...extra,
});

/** A file decoded the way protoFiles() decodes buf's output, so defaults sit on the prototype as they do there. */
function file(definition: object): IFileDescriptorProto {
  const bytes = descriptor.FileDescriptorProto.encode(descriptor.FileDescriptorProto.fromObject(definition)).finish();
  return descriptor.FileDescriptorProto.decode(bytes) as IFileDescriptorProto;
}

const shapes = file({
  name: 'shapes.proto',
  package: 't',
  messageType: [
    {
      name: 'Page',
      field: [field('items', 1, MESSAGE, { label: REPEATED, typeName: '.t.Item' }), field('next', 2, STRING)],
    },
    {
      name: 'Item',
      field: [field('id', 1, STRING), field('kind', 2, ENUM, { typeName: '.t.Kind' }), field('note', 3, STRING)],
    },
    // Same wire as Page and Item under other names: the nested type is compared, not its name.
    {
      name: 'Copy',
      field: [field('entries', 1, MESSAGE, { label: REPEATED, typeName: '.t.Copy.Entry' }), field('cursor', 2, STRING)],
      nestedType: [
        {
          name: 'Entry',
          field: [field('key', 1, STRING), field('sort', 2, ENUM, { typeName: '.t.Kind' }), field('remark', 3, STRING)],
        },
      ],
    },
    {
      name: 'OtherItems',
      field: [field('items', 1, MESSAGE, { label: REPEATED, typeName: '.t.Loose' }), field('next', 2, STRING)],
    },
    {
      name: 'Loose',
      field: [
        field('id', 1, INT32),
        field('kind', 2, ENUM, { typeName: '.t.Sort' }),
        field('note', 3, STRING, { oneofIndex: 0 }),
      ],
      oneofDecl: [{ name: 'extra' }],
    },
    { name: 'Single', field: [field('items', 1, MESSAGE, { typeName: '.t.Item' })] },
  ],
  enumType: [
    { name: 'Kind', value: [{ name: 'KIND_UNSPECIFIED', number: 0 }] },
    { name: 'Sort', value: [{ name: 'SORT_UNSPECIFIED', number: 0 }] },
  ],
  service: [
    {
      name: 'S',
      method: ['Page', 'Copy', 'OtherItems', 'Single'].map((name) => ({
        name,
        inputType: '.t.Page',
        outputType: `.t.${name}`,
      })),
    },
  ],
});

describe('responseWireDifferences', () => {
  it('finds none between ListOrders and ListMyOrders, whose answers UserService passes on as bytes', () => {
    expect(
      responseWireDifferences(
        '/ordermesh.order.v1.OrderService/ListOrders',
        '/ordermesh.user.v1.UserService/ListMyOrders',
      ),
    ).toEqual([]);
  });

  it('names each field that differs in proto/ itself', () => {
    expect(
      responseWireDifferences(
        '/ordermesh.order.v1.OrderService/GetOrder',
        '/ordermesh.user.v1.UserService/ListMyOrders',
      ),
    ).toEqual([
      'ordermesh.order.v1.GetOrderResponse field 1 (order) is optional message, not repeated message',
      'ordermesh.order.v1.GetOrderResponse field 2 (next_page_token) is only in ordermesh.user.v1.ListMyOrdersResponse',
    ]);
  });

  it('ignores names and compares nested messages of other names field by field', () => {
    expect(responseWireDifferences('/t.S/Page', '/t.S/Copy', [shapes])).toEqual([]);
  });

  it('names a nested field of another type, an enum of another name and a field in a oneof', () => {
    expect(responseWireDifferences('/t.S/Page', '/t.S/OtherItems', [shapes])).toEqual([
      't.Item field 1 (id) is optional string, not optional int32',
      't.Item field 2 (kind) is a t.Kind, not a t.Sort',
      't.Item field 3 (note) is optional string, not optional string in a oneof',
    ]);
  });

  it('tells repeated from single', () => {
    expect(responseWireDifferences('/t.S/Page', '/t.S/Single', [shapes])).toEqual([
      't.Page field 1 (items) is repeated message, not optional message',
      't.Page field 2 (next) is only in t.Page',
    ]);
  });

  it('throws for a method the set does not have', () => {
    expect(() => responseWireDifferences('/t.S/Nothing', '/t.S/Page', [shapes])).toThrow(
      '/t.S/Nothing is not a method of the descriptor set',
    );
  });
});
