import type { Readable } from 'node:stream';
import { simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

export interface ReceivedMail {
  to: string[];
  messageId: string;
  subject: string;
  text: string;
}

export interface MailSink {
  port: number;
  close(): Promise<void>;
}

/**
 * A local SMTP server that accepts every message and hands it over parsed:
 * the real transport NotificationService speaks, with no mail leaving the machine.
 */
export function startMailSink(port: number, onMail: (mail: ReceivedMail) => void): Promise<MailSink> {
  return listenForMail(port, async (stream, session) => {
    const parsed = await simpleParser(stream);
    onMail({
      to: session.envelope.rcptTo.map((r) => r.address),
      messageId: parsed.messageId ?? '',
      subject: parsed.subject ?? '',
      text: parsed.text ?? '',
    });
  });
}

/**
 * The same SMTP server, but it only counts what it accepts: for the benchmark,
 * where the relay stands for another machine and parsing each message here
 * would take CPU from the services being measured (about 1 ms per message).
 */
export function startCountingMailSink(port: number, onMail: () => void): Promise<MailSink> {
  return listenForMail(port, async (stream) => {
    for await (const _chunk of stream);
    onMail();
  });
}

async function listenForMail(
  port: number,
  receive: (stream: Readable, session: SMTPServerSession) => Promise<void>,
): Promise<MailSink> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      receive(stream, session).then(() => callback(), callback);
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
