/**
 * npm run bench:mail [-- --mails N --rounds R]: what one notification mail
 * costs NotificationService's SMTP channel, apart from the rest of the
 * service. Sends N order mails through the channel as shipped
 * (services/notification/dist: nodemailer's pool, our Message-ID) to the
 * counting sink in its own process, 32 in flight as with the default
 * prefetch, and prints this process's CPU per mail, the median of R rounds
 * (for the channel, that includes writing each order's text, as the service
 * does before it sends). For comparison, the same N through nodemailer with
 * a prebuilt raw message: the SMTP exchange alone, the floor for any channel
 * built on nodemailer.
 * The profile of a full run cannot tell these apart: it counts a write that
 * waits for a core as time spent writing.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createTransport } from 'nodemailer';
import { SmtpChannel } from '../../services/notification/dist/channels.js';
import { composeMessage } from '../../services/notification/dist/messages.js';
import * as bench from './settings.ts';
import { startChild } from './systems.ts';

/** NOTIFICATION_PREFETCH's default: the channel's pool size and the most mails the service has in hand. */
const IN_FLIGHT = 32;
const FROM = 'ordermesh <no-reply@ordermesh.local>';

const { values } = parseArgs({
  options: { mails: { type: 'string', default: '4000' }, rounds: { type: 'string', default: '3' } },
});
const mails = bench.countOption('mails', values.mails);
const rounds = bench.countOption('rounds', values.rounds);

interface Round {
  mailsPerSecond: number;
  cpuMs: number;
  userMs: number;
  systemMs: number;
}

/** Calls `send(i)` for i in [0, count), IN_FLIGHT at a time, and measures this process's CPU meanwhile. */
async function measure(count: number, send: (i: number) => Promise<unknown>): Promise<Round> {
  let next = 0;
  const worker = async () => {
    while (next < count) await send(next++);
  };
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = (performance.now() - startedAt) / 1_000;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    mailsPerSecond: count / seconds,
    cpuMs: (cpu.user + cpu.system) / 1_000 / count,
    userMs: cpu.user / 1_000 / count,
    systemMs: cpu.system / 1_000 / count,
  };
}

const median = (rounds: Round[]): Round => {
  const sorted = [...rounds].sort((a, b) => a.cpuMs - b.cpuMs);
  return sorted[Math.floor(sorted.length / 2)] as Round;
};

const orderMail = (i: number) => {
  const orderId = randomUUID();
  const event = {
    eventId: randomUUID(),
    kind: 'order.placed' as const,
    payload: {
      orderId,
      userId: randomUUID(),
      itemCount: 2,
      total: { amountMinor: 4590, currency: 'EUR' },
      occurredAt: new Date(),
    },
  };
  return { id: event.eventId, to: `buyer${i}@example.com`, ...composeMessage(event, { displayName: 'Ana' }) };
};

const sink = await startChild('mail-sink-process.ts', { SMTP_PORT: String(bench.SMTP_PORT) }, true);
const received = () =>
  new Promise<number>((resolve) => {
    sink.once('message', (count) => resolve(Number(count)));
    sink.send('count');
  });

const url = `smtp://127.0.0.1:${bench.SMTP_PORT}`;
const channel = new SmtpChannel(url, FROM, IN_FLIGHT);
const rawTransport = createTransport({ url, pool: true, maxConnections: IN_FLIGHT }, { from: FROM });
const prebuilt = orderMail(0);
const messageId = `<${prebuilt.id}@ordermesh.local>`;
const rawMessage = Buffer.from(
  `From: ${FROM}\r\nTo: ${prebuilt.to}\r\nSubject: ${prebuilt.subject}\r\nMessage-ID: ${messageId}\r\n` +
    `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${prebuilt.text.replaceAll('\n', '\r\n')}\r\n`,
);
const envelope = { from: 'no-reply@ordermesh.local', to: prebuilt.to };
const systems = {
  'SmtpChannel (as shipped)': (i: number) => channel.send(orderMail(i)),
  'nodemailer, prebuilt raw message': () => rawTransport.sendMail({ raw: rawMessage, envelope, messageId }),
};

try {
  const results: Array<[string, Round]> = [];
  for (const [name, send] of Object.entries(systems)) {
    await measure(Math.min(mails, 500), send); // warm-up: connections open, code optimized
    const measured: Round[] = [];
    for (let round = 0; round < rounds; round += 1) measured.push(await measure(mails, send));
    results.push([name, median(measured)]);
  }
  const expected = results.length * (rounds * mails + Math.min(mails, 500));
  const arrived = await received();
  console.log(`\nmail channel bench: ${mails} mails x ${rounds} rounds each, ${IN_FLIGHT} in flight; medians`);
  for (const [name, r] of results)
    console.log(
      `  ${name.padEnd(34)} ${r.mailsPerSecond.toFixed(0).padStart(6)} mails/s, cpu per mail ${r.cpuMs.toFixed(3)} ms ` +
        `(user ${r.userMs.toFixed(3)}, system ${r.systemMs.toFixed(3)})`,
    );
  console.log(`  sink received ${arrived} of ${expected} mails`);
  if (arrived !== expected) process.exitCode = 1;
} finally {
  channel.close();
  rawTransport.close();
  sink.kill('SIGTERM');
}
