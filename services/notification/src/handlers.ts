import { bindService, decodePageToken, fields, parseRequest, toPage } from '@ordermesh/grpc';
import type { TokenVerifier } from '@ordermesh/identity';
import {
  type Notification as NotificationMessage,
  NotificationServiceService,
  NotificationStatus,
} from '@ordermesh/proto/notification';
import type { Logger } from '@ordermesh/runtime';
import { z } from 'zod';
import type { Notifications } from './notifications.js';
import type { Notification } from './store.js';

const listMyNotifications = z.object({ pageSize: fields.pageSize, pageToken: fields.pageToken });

/** gRPC edge of NotificationService: authenticate, validate, call the domain, shape the answer. */
export function notificationService(notifications: Notifications, verifier: TokenVerifier, log: Logger) {
  return bindService(
    NotificationServiceService,
    {
      async listMyNotifications(request, context) {
        // Authenticate first: an anonymous caller learns nothing, not even what is wrong with its request.
        const userId = await verifier.authenticate(context.metadata);
        const { pageSize, pageToken } = parseRequest(listMyNotifications, request);
        const rows = await notifications.list(userId, pageSize + 1, decodePageToken(pageToken));
        const page = toPage(rows, pageSize);
        return { notifications: page.rows.map(toNotificationMessage), nextPageToken: page.nextPageToken };
      },
    },
    log,
  );
}

const statusOf: Record<Notification['status'], NotificationStatus> = {
  PENDING: NotificationStatus.NOTIFICATION_STATUS_PENDING,
  SENT: NotificationStatus.NOTIFICATION_STATUS_SENT,
};

export function toNotificationMessage(notification: Notification): NotificationMessage {
  return {
    id: notification.id,
    eventId: notification.eventId,
    kind: notification.kind,
    channel: notification.channel,
    recipient: notification.recipient,
    subject: notification.subject,
    body: notification.body,
    status: statusOf[notification.status],
    createdAt: notification.createdAt,
    sentAt: notification.sentAt ?? undefined,
  };
}
