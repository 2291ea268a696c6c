import type { Attributes } from '@opentelemetry/api';
import type { Options } from 'amqplib';

/**
 * The amqplib instrumentation still writes the pre-1.26 messaging attributes
 * (messaging.destination_kind, messaging.message_id); these add the current
 * semantic conventions next to them, so queries can rely on either.
 */
export function publishSpanAttributes(exchange: string, routingKey: string, options?: Options.Publish): Attributes {
  return {
    'messaging.system': 'rabbitmq',
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'publish',
    'messaging.destination.name': exchange || 'amq.default',
    'messaging.rabbitmq.destination.routing_key': routingKey,
    ...(options?.messageId ? { 'messaging.message.id': String(options.messageId) } : {}),
  };
}

/** The parts of a delivered message the attributes use (the instrumentation has its own copy of amqplib's types). */
interface DeliveredMessage {
  fields: { exchange: string; routingKey: string; deliveryTag: number };
  properties: { messageId?: unknown };
}

export function consumeSpanAttributes(message: DeliveredMessage): Attributes {
  return {
    'messaging.system': 'rabbitmq',
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.destination.name': message.fields.exchange || 'amq.default',
    'messaging.rabbitmq.destination.routing_key': message.fields.routingKey,
    'messaging.rabbitmq.message.delivery_tag': message.fields.deliveryTag,
    ...(message.properties.messageId ? { 'messaging.message.id': String(message.properties.messageId) } : {}),
  };
}
