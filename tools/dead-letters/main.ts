/**
 * `npm run dead-letters -- list|redrive [--queue ...] [--limit N] [--json]`:
 * the operator's view of a consumer's dead-letter queue, and the way back.
 */
import { connect } from 'amqplib';
import {
  deadLetterQueueOf,
  formatTable,
  listDeadLetters,
  parseCommand,
  redriveDeadLetters,
  USAGE,
} from './dead-letters.ts';

let command: ReturnType<typeof parseCommand>;
try {
  command = parseCommand(process.argv.slice(2), process.env);
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}

const amqpUrl = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
const fallbackExchange = process.env.EVENTS_EXCHANGE || 'ordermesh.events';
const connection = await connect(amqpUrl, { timeout: 5_000 });
try {
  const deadQueue = deadLetterQueueOf(command.queue);
  if (command.action === 'list') {
    const channel = await connection.createChannel();
    const { total, letters } = await listDeadLetters(channel, command.queue, command.limit, fallbackExchange);
    await channel.close();
    if (command.json) console.log(JSON.stringify({ queue: deadQueue, total, letters }));
    else {
      console.log(`${deadQueue}: ${total} dead letter(s)${letters.length < total ? `, first ${letters.length}` : ''}`);
      if (letters.length > 0) console.log(formatTable(letters));
    }
  } else {
    const channel = await connection.createConfirmChannel();
    // A refused publication closes the channel with an error; redriveDeadLetters reports it.
    channel.on('error', () => {});
    const { redriven, error } = await redriveDeadLetters(channel, command.queue, command.limit, fallbackExchange);
    // Closing the channel first flushes its acks: the connection's close could overtake them.
    await channel.close().catch(() => {});
    if (command.json) console.log(JSON.stringify({ queue: deadQueue, redriven, error }));
    else {
      for (const letter of redriven)
        console.log(`re-drove ${letter.messageId} to ${letter.exchange} ${letter.routingKey}`);
      console.log(`${redriven.length} dead letter(s) re-driven from ${deadQueue}`);
    }
    if (error) {
      console.error(`stopped: ${error} (it is still in ${deadQueue})`);
      process.exitCode = 1;
    }
  }
} finally {
  await connection.close().catch(() => {});
}
