import type { PageCursor } from '@ordermesh/grpc';
import type { Logger } from '@ordermesh/runtime';
import { LRUCache } from 'lru-cache';
import type { NotificationChannel } from './channels.js';
import type { NotifiableEvent } from './incoming-events.js';
import { composeMessage } from './messages.js';
import type { NewRecipient, Notification, NotificationStore } from './store.js';

/** Thrown while an event's user has no recipient yet; the consumer retries it later. */
export class UnknownRecipientError extends Error {
  override name = 'UnknownRecipientError';
}

/**
 * A user's contact details are written once, from their user.registered, and
 * read for every later event (an order makes two): remembered for a minute,
 * which spares two database round trips per order and would bound how long a
 * change, were one ever published, took to reach every replica.
 */
const RECIPIENT_MEMORY_MS = 60_000;
const RECIPIENTS_REMEMBERED = 10_000;

/**
 * NotificationService's rules: keep each user's contact details from
 * user.registered, and tell the user about each event once, however often it
 * is delivered.
 */
export class Notifications {
  private readonly recipients: LRUCache<string, NewRecipient>;

  constructor(
    private readonly store: NotificationStore,
    private readonly channel: NotificationChannel,
    private readonly log: Logger,
    now: () => number = Date.now,
  ) {
    this.recipients = new LRUCache({
      max: RECIPIENTS_REMEMBERED,
      // lru-cache still serves an entry whose age equals its ttl: one ms less forgets it after exactly a minute.
      ttl: RECIPIENT_MEMORY_MS - 1,
      // Read the clock on every get, not once per millisecond, so no entry is served past its ttl.
      ttlResolution: 0,
      // lru-cache takes an entry stored at time 0 to never expire: shifted, so a clock starting at 0 works too.
      perf: { now: () => now() + 1 },
    });
  }

  async notify(event: NotifiableEvent): Promise<void> {
    const recipient = await this.recipientOf(event);
    const message = composeMessage(event, recipient);
    const sent = await this.store.deliverOnce(
      {
        eventId: event.eventId,
        userId: recipient.userId,
        kind: event.kind,
        channel: this.channel.name,
        recipient: recipient.email,
        subject: message.subject,
        body: message.text,
      },
      (outgoing) => this.channel.send(outgoing),
    );
    this.log.info(
      { eventId: event.eventId, kind: event.kind, channel: this.channel.name },
      sent ? 'notification sent' : 'notification was already sent',
    );
  }

  list(userId: string, limit: number, after?: PageCursor): Promise<Notification[]> {
    return this.store.listNotifications(userId, limit, after);
  }

  private async recipientOf(event: NotifiableEvent): Promise<NewRecipient> {
    if (event.kind === 'user.registered') {
      const { userId, email, displayName } = event.payload;
      const recipient = { userId, email, displayName };
      await this.store.saveRecipient(recipient);
      this.remember(recipient);
      return recipient;
    }
    const known = this.recipients.get(event.payload.userId);
    if (known) return known;
    const recipient = await this.store.findRecipient(event.payload.userId);
    // Events can overtake the user.registered of their user: wait for it.
    if (!recipient) throw new UnknownRecipientError(`recipient ${event.payload.userId} is not known yet`);
    const { userId, email, displayName } = recipient;
    return this.remember({ userId, email, displayName });
  }

  private remember(recipient: NewRecipient): NewRecipient {
    this.recipients.set(recipient.userId, recipient);
    return recipient;
  }
}
