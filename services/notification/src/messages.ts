import type { Money } from '@ordermesh/proto/common';
import type { NotifiableEvent } from './incoming-events.js';

export interface MessageText {
  subject: string;
  text: string;
}

const LOCALE = 'en-US';

/** One formatter per currency: building an Intl.NumberFormat is costly, using one is cheap. */
const formats = new Map<string, Intl.NumberFormat>();
function currencyFormat(currency: string): Intl.NumberFormat {
  let format = formats.get(currency);
  if (!format) {
    format = new Intl.NumberFormat(LOCALE, { style: 'currency', currency });
    formats.set(currency, format);
  }
  return format;
}

/** Formats integer minor units exactly (no floating point), with the currency's own number of decimals. */
export function formatMoney(money: Money): string {
  const format = currencyFormat(money.currency);
  const decimals = format.resolvedOptions().maximumFractionDigits ?? 2;
  const digits = String(Math.abs(money.amountMinor)).padStart(decimals + 1, '0');
  const units = decimals === 0 ? digits : `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
  return format.format(`${money.amountMinor < 0 ? '-' : ''}${units}` as Intl.StringNumericLiteral);
}

/** Provider codes as a person would say them; an unknown code is shown as is. */
const declineReasons: Record<string, string> = {
  card_declined: 'the card was declined',
  insufficient_funds: 'there were not enough funds',
};

const items = (count: number) => (count === 1 ? '1 item' : `${count} items`);

/** readEvent already rejected events without their amount; the fallback only satisfies the optional proto field. */
const amount = (money: Money | undefined) => (money ? formatMoney(money) : 'an unknown amount');

const letter = (name: string, ...paragraphs: string[]) =>
  [`Hi ${name.trim() || 'there'},`, ...paragraphs, 'The ordermesh team'].join('\n\n');

/** What a user is told about an event. Pure, so every wording is unit-tested. */
export function composeMessage(event: NotifiableEvent, recipient: { displayName: string }): MessageText {
  const name = recipient.displayName;
  switch (event.kind) {
    case 'user.registered':
      return {
        subject: 'Welcome to ordermesh',
        text: letter(name, `Your ordermesh account for ${event.payload.email} is ready. Happy shopping!`),
      };
    case 'order.placed': {
      const { orderId, itemCount, total } = event.payload;
      return {
        subject: `Order ${orderId} received`,
        text: letter(
          name,
          `Thank you for your order ${orderId}: ${items(itemCount)} for ${amount(total)}.`,
          'We will write again once the payment has gone through.',
        ),
      };
    }
    case 'order.cancelled': {
      const { orderId, refunded } = event.payload;
      return {
        subject: `Order ${orderId} cancelled`,
        text: letter(
          name,
          `Your order ${orderId} has been cancelled.`,
          refunded ? 'The money you paid for it is on its way back to you.' : 'You have not been charged for it.',
        ),
      };
    }
    case 'payment.succeeded': {
      const { orderId, amount: paid } = event.payload;
      return {
        subject: `Payment received for order ${orderId}`,
        text: letter(name, `We have received your payment of ${amount(paid)} for order ${orderId}.`),
      };
    }
    case 'payment.failed': {
      const { orderId, amount: due, reason } = event.payload;
      const why = declineReasons[reason] ?? reason;
      return {
        subject: `Payment failed for order ${orderId}`,
        text: letter(
          name,
          `Your payment of ${amount(due)} for order ${orderId} did not go through${why ? `: ${why}` : ''}.`,
        ),
      };
    }
    case 'payment.refunded': {
      const { orderId, amount: returned } = event.payload;
      return {
        subject: `Refund for order ${orderId}`,
        text: letter(name, `We have refunded ${amount(returned)} for order ${orderId}.`),
      };
    }
  }
}
