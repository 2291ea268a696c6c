import { describe, expect, it } from '@jest/globals';
import { simpleParser } from 'mailparser';
import { composePlainTextMail, parseSender, type Sender } from './plain-text-mail.js';

const sender = parseSender('ordermesh <no-reply@ordermesh.local>') as Sender;
const mail = {
  to: 'ada@example.com',
  subject: 'Order 0198f0c2-1111-7000-8000-000000000000 received',
  text: 'Hi Ada,\n\nThank you for your order: 2 items for $25.99.\n\nThe ordermesh team',
  messageId: '<0198f0c2-2222-7000-8000-000000000000@ordermesh.local>',
  date: new Date('2026-12-08T03:30:00Z'),
};

/** Reads a composed message back with a real MIME parser, as a receiving mail system would. */
async function parsed(message = mail) {
  const raw = composePlainTextMail(sender, message);
  if (!raw) throw new Error('not composed');
  return { raw, mail: await simpleParser(raw) };
}

describe('composePlainTextMail', () => {
  it('writes the headers and the text a mail reader shows', async () => {
    const { mail: read } = await parsed();
    expect(read.from?.value).toEqual([{ name: 'ordermesh', address: 'no-reply@ordermesh.local' }]);
    expect(read.to).toMatchObject({ value: [{ address: 'ada@example.com' }] });
    expect(read.subject).toBe(mail.subject);
    expect(read.messageId).toBe(mail.messageId);
    expect(read.date?.toISOString()).toBe('2026-12-08T03:30:00.000Z');
    expect(read.text).toBe(mail.text);
  });

  it('keeps text that needs encoding intact: non-ASCII, long lines, a line that is a dot', async () => {
    const text = `Hola José,\n.\n${'a very long line '.repeat(20)}\n\nÜber 10 €`;
    const subject = `Pedido de José: ${'palabra '.repeat(15)}fin`;
    const { raw, mail: read } = await parsed({ ...mail, text, subject });
    expect(read.text).toBe(text);
    expect(read.subject).toBe(subject);
    // Only 7-bit lines of at most 76 characters go over the wire, each ended by CRLF.
    const lines = raw.toString('latin1').split('\r\n');
    expect(lines.every((line) => line.length <= 76 && !/[\r\n\u0080-\u00ff]/.test(line))).toBe(true);
  });

  it('puts a subject with a line break on one line, so it cannot add a header', async () => {
    const { raw, mail: read } = await parsed({ ...mail, subject: 'Hello\r\nBcc: eve@example.com' });
    expect(read.subject).toBe('Hello Bcc: eve@example.com');
    expect(read.bcc).toBeUndefined();
    expect(raw.toString()).not.toContain('\r\nBcc:');
  });

  it('leaves a recipient that is not a simple address to the full composer', () => {
    for (const to of ['Ada <ada@example.com>', 'ada@example.com, eve@example.com', 'jösé@example.com', 'ada'])
      expect(composePlainTextMail(sender, { ...mail, to })).toBeUndefined();
  });
});

describe('parseSender', () => {
  it('quotes a plain name and encodes one that is not ASCII', () => {
    expect(parseSender('Shop, Inc. <shop@example.com>')).toEqual({
      address: 'shop@example.com',
      header: '"Shop, Inc." <shop@example.com>',
    });
    expect(parseSender('Tienda José <t@example.com>')?.header).toBe('Tienda =?UTF-8?Q?Jos=C3=A9?= <t@example.com>');
    expect(parseSender('shop@example.com')).toEqual({ address: 'shop@example.com', header: 'shop@example.com' });
  });

  it('declines more than one address or one that is not simple', () => {
    expect(parseSender('a@example.com, b@example.com')).toBeUndefined();
    expect(parseSender('Shop <tienda@exämple.com>')).toBeUndefined();
    expect(parseSender('nobody')).toBeUndefined();
  });
});
