/**
 * The control plane (tools/xds) against a real grpc-js xDS channel: what it
 * serves must be accepted (no NACK) and enforced by @grpc/grpc-js-xds, policy
 * by policy. The backends are in-process grpc-js servers that answer with
 * their own name after the delay the request asks for, so each figure is
 * attributable; tests/xds/proxyless.test.ts does the same with the services.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Client,
  credentials,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceError,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ROOT } from '@ordermesh/dev/platform';
import { eventually } from '@ordermesh/testing';
import { registerXdsFor } from '../../services/kit/grpc/src/xds.ts';
import { startXdsControlPlane, type XdsControlPlane } from '../../tools/xds/control-plane.ts';
import { durationMs, parseDuration, readMeshPolicies } from '../../tools/xds/translate.ts';

const PORTS = { controlPlane: 26150, backends: [26151, 26152] };
const bytes = {
  requestStream: false,
  responseStream: false,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
} as const;
// Any path goes: the payment route matches every method.
const probeService = { probe: { path: '/ordermesh.payment.v1.PaymentService/Probe', ...bytes } };

const paymentRoute = readMeshPolicies(join(ROOT, 'mesh')).virtualServices.find((vs) => vs.hosts.includes('payment'))
  ?.http[0];

let xds: XdsControlPlane;
const bootstrapDir = join(tmpdir(), `ordermesh-xds-${process.pid}`);
let client: Client;
const servers: Server[] = [];
const addresses: string[] = [];

beforeAll(async () => {
  for (const [index, port] of PORTS.backends.entries()) {
    const name = `backend-${index}`;
    const server = new Server();
    server.addService(probeService, {
      probe: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        const timer = setTimeout(() => callback(null, Buffer.from(name)), Number(call.request.toString() || '0'));
        call.on('cancelled', () => clearTimeout(timer));
      },
    });
    await new Promise<void>((done, fail) =>
      server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error) =>
        error ? fail(error) : done(),
      ),
    );
    servers.push(server);
    addresses.push(`127.0.0.1:${port}`);
  }
  xds = await startXdsControlPlane({ port: PORTS.controlPlane, endpoints: { payment: addresses } });
  process.env.GRPC_XDS_BOOTSTRAP = xds.writeBootstrap(bootstrapDir);
  registerXdsFor(xds.target('payment'));
  client = new Client(xds.target('payment'), credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  // With its last channel closed, grpc-js-xds ends its ADS stream; waiting for that spares it a reconnect.
  if (xds) await eventually('the xDS client to disconnect', () => xds.clients === 0, 5_000);
  await xds?.close();
  for (const server of servers) server.forceShutdown();
  rmSync(bootstrapDir, { recursive: true, force: true });
});

interface Outcome {
  answer: string;
  ms: number;
}

/** One call; `answer` is the backend's name or the status name of the failure. */
function probe(delayMs = 0): Promise<Outcome> {
  const started = performance.now();
  return new Promise((done) =>
    client.makeUnaryRequest(
      probeService.probe.path,
      bytes.requestSerialize,
      bytes.responseDeserialize,
      Buffer.from(String(delayMs)),
      { deadline: Date.now() + 10_000 },
      (error: ServiceError | null, response?: Buffer) =>
        done({
          answer: error ? (status[error.code] ?? String(error.code)) : String(response),
          ms: Math.round(performance.now() - started),
        }),
    ),
  );
}

/** Publishes `overrides` and waits until the client has acknowledged them. */
async function publish(overrides: Parameters<XdsControlPlane['applyOverrides']>[0]) {
  xds.applyOverrides(overrides);
  await xds.settled();
}

describe('the local xDS control plane, enforced by a grpc-js xDS channel', () => {
  it('routes round robin over the endpoints and follows EDS updates', async () => {
    const spread = new Map<string, number>();
    for (let i = 0; i < 20; i += 1) {
      const { answer } = await probe();
      spread.set(answer, (spread.get(answer) ?? 0) + 1);
    }
    xds.setEndpoints('payment', [addresses[1] as string]);
    await eventually('calls to go to backend-1 only', async () => (await probe()).answer === 'backend-1');
    const afterUpdate = await Promise.all(Array.from({ length: 10 }, () => probe()));
    xds.setEndpoints('payment', addresses);
    console.log(`[xds] control plane: 20 calls over two endpoints -> ${JSON.stringify(Object.fromEntries(spread))}`);

    // Round robin; the very first calls may go to whichever backend connected first.
    expect((spread.get('backend-0') ?? 0) + (spread.get('backend-1') ?? 0)).toBe(20);
    expect(Math.min(spread.get('backend-0') ?? 0, spread.get('backend-1') ?? 0)).toBeGreaterThanOrEqual(7);
    expect(afterUpdate.map((o) => o.answer)).toEqual(Array(10).fill('backend-1'));
    expect(xds.nacks).toEqual([]);
  });

  it('aborts and delays calls as a VirtualService fault says', async () => {
    await publish({ payment: { fault: { abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 100 } } } } });
    const aborted = await Promise.all(Array.from({ length: 5 }, () => probe()));
    await publish({ payment: { fault: { delay: { fixedDelay: '800ms', percentage: { value: 100 } } } } });
    const delayed = await probe();
    await publish({});
    console.log(
      `[xds] control plane: fault abort -> ${aborted.map((o) => o.answer).join(',')}; delay 800ms -> ${delayed.ms} ms`,
    );

    expect(aborted.map((o) => o.answer)).toEqual(Array(5).fill('UNAVAILABLE'));
    expect(delayed.answer).toMatch(/^backend/);
    expect(delayed.ms).toBeGreaterThanOrEqual(800);
    expect(xds.nacks).toEqual([]);
  });

  it("ends a call at the payment route's timeout from mesh/", async () => {
    if (!paymentRoute?.timeout) throw new Error('mesh/ payment route: expected a timeout');
    const timeoutMs = durationMs(parseDuration(paymentRoute.timeout));
    // The client's own deadline (10 s) is longer: the route's timeout must be the one that fires.
    const slow = await probe(timeoutMs + 2_000);
    console.log(
      `[xds] control plane: a ${timeoutMs + 2_000} ms call under a ${timeoutMs} ms route timeout -> ${slow.answer} after ${slow.ms} ms`,
    );

    expect(slow.answer).toBe('DEADLINE_EXCEEDED');
    expect(slow.ms).toBeGreaterThanOrEqual(timeoutMs - 50);
    expect(slow.ms).toBeLessThan(timeoutMs + 1_500);
  });

  it('sheds calls above http2MaxRequests with UNAVAILABLE', async () => {
    await publish({ payment: { http2MaxRequests: 2 } });
    // Staggered: grpc-js lets a burst fired in one tick through the max_requests check.
    const calls: Promise<Outcome>[] = [];
    for (let i = 0; i < 6; i += 1) {
      calls.push(probe(600));
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    const outcomes = await Promise.all(calls);
    await publish({});
    const shed = outcomes.filter((o) => o.answer === 'UNAVAILABLE');
    console.log(
      `[xds] control plane: max_requests 2, 6 staggered 600 ms calls -> ${outcomes.map((o) => `${o.answer}/${o.ms}ms`).join(' ')}`,
    );

    expect(outcomes.filter((o) => o.answer.startsWith('backend'))).toHaveLength(2);
    expect(shed).toHaveLength(4);
    for (const o of shed) expect(o.ms).toBeLessThan(300);
    expect(xds.nacks).toEqual([]);
  });
});
