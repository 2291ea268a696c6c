/**
 * The SMTP sink NotificationService delivers to, in its own process so that
 * receiving mail does not share the load generator's event loop. It counts
 * messages without parsing them (the relay stands for another machine), and
 * answers each IPC message with the number received so far.
 */
import { startCountingMailSink } from '../dev/mail-sink.ts';

let received = 0;
const sink = await startCountingMailSink(Number(process.env.SMTP_PORT), () => {
  received += 1;
});
process.on('message', () => process.send?.(received));
process.on('SIGTERM', () => sink.close().finally(() => process.exit(0)));
process.send?.('ready');
