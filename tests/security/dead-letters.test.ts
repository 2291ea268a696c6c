import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ReceivedMail, startMailSink } from '@ordermesh/dev/mail-sink';
import { Platform, ROOT } from '@ordermesh/dev/platform';
import { EventPublisher, type OutboxRecord, outboxRecord, queueNames } from '@ordermesh/messaging';
import { createLogger } from '@ordermesh/runtime';
import { createMigratedDatabase, eventually, untilConsuming } from '@ordermesh/testing';
import { type ChannelModel, connect } from 'amqplib';
import { type DeadLetter, parseCommand } from '../../tools/dead-letters/dead-letters.ts';

/**
 * Poison messages against the real NotificationService process and RabbitMQ:
 * an unparsable event and one that keeps failing end in the dead-letter
 * queue with their reason while the rest flow on, and the operator command
 * lists them and re-drives them.
 */
const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const runId = randomUUID().slice(0, 8);
const exchange = `ordermesh.test.deadletters.${runId}`;
const queue = `notification.test.deadletters.${runId}`;
/** A second dead-letter queue for the failing re-drive, with no consumer. */
const strandedQueue = `stranded.test.deadletters.${runId}`;
const RETRY_DELAYS_MS = [200, 400];
const names = queueNames(queue);

let broker: ChannelModel;
let publisher: EventPublisher;
let platform: Platform;
let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
let sink: Awaited<ReturnType<typeof startMailSink>>;
const mail: ReceivedMail[] = [];
const stateDir = join(tmpdir(), `ordermesh-deadletters-${runId}`);

const run = promisify(execFile);

/** `npm run dead-letters -- <args> --json`, as an operator runs it, against this test's broker objects. */
async function deadLetters(...args: string[]): Promise<{ code: number; output: Record<string, unknown> }> {
  const command = [
    '--experimental-strip-types',
    '--no-warnings',
    join(ROOT, 'tools/dead-letters/main.ts'),
    ...args,
    '--json',
  ];
  const env = { ...process.env, AMQP_URL, EVENTS_EXCHANGE: exchange };
  try {
    const { stdout } = await run(process.execPath, command, { cwd: ROOT, env });
    return { code: 0, output: JSON.parse(stdout) as Record<string, unknown> };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, output: JSON.parse(failed.stdout) as Record<string, unknown> };
  }
}

async function publish(...records: OutboxRecord[]): Promise<void> {
  await publisher.publish(
    records.map((record) => ({ ...record, payload: Buffer.from(record.payload), occurredAt: new Date() })),
  );
}

function newUser() {
  const userId = randomUUID();
  return { userId, email: `${userId}@example.test`, displayName: 'Dead Letter Tester' };
}

const registered = (user: ReturnType<typeof newUser>) =>
  outboxRecord('user.registered', { ...user, occurredAt: new Date() });

const placed = (userId: string) =>
  outboxRecord('order.placed', {
    orderId: randomUUID(),
    userId,
    itemCount: 1,
    total: { amountMinor: 1200, currency: 'USD' },
    occurredAt: new Date(),
  });

const subjectsTo = (address: string) => mail.filter((m) => m.to.includes(address)).map((m) => m.subject);
const deadCount = async () => {
  const channel = await broker.createChannel();
  try {
    return (await channel.checkQueue(names.deadLetterQueue)).messageCount;
  } finally {
    await channel.close();
  }
};

beforeAll(async () => {
  broker = await connect(AMQP_URL);
  publisher = new EventPublisher(AMQP_URL, createLogger('dead-letters-test', 'silent'), exchange);
  sink = await startMailSink(0, (message) => mail.push(message));
  database = await createMigratedDatabase('notification');
  platform = new Platform({
    databaseSuffix: `_sec_deadletters`,
    grpcBasePort: 28700,
    jwksPort: 28781,
    stateDir,
    smtpUrl: `smtp://127.0.0.1:${sink.port}`,
    env: {
      notification: {
        DATABASE_URL: database.url,
        EVENTS_EXCHANGE: exchange,
        NOTIFICATION_QUEUE: queue,
        NOTIFICATION_RETRY_DELAYS_MS: RETRY_DELAYS_MS.join(','),
      },
    },
  });
  await platform.start(['notification']);
  await untilConsuming(broker, queue);
}, 120_000);

afterAll(async () => {
  await platform?.stop();
  await publisher?.close();
  await sink?.close();
  await database?.drop();
  if (broker) {
    const cleanup = await broker.createChannel();
    for (const name of [
      queue,
      names.deadLetterQueue,
      ...RETRY_DELAYS_MS.map(names.retryQueue),
      `${exchange}.unrouted`,
      queueNames(strandedQueue).deadLetterQueue,
    ]) {
      await cleanup.deleteQueue(name);
    }
    for (const name of [exchange, `${exchange}.unrouted`, names.deadLetterExchange]) await cleanup.deleteExchange(name);
    await broker.close();
  }
  rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

describe('poison messages', () => {
  const garbageId = randomUUID();
  const stranger = newUser();
  const strangersOrder = placed(stranger.userId);

  it('dead-letters an unparsable event and one that keeps failing, with reasons, and keeps consuming', async () => {
    // Unparsable: dead-lettered on its first delivery, no retry can fix it.
    await publisher.publish([
      {
        eventId: garbageId,
        routingKey: 'order.placed',
        messageType: 'ordermesh.events.v1.OrderPlaced',
        payload: Buffer.from('{"this is": "not protobuf"}'),
        headers: {},
        occurredAt: new Date(),
      },
    ]);
    // Fails processing: its user is unknown, every retry fails the same way.
    await publish(strangersOrder);
    // And an ordinary event after both: it is handled meanwhile.
    const fine = newUser();
    await publish(registered(fine));
    await eventually('the email of the event behind the bad ones', () => subjectsTo(fine.email).length === 1);
    await eventually('both bad events in the dead-letter queue', async () => (await deadCount()) === 2, 20_000);

    const { code, output } = await deadLetters('list', '--queue', queue);
    expect(code).toBe(0);
    expect(output.total).toBe(2);
    const letters = output.letters as DeadLetter[];
    const garbage = letters.find((letter) => letter.messageId === garbageId);
    const failing = letters.find((letter) => letter.messageId === strangersOrder.eventId);
    console.log(`dead letters listed: ${JSON.stringify(letters, null, 1)}`);
    expect(garbage).toMatchObject({ routingKey: 'order.placed', exchange, attempts: 1, brokerDeaths: 0 });
    expect(garbage?.reason).toContain('does not decode as order.placed');
    expect(failing).toMatchObject({ routingKey: 'order.placed', exchange, attempts: RETRY_DELAYS_MS.length + 1 });
    expect(failing?.reason).toBe(`recipient ${stranger.userId} is not known yet`);
    // Each retry went through a TTL queue and the broker's dead-lettering: its x-death history.
    expect(failing?.brokerDeaths).toBe(RETRY_DELAYS_MS.length);
    for (const letter of [garbage, failing]) {
      expect(Date.parse(letter?.firstFailedAt ?? '')).toBeLessThanOrEqual(Date.parse(letter?.deadAt ?? ''));
    }
    // Listing took nothing away.
    expect(await deadCount()).toBe(2);
  }, 60_000);

  it('re-drives dead letters to their exchange and routing key once the cause is fixed', async () => {
    // The cause of the failing one: its user had not registered. Now they have.
    await publish(registered(stranger));
    await eventually('the stranger’s welcome email', () => subjectsTo(stranger.email).length === 1);

    const { code, output } = await deadLetters('redrive', '--queue', queue);
    expect(code).toBe(0);
    expect((output.redriven as DeadLetter[]).map((letter) => letter.messageId).sort()).toEqual(
      [garbageId, strangersOrder.eventId].sort(),
    );
    await eventually('the re-driven order email', () => subjectsTo(stranger.email).length === 2, 20_000);
    expect(subjectsTo(stranger.email)[1]).toMatch(/^Order .* received$/);

    // The garbage is still garbage: it is back in the dead-letter queue, marked as re-driven once.
    await eventually('the garbage back in the dead-letter queue', async () => (await deadCount()) === 1);
    const channel = await broker.createChannel();
    const back = (await channel.get(names.deadLetterQueue, { noAck: false })) || undefined;
    expect(back?.properties.messageId).toBe(garbageId);
    expect(back?.properties.headers?.['x-ordermesh-redrives']).toBe(1);
    await channel.close();
  }, 60_000);

  it('keeps a dead letter when its re-publication is not confirmed', async () => {
    const deadQueue = queueNames(strandedQueue).deadLetterQueue;
    const channel = await broker.createConfirmChannel();
    await channel.assertQueue(deadQueue, { durable: true });
    // A dead letter whose exchange no longer exists: the broker refuses the publication.
    const strandedId = randomUUID();
    channel.sendToQueue(deadQueue, Buffer.from('payload'), {
      messageId: strandedId,
      persistent: true,
      headers: {
        'x-ordermesh-exchange': `ordermesh.test.gone.${runId}`,
        'x-ordermesh-routing-key': 'order.placed',
        'x-ordermesh-dead-reason': 'for the test',
      },
    });
    await channel.waitForConfirms();

    const { code, output } = await deadLetters('redrive', '--queue', strandedQueue);
    expect(code).toBe(1);
    expect(output.redriven).toEqual([]);
    expect(String(output.error)).toContain(strandedId);
    const kept = (await channel.get(deadQueue, { noAck: true })) || undefined;
    expect(kept?.properties.messageId).toBe(strandedId);
    await channel.close();
  }, 30_000);

  it('names what is wrong with a bad command line', async () => {
    const bad = await run(
      process.execPath,
      ['--experimental-strip-types', '--no-warnings', 'tools/dead-letters/main.ts', 'purge'],
      {
        cwd: ROOT,
      },
    ).catch((error: { code: number; stderr: string }) => error);
    expect((bad as { code: number }).code).toBe(2);
    expect((bad as { stderr: string }).stderr).toContain('unknown command "purge": expected list or redrive');
  });
});

describe('the dead-letters command line', () => {
  it('defaults to the notification queue, all letters for redrive and 50 for list', () => {
    expect(parseCommand(['redrive'], {})).toEqual({
      action: 'redrive',
      queue: 'notification.events',
      limit: Number.MAX_SAFE_INTEGER,
      json: false,
    });
    expect(parseCommand(['list', '--json'], { NOTIFICATION_QUEUE: 'mine' })).toEqual({
      action: 'list',
      queue: 'mine',
      limit: 50,
      json: true,
    });
  });

  it.each([
    [['list', '--limit', '0'], '--limit 0: must be a whole number >= 1'],
    [['list', '--limit'], '--limit : must be a whole number >= 1'],
    [['list', '--queue'], '--queue needs a queue name'],
    [['list', '--queue', '--json'], '--queue needs a queue name'],
    [['list', '--purge'], 'unknown option "--purge"'],
    [[], 'unknown command "": expected list or redrive'],
  ])('refuses %j naming the problem', (args, message) => {
    expect(() => parseCommand(args, {})).toThrow(message);
  });
});
