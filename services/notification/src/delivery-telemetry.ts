import { errorType, inSpan, SpanKind, serviceMeter } from '@ordermesh/runtime';
import type { NotificationChannel, OutgoingMessage } from './channels.js';

const deliveries = serviceMeter('@ordermesh/notification').createCounter('ordermesh.notification.deliveries', {
  description: 'Notifications handed to a channel, by channel and outcome (error.type set when it failed)',
  unit: '{notification}',
});

/**
 * The channel, with a span per delivery (the last hop of an order's trace,
 * a child of the consumer's span) and a count of deliveries by outcome.
 */
export function observedChannel(channel: NotificationChannel): NotificationChannel {
  const attributes = { 'ordermesh.notification.channel': channel.name };
  const send = async (message: OutgoingMessage) => {
    try {
      await channel.send(message);
      deliveries.add(1, attributes);
    } catch (error) {
      deliveries.add(1, { ...attributes, 'error.type': errorType(error) });
      throw error;
    }
  };
  return {
    name: channel.name,
    send: (message) => inSpan(`deliver ${channel.name}`, { kind: SpanKind.CLIENT, attributes }, () => send(message)),
    close: () => channel.close(),
  };
}
