export * from './consumer.js';
export * from './events.js';
export * from './outbox.js';
export * from './publisher.js';
