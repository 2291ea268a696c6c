import addressparser from 'nodemailer/lib/addressparser';
import { encodeWords, foldLines, isPlainText } from 'nodemailer/lib/mime-funcs';
import { encode as encodeQuotedPrintable, wrap as wrapQuotedPrintable } from 'nodemailer/lib/qp';

/** An address a header and the SMTP envelope can carry as it is: ASCII, one @, nothing to quote or encode. */
const SIMPLE_ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+$/;
/** Where nodemailer folds headers and wraps the body too; RFC 5322 asks for lines of at most 78. */
const LINE_LENGTH = 76;

export interface Sender {
  /** The bare address, for the envelope's MAIL FROM. */
  address: string;
  /** The From header's value, encoded once. */
  header: string;
}

export interface PlainTextMail {
  to: string;
  subject: string;
  text: string;
  /** With its angle brackets. */
  messageId: string;
  date: Date;
}

/** Reads a configured sender ("Name <address>"); undefined when its address is not a simple one. */
export function parseSender(from: string): Sender | undefined {
  const [first, ...others] = addressparser(from, { flatten: true });
  if (!first || others.length > 0 || !SIMPLE_ADDRESS.test(first.address)) return undefined;
  const name = first.name.replace(/[\r\n]+/g, ' ').trim();
  if (!name) return { address: first.address, header: first.address };
  const shownName = isPlainText(name) ? `"${name.replace(/["\\]/g, '\\$&')}"` : encodeWords(name, 'Q', 52);
  return { address: first.address, header: `${shownName} <${first.address}>` };
}

/**
 * A one-part text/plain message as the bytes SMTP sends, built with
 * nodemailer's own encoders: its full composer (a MIME tree, address parsing
 * and a stream per part) cost more CPU than the SMTP exchange itself
 * (`npm run bench:mail`). Undefined when the recipient's address needs more
 * than a simple address: such mail goes through nodemailer's composer.
 */
export function composePlainTextMail(sender: Sender, mail: PlainTextMail): Buffer | undefined {
  if (!SIMPLE_ADDRESS.test(mail.to)) return undefined;
  const subject = encodeWords(mail.subject.replace(/\r?\n|\r/g, ' '), 'Q', 52);
  const body = wrapQuotedPrintable(encodeQuotedPrintable(mail.text.replace(/\r?\n|\r/g, '\r\n')), LINE_LENGTH);
  const header = [
    `From: ${sender.header}`,
    `To: ${mail.to}`,
    foldLines(`Subject: ${subject}`, LINE_LENGTH),
    `Message-ID: ${mail.messageId}`,
    `Date: ${mail.date.toUTCString().replace(/GMT/, '+0000')}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
  ];
  // No line break after the body: SMTP's end-of-data line adds the one it needs.
  return Buffer.from(`${header.join('\r\n')}\r\n\r\n${body}`);
}
