/**
 * npm run bench [-- --quick]: the platform against its bare baseline, on this
 * machine, in one run. See docs/performance.md for the method and the targets.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { databaseUrl, ROOT, SERVICE_NAMES } from '../dev/platform.ts';
import { type Account, signUpAll } from './accounts.ts';
import { RawCaller } from './grpc-caller.ts';
import { type Call, closedLoop, openLoop, openLoopTakingTurns, type StepResult } from './load.ts';
import { type CeilingResult, measurePgCeiling } from './pg-ceiling.ts';
import { CpuMeter, memoryMiB, pidsOfCommand } from './proc-stats.ts';
import {
  costPerCall,
  cpuPerCallMs,
  percentileMs,
  printSteps,
  printTargets,
  type Step,
  type StepEvents,
  type Target,
} from './report.ts';
import * as scenarios from './scenarios.ts';
import { seedOrderHistories } from './seed.ts';
import * as bench from './settings.ts';
import {
  assertTelemetryOn,
  deleteBrokerObjects,
  orderDatabaseUrl,
  platformSettings,
  type SystemUnderTest,
  startBare,
  startChild,
  startPlatform,
} from './systems.ts';

const quick = process.argv.includes('--quick');
const times = bench.stepTimes(quick);
const IN_FLIGHT = 64;
const OPEN_LOOP_SHARE = 0.8;
/** The scenarios compare() runs, each with an open loop at 80% on both systems. */
const OPEN_LOOP_SCENARIOS = ['GetProfile', 'PlaceOrder', `ListMyOrders ${bench.SMALL_HISTORY}`];
/** The flatness step: both histories in one open loop at 80% of capacity, half the calls each. */
const IN_TURNS = 'open 80% in turns';
const LIST_SMALL_IN_TURNS = `ListMyOrders ${bench.SMALL_HISTORY}`;
const LIST_LARGE_IN_TURNS = `ListMyOrders ${bench.LARGE_HISTORY}`;
/** Events a successful call writes: an order announces itself (order.placed) and its payment (payment.succeeded). */
const EVENTS_PER_CALL: Record<string, number> = { PlaceOrder: 2 };

for (const name of SERVICE_NAMES) {
  if (!existsSync(join(ROOT, 'services', name, 'dist/main.js'))) throw new Error('run `npm run build` first');
}

const steps: Step[] = [];
/**
 * Waits until the platform has finished the work earlier steps left behind (their orders'
 * notifications), so that no step pays for another's backlog. Set once the mail sink is up.
 */
let settle: () => Promise<void> = async () => {};
/** Helper processes that stand for other machines (the SMTP relay), measured like the shared servers. */
const standInServers = new Map<string, number[]>();

/** Runs one measured step after a short unmeasured warm-up, reading CPU over the step and peak RSS after it. */
async function measure(
  system: SystemUnderTest,
  scenario: string,
  load: string,
  run: () => Promise<StepResult>,
  warmup: Call,
): Promise<StepResult> {
  const [result] = await measureTogether(system, [scenario], load, async () => [await run()], warmup);
  return result as StepResult;
}

/**
 * Runs one measured step whose calls belong to several scenarios (taken in
 * turns), and records a step per scenario. Each is given the share of the
 * step's CPU and queries that its share of the calls is.
 */
async function measureTogether(
  system: SystemUnderTest,
  scenarios: readonly string[],
  load: string,
  run: () => Promise<StepResult[]>,
  warmup: Call,
): Promise<StepResult[]> {
  await settle();
  await closedLoop(warmup, 16, times.warmupMs);
  // Again after the warm-up: its events would otherwise still be in NotificationService's hands during
  // the step, and their processing would take CPU from the calls measured (and count as the step's).
  await settle();
  // The shared servers are machine-wide: colleagues' test runs show up in them too (see docs/performance.md).
  const groups = new Map<string, number[]>([
    ...[...system.pids].map(([name, pid]): [string, number[]] => [name, [pid]]),
    ['loadgen', [process.pid]],
    ['postgres', pidsOfCommand('postgres')],
    ['redis', pidsOfCommand('redis-server')],
    ['rabbitmq', pidsOfCommand('beam.smp')],
    ...standInServers,
  ]);
  const before = await system.readings?.();
  const cpu = new CpuMeter(groups);
  const results = await run();
  const cpuUsed = cpu.read();
  const peakRss = new Map([...system.pids].map(([name, pid]) => [name, memoryMiB(pid).peak]));
  const after = await system.readings?.();
  const queries =
    before &&
    after &&
    new Map([...after.queries].map(([name, count]) => [name, count - (before.queries.get(name) ?? 0)]));
  const calls = results.reduce((sum, result) => sum + result.completed, 0);
  results.forEach((result, index) => {
    const share = calls > 0 ? result.completed / calls : 0;
    const scaled = (values: Map<string, number>) => new Map([...values].map(([name, value]) => [name, value * share]));
    const scenario = scenarios[index] ?? `scenario ${index}`;
    const ok = result.completed - [...result.errors.values()].reduce((a, b) => a + b, 0);
    const events: StepEvents | undefined = before &&
      after && {
        produced: ok * (EVENTS_PER_CALL[scenario] ?? 0),
        processed: (after.eventsProcessed - before.eventsProcessed) * share,
        failed: (after.eventsFailed - before.eventsFailed) * share,
        published: (after.eventsPublished - before.eventsPublished) * share,
        publishes: (after.publishes - before.publishes) * share,
      };
    const step: Step = {
      scenario,
      system: system.name,
      load,
      result,
      cpu: scaled(cpuUsed),
      peakRss,
      queries: queries && scaled(queries),
      events,
    };
    steps.push(step);
    console.error(
      `  ${step.scenario} ${system.name} ${load}: ${result.achievedRate.toFixed(0)}/s, p99 ${percentileMs(result, 99).toFixed(1)} ms; ${costPerCall(step) ?? ''}`,
    );
  });
  return results;
}

function findStep(scenario: string, system: string, load: string): Step {
  const step = steps.find((s) => s.scenario === scenario && s.system === system && s.load === load);
  if (!step) throw new Error(`no step ${scenario}/${system}/${load}`);
  return step;
}
const find = (scenario: string, system: string, load: string) => findStep(scenario, system, load).result;

interface Callers {
  system: SystemUnderTest;
  caller: RawCaller;
}

/**
 * One scenario on both systems, one after the other so they share the moment:
 * capacity at 64 in flight, then an open loop on both at 80% of the smaller of the two
 * capacities: a rate both can serve, so that neither figure is a queue growing without end.
 */
async function compare(
  scenario: string,
  both: readonly Callers[],
  makeCall: (caller: RawCaller) => Call,
): Promise<void> {
  const closed = `closed ${IN_FLIGHT}`;
  for (const { system, caller } of both) {
    const call = makeCall(caller);
    await measure(system, scenario, closed, () => closedLoop(call, IN_FLIGHT, times.stepMs), call);
  }
  const capacity = Math.min(...both.map(({ system }) => find(scenario, system.name, closed).achievedRate));
  const rate = Math.max(1, Math.round(capacity * OPEN_LOOP_SHARE));
  for (const { system, caller } of both) {
    const call = makeCall(caller);
    await measure(system, scenario, 'open 80%', () => openLoop(call, rate, times.stepMs), call);
  }
}

function idleMemory(systems: readonly SystemUnderTest[]): Map<string, number> {
  const idle = new Map<string, number>();
  for (const system of systems)
    for (const [name, pid] of system.pids) idle.set(`${system.name} ${name}`, memoryMiB(pid).rss);
  return idle;
}

/** Waits until the platform's notifications stop arriving; returns how many arrived. */
async function drainNotifications(mailSink: ChildProcess, expected: number): Promise<number> {
  const count = () =>
    new Promise<number>((resolve) => {
      mailSink.once('message', (value) => resolve(Number(value)));
      mailSink.send('count');
    });
  const until = Date.now() + 30_000;
  let received = await count();
  while (received < expected && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    received = await count();
  }
  if (received < expected) console.error(`  mails: ${received} of ${expected} after 30 s; going on`);
  return received;
}

function targets(
  idle: Map<string, number>,
  expectedMails: number,
  mails: number,
  ceiling: CeilingResult | Error,
): Target[] {
  const ratio = (a: number, b: number) => a / b;
  const closed = `closed ${IN_FLIGHT}`;
  const place = { platform: find('PlaceOrder', 'platform', closed), bare: find('PlaceOrder', 'bare', closed) };
  const profile = { platform: find('GetProfile', 'platform', closed), bare: find('GetProfile', 'bare', closed) };
  const listSmall = find(LIST_SMALL_IN_TURNS, 'platform', IN_TURNS);
  const listLarge = find(LIST_LARGE_IN_TURNS, 'platform', IN_TURNS);
  const placeThroughput = ratio(place.platform.achievedRate, place.bare.achievedRate);
  const placeP99 = ratio(percentileMs(place.platform, 99), percentileMs(place.bare, 99));
  const events = findStep('PlaceOrder', 'platform', closed).events;
  const keptUp = events && events.produced > 0 ? ratio(events.processed, events.produced) : undefined;
  const ofCeiling = ceiling instanceof Error ? undefined : ratio(place.platform.achievedRate, ceiling.ordersPerSecond);
  const list: Target[] = [
    {
      name: 'PlaceOrder throughput at 64 in flight, platform / bare',
      value: placeThroughput.toFixed(2),
      goal: '>= 1.00',
      met: placeThroughput >= 1,
    },
    {
      name: 'PlaceOrder notifications keep up in the closed-64 step (processed / produced)',
      value: keptUp === undefined ? 'n/a' : keptUp.toFixed(2),
      goal: '>= 1.00',
      // Judged at the two decimals shown: either end of the step has a few events in transit
      // (the consumer's prefetch, a relay batch), which is noise below that resolution.
      met: keptUp !== undefined && Number(keptUp.toFixed(2)) >= 1,
    },
    {
      name: 'PlaceOrder p99 at 64 in flight, platform / bare',
      value: placeP99.toFixed(2),
      goal: '<= 1.30',
      met: placeP99 <= 1.3,
    },
    {
      name: 'PlaceOrder platform closed-64 / pg ceiling for its SQL',
      value: ofCeiling === undefined ? 'n/a' : ofCeiling.toFixed(2),
      goal: '>= 0.50',
      met: ofCeiling !== undefined && ofCeiling >= 0.5,
    },
    {
      name: 'GetProfile (cached) throughput at 64 in flight, platform / bare',
      value: ratio(profile.platform.achievedRate, profile.bare.achievedRate).toFixed(2),
      goal: '>= 0.70',
      met: ratio(profile.platform.achievedRate, profile.bare.achievedRate) >= 0.7,
    },
  ];
  for (const scenario of OPEN_LOOP_SCENARIOS) {
    const p50 = ratio(
      percentileMs(find(scenario, 'platform', 'open 80%'), 50),
      percentileMs(find(scenario, 'bare', 'open 80%'), 50),
    );
    list.push({
      name: `${scenario} p50 at 80% load (open loop), platform / bare`,
      value: p50.toFixed(2),
      goal: '<= 2.00',
      met: p50 <= 2,
    });
  }
  list.push({
    name: `ListMyOrders p99, ${bench.LARGE_HISTORY} / ${bench.SMALL_HISTORY} orders (in turns)`,
    value: ratio(percentileMs(listLarge, 99), percentileMs(listSmall, 99)).toFixed(2),
    goal: '<= 1.30',
    met: ratio(percentileMs(listLarge, 99), percentileMs(listSmall, 99)) <= 1.3,
  });
  const platformSteps = steps.filter((s) => s.system === 'platform');
  for (const name of SERVICE_NAMES) {
    const rss = idle.get(`platform ${name}`) ?? 0;
    list.push({ name: `${name}: RSS idle (MiB)`, value: rss.toFixed(0), goal: '< 150', met: rss < 150 });
    const peak = Math.max(...platformSteps.map((s) => s.peakRss.get(name) ?? 0));
    list.push({ name: `${name}: peak RSS (MiB)`, value: peak.toFixed(0), goal: '< 300', met: peak < 300 });
  }
  const openErrors = platformSteps
    .filter((s) => s.load === 'open 80%')
    .reduce((sum, s) => sum + [...s.result.errors.values()].reduce((a, b) => a + b, 0), 0);
  list.push({
    name: 'platform errors at 80% of peak rate (all scenarios)',
    value: String(openErrors),
    goal: '0',
    met: openErrors === 0,
  });
  list.push({
    name: 'PlaceOrder notifications delivered (2 per order)',
    value: `${mails}/${expectedMails}`,
    goal: 'all',
    met: mails >= expectedMails,
  });
  return list;
}

async function main(): Promise<void> {
  const startedAt = performance.now();
  console.error(
    `ordermesh bench${quick ? ' (quick)' : ''}: starting the platform (telemetry on) and the bare baseline`,
  );
  const mailSink = await startChild('mail-sink-process.ts', { SMTP_PORT: String(bench.SMTP_PORT) }, true);
  const bareMailSink = await startChild('mail-sink-process.ts', { SMTP_PORT: String(bench.BARE_SMTP_PORT) }, true);
  standInServers.set(
    'smtp',
    [mailSink.pid, bareMailSink.pid].filter((pid) => pid !== undefined),
  );
  const platform = await startPlatform();
  const systems: SystemUnderTest[] = [platform];
  // Once only: a child already gone by signal would never report its exit a second time.
  let stopping: Promise<unknown> | undefined;
  const stopSystems = () => {
    stopping ??= Promise.all(systems.map((system) => system.stop()));
    return stopping;
  };
  try {
    await assertTelemetryOn();
    const started = idleMemory(systems);
    const names = bench.ACCOUNT_NAMES;
    const accounts = await signUpAll(platform.address, names);
    const account = (name: string) => accounts.get(name) as Account;
    const buyers = names.slice(0, bench.BUYERS).map(account);
    const small = account(`history-${bench.SMALL_HISTORY}`);
    const large = account(`history-${bench.LARGE_HISTORY}`);
    await seedOrderHistories(orderDatabaseUrl(), small.userId, large.userId);
    const bare = await startBare();
    systems.unshift(bare);
    const both: Callers[] = systems.map((system) => ({ system, caller: new RawCaller(system.address) }));
    const platformCaller = both.find((callers) => callers.system === platform)?.caller;
    await waitForBareServing(both[0]?.caller as RawCaller, small);
    const idle = idleMemory(systems);
    // Orders each system accepted, warm-ups included, to wait for their notifications and check they arrive.
    const ordersPlaced = new Map<RawCaller, number>(both.map(({ caller }) => [caller, 0]));
    const mailsBefore = await drainNotifications(mailSink, 0);
    const bareMailsBefore = await drainNotifications(bareMailSink, 0);
    const platformOrders = () => ordersPlaced.get(platformCaller as RawCaller) ?? 0;
    const bareCaller = both.find((callers) => callers.system === bare)?.caller;
    const bareOrders = () => ordersPlaced.get(bareCaller as RawCaller) ?? 0;
    // Each order makes two mails: "order received" and "payment received".
    settle = async () => {
      await drainNotifications(mailSink, mailsBefore + 2 * platformOrders());
      await drainNotifications(bareMailSink, bareMailsBefore + 2 * bareOrders());
    };

    await compare('GetProfile', both, (caller) => scenarios.getProfile(caller, buyers));
    const placeOrder = (caller: RawCaller): Call => {
      const call = scenarios.placeOrder(caller, buyers);
      return () =>
        call().then((code) => {
          if (code === 0) ordersPlaced.set(caller, (ordersPlaced.get(caller) ?? 0) + 1);
          return code;
        });
    };
    for (const { system, caller } of both) {
      const call = placeOrder(caller);
      await measure(system, 'PlaceOrder', 'closed 1', () => closedLoop(call, 1, times.serialMs), call);
    }
    await compare('PlaceOrder', both, placeOrder);
    await compare(`ListMyOrders ${bench.SMALL_HISTORY}`, both, (caller) => scenarios.listMyOrders(caller, small));
    // Flat latency as history grows: the small and the large history in turns, in one open loop at the
    // same total rate, so that both meet the same moments of a noisy machine.
    const listRate = find(`ListMyOrders ${bench.SMALL_HISTORY}`, 'platform', 'open 80%').offeredRate ?? 1;
    for (const { system, caller } of both) {
      const calls = [scenarios.listMyOrders(caller, small), scenarios.listMyOrders(caller, large)];
      await measureTogether(
        system,
        [LIST_SMALL_IN_TURNS, LIST_LARGE_IN_TURNS],
        IN_TURNS,
        () => openLoopTakingTurns(calls, listRate, times.stepMs),
        calls[1] as Call,
      );
    }

    const expectedMails = mailsBefore + 2 * platformOrders();
    const mails = await drainNotifications(mailSink, expectedMails);
    for (const { caller } of both) caller.close();

    // PostgreSQL alone on PlaceOrder's SQL, after the steps and with both systems stopped: a running
    // outbox relay would claim and publish the ceiling's rows, and their CPU would count as the ceiling's.
    await stopSystems();
    // A failed ceiling costs its target, not the run's other results.
    const ceiling = await measurePgCeiling({
      urls: { order: orderDatabaseUrl(), payment: paymentDatabaseUrl(), notification: notificationDatabaseUrl() },
      clients: IN_FLIGHT,
      durationMs: times.stepMs,
      warmupMs: times.warmupMs,
    }).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
    console.error(`  ${ceilingText(ceiling).split('\n')[0]}`);

    console.log(`\nordermesh bench, ${quick ? 'quick' : 'full'} mode, ${new Date().toISOString()}, telemetry on`);
    printSteps(steps);
    const rssText = (values: Map<string, number>) =>
      [...values].map(([name, rss]) => `${name} ${rss.toFixed(0)}`).join(', ');
    console.log(`\nRSS (MiB) just after start: ${rssText(started)}`);
    console.log(`idle RSS (MiB), after the sign-ups and seeding: ${rssText(idle)}`);
    console.log(`\n${placeOrderCpuText()}`);
    console.log(ceilingText(ceiling));
    printTargets(targets(idle, expectedMails - mailsBefore, mails - mailsBefore, ceiling));
    console.log(`\ntook ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
  } finally {
    await stopSystems();
    mailSink.kill('SIGTERM');
    bareMailSink.kill('SIGTERM');
    await deleteBrokerObjects();
  }
}

const paymentDatabaseUrl = () => databaseUrl(platformSettings, 'payment');
const notificationDatabaseUrl = () => databaseUrl(platformSettings, 'notification');

function ceilingText(ceiling: CeilingResult | Error): string {
  if (ceiling instanceof Error) return `ceiling: failed, ${ceiling.message}`;
  const { order, payment, notification } = ceiling.connections;
  return [
    `ceiling: ${ceiling.ordersPerSecond.toFixed(0)} orders/s, postgres cpu ${ceiling.postgresCpuMsPerOrder.toFixed(2)} ms per order`,
    `  (PostgreSQL alone on PlaceOrder's SQL: ${ceiling.clients} clients on ${order}/${payment}/${notification} order/payment/notification connections,`,
    `  ${(ceiling.durationMs / 1000).toFixed(1)} s, ${ceiling.orders} orders, ${ceiling.errors} errors, relays ${ceiling.relay} at ${ceiling.eventsPerBatch.toFixed(1)} events per batch;`,
    `  the clients' own cpu ${ceiling.clientCpuMsPerOrder.toFixed(2)} ms per order)`,
  ].join('\n');
}

/** Service and PostgreSQL CPU per order of the two systems at 64 in flight, printed next to the targets. */
function placeOrderCpuText(): string {
  const closed = `closed ${IN_FLIGHT}`;
  const text = (system: 'platform' | 'bare') => {
    const cpu = cpuPerCallMs(findStep('PlaceOrder', system, closed));
    return cpu
      ? `${system} service ${cpu.total.toFixed(2)} ms + postgres ${cpu.postgres.toFixed(2)} ms`
      : `${system} n/a`;
  };
  return `PlaceOrder cpu per order at ${IN_FLIGHT} in flight: ${text('platform')}; ${text('bare')}`;
}

/** The bare servers have no health service: a call that gets any answer but UNAVAILABLE means it is up. */
async function waitForBareServing(caller: RawCaller, account: Account): Promise<void> {
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    const code = await caller.call(
      '/ordermesh.user.v1.UserService/ListMyOrders',
      Buffer.alloc(0),
      account.metadata,
      1_000,
    );
    if (code === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the bare baseline did not start');
}

await main();
