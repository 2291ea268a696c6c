import type { ChannelModel } from 'amqplib';
import { eventually } from './eventually.ts';

/**
 * Waits until some consumer is bound to `queue`. A service declares its queue
 * in the background, so events published before then would miss it.
 */
export async function untilConsuming(broker: ChannelModel, queue: string): Promise<void> {
  await eventually(`a consumer bound to ${queue}`, async () => {
    const channel = await broker.createChannel();
    channel.on('error', () => {}); // a 404 for a queue not declared yet closes the channel
    try {
      return (await channel.checkQueue(queue)).consumerCount > 0;
    } catch {
      return false;
    } finally {
      await channel.close().catch(() => {});
    }
  });
}
