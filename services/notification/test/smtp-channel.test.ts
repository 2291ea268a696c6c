import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type MailSink, type ReceivedMail, startMailSink } from '@ordermesh/dev/mail-sink';
import { eventually } from '@ordermesh/testing';
import { SmtpChannel } from '../src/channels.js';

let sink: MailSink;
const received: ReceivedMail[] = [];
const url = () => `smtp://127.0.0.1:${sink.port}`;

beforeAll(async () => {
  sink = await startMailSink(0, (mail) => received.push(mail));
});
afterAll(() => sink.close());

/** Sends one message through a fresh channel and returns it as the SMTP server parsed it. */
async function sendThrough(from: string, to: string, id: string) {
  const channel = new SmtpChannel(url(), from, 2);
  try {
    await channel.send({ id, to, subject: `Subject of ${id}`, text: `Hello José,\n\nthis is ${id}.` });
  } finally {
    channel.close();
  }
  await eventually(`mail ${id}`, () => received.some((mail) => mail.messageId.startsWith(`<${id}@`)));
  return received.find((mail) => mail.messageId.startsWith(`<${id}@`));
}

describe('SmtpChannel against a real SMTP server', () => {
  it.each([
    ['a simple recipient, composed by the channel', 'ordermesh <no-reply@ordermesh.local>', 'ada@example.test'],
    [
      'a recipient with a display name, composed by nodemailer',
      'ordermesh <no-reply@ordermesh.local>',
      'Ada <ada@example.test>',
    ],
    ['a sender nodemailer has to compose', 'ordermesh <nö-reply@ordermesh.local>', 'ada@example.test'],
  ])('delivers a message to %s', async (_case, from, to) => {
    const id = crypto.randomUUID();
    const mail = await sendThrough(from, to, id);
    expect(mail).toEqual({
      to: ['ada@example.test'],
      messageId: `<${id}@ordermesh.local>`,
      subject: `Subject of ${id}`,
      // Both ways end the data the same: the line break SMTP's end-of-data line needs stays after the text.
      text: `Hello José,\n\nthis is ${id}.\n`,
    });
  });
});
