import { describe, expect, it } from '@jest/globals';
import { createLogger } from '@ordermesh/runtime';
import type { NotificationChannel, OutgoingMessage } from './channels.js';
import type { NotifiableEvent } from './incoming-events.js';
import { Notifications } from './notifications.js';
import type { NewNotification, NewRecipient, NotificationStore } from './store.js';

const userId = '6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
const silent = createLogger('notification', 'silent');

/** The store's contract in memory, counting recipient reads: the database side has its own integration tests. */
function memoryStore() {
  const recipients = new Map<string, NewRecipient>();
  const delivered = new Set<string>();
  const store = {
    reads: 0,
    saveRecipient: async (recipient: NewRecipient) => void recipients.set(recipient.userId, recipient),
    findRecipient: async (id: string) => {
      store.reads += 1;
      const found = recipients.get(id);
      return found ? { ...found, updatedAt: new Date() } : null;
    },
    deliverOnce: async (notification: NewNotification, send: (message: OutgoingMessage) => Promise<void>) => {
      if (delivered.has(notification.eventId)) return false;
      await send({
        id: notification.eventId,
        to: notification.recipient,
        subject: notification.subject,
        text: notification.body,
      });
      delivered.add(notification.eventId);
      return true;
    },
    listNotifications: async () => [],
  } satisfies NotificationStore & { reads: number };
  return { store, recipients };
}

function recordingChannel() {
  const sent: OutgoingMessage[] = [];
  const channel: NotificationChannel = { name: 'test', send: async (message) => void sent.push(message), close() {} };
  return { channel, sent };
}

const placed = (n: number): NotifiableEvent => ({
  eventId: `00000000-0000-4000-8000-00000000000${n}`,
  kind: 'order.placed',
  payload: {
    orderId: `10000000-0000-4000-8000-00000000000${n}`,
    userId,
    total: { amountMinor: 1200, currency: 'EUR' },
    itemCount: 1,
    occurredAt: undefined,
  },
});

describe('Notifications', () => {
  it('reads a recipient once for the events of the next minute, then again', async () => {
    const { store, recipients } = memoryStore();
    recipients.set(userId, { userId, email: 'ada@example.com', displayName: 'Ada' });
    const { channel, sent } = recordingChannel();
    let now = 0;
    const notifications = new Notifications(store, channel, silent, () => now);

    await notifications.notify(placed(1));
    await notifications.notify(placed(2));
    expect(store.reads).toBe(1);
    now = 60_000;
    await notifications.notify(placed(3));
    expect(store.reads).toBe(2);
    expect(sent.map((message) => message.to)).toEqual(['ada@example.com', 'ada@example.com', 'ada@example.com']);
  });

  it('does not remember that a recipient is unknown: the event is retried and finds it once registered', async () => {
    const { store } = memoryStore();
    const { channel, sent } = recordingChannel();
    const notifications = new Notifications(store, channel, silent);

    await expect(notifications.notify(placed(1))).rejects.toThrow('is not known yet');
    await notifications.notify({
      eventId: '00000000-0000-4000-8000-0000000000aa',
      kind: 'user.registered',
      payload: { userId, email: 'ada@example.com', displayName: 'Ada', occurredAt: undefined },
    });
    await notifications.notify(placed(1));
    expect(sent.map((message) => message.subject)).toEqual([
      'Welcome to ordermesh',
      'Order 10000000-0000-4000-8000-000000000001 received',
    ]);
    expect(store.reads).toBe(1);
  });

  it('remembers at most 10,000 recipients, forgetting the least recently used first', async () => {
    const { store, recipients } = memoryStore();
    const { channel } = recordingChannel();
    const notifications = new Notifications(store, channel, silent, () => 0);
    const user = (n: number) => `6f1e2d3c-4b5a-4968-8776-${String(n).padStart(12, '0')}`;
    const placedBy = (n: number, event: number): NotifiableEvent => ({
      eventId: `00000000-0000-4000-8000-${String(event).padStart(12, '0')}`,
      kind: 'order.placed',
      payload: {
        orderId: `10000000-0000-4000-8000-${String(event).padStart(12, '0')}`,
        userId: user(n),
        total: { amountMinor: 1200, currency: 'EUR' },
        itemCount: 1,
        occurredAt: undefined,
      },
    });
    for (let n = 0; n <= 10_000; n += 1) {
      recipients.set(user(n), { userId: user(n), email: `u${n}@example.com`, displayName: `U${n}` });
    }

    // The clock stands still, so only the bound can make it forget the first recipient.
    for (let n = 0; n <= 10_000; n += 1) await notifications.notify(placedBy(n, n));
    expect(store.reads).toBe(10_001);
    await notifications.notify(placedBy(10_000, 10_001));
    expect(store.reads).toBe(10_001);
    await notifications.notify(placedBy(0, 10_002));
    expect(store.reads).toBe(10_002);
  });
});
