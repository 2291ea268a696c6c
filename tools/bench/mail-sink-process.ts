/**
 * The SMTP sink NotificationService delivers to, in its own process so that
 * parsing mail does not take CPU from the load generator. Answers each IPC
 * message with the number of mails received so far.
 */
import { startMailSink } from '../dev/mail-sink.ts';

let received = 0;
const sink = await startMailSink(Number(process.env.SMTP_PORT), () => {
  received += 1;
});
process.on('message', () => process.send?.(received));
process.on('SIGTERM', () => sink.close().finally(() => process.exit(0)));
process.send?.('ready');
