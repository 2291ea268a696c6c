/**
 * The UserService calls the scenarios make, over k6's gRPC client, with
 * per-RPC tags (rpc=<name>) for the thresholds, a check on the gRPC status
 * and an error-rate metric per RPC.
 */
import { check } from 'k6';
import { randomBytes } from 'k6/crypto';
import { Rate } from 'k6/metrics';
import grpc from 'k6/net/grpc';
import type { RpcName } from './profiles.ts';
import { settings } from './settings.ts';

const SERVICE = 'ordermesh.user.v1.UserService';

/** Share of calls per RPC that did not end with status OK; thresholds bound it per profile. */
const rpcErrors = new Rate('rpc_errors');

// Protos and TLS files can only be read in the init context.
const client = new grpc.Client();
client.load([settings.protoDir], 'ordermesh/user/v1/user.proto');
const tlsParams = settings.tls
  ? {
      cacerts: settings.tlsFiles.caFile ? open(settings.tlsFiles.caFile) : undefined,
      cert: settings.tlsFiles.certFile ? open(settings.tlsFiles.certFile) : '',
      key: settings.tlsFiles.keyFile ? open(settings.tlsFiles.keyFile) : '',
    }
  : undefined;

let connected = false;

/** Connects this VU once; k6 keeps one HTTP/2 connection per VU. */
function ensureConnected(): void {
  if (connected) return;
  client.connect(settings.target, { plaintext: !settings.tls, tls: tlsParams, timeout: '10s' });
  connected = true;
}

export function uuid(): string {
  const bytes = new Uint8Array(randomBytes(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40; // version 4
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Calls one UserService method; returns the response message, or undefined when the status was not OK. */
export function invoke<T extends object>(
  rpc: RpcName | 'Register' | 'Login' | 'AddPaymentMethod',
  request: object,
  token?: string,
): T | undefined {
  ensureConnected();
  const response = client.invoke(`${SERVICE}/${rpc}`, request, {
    metadata: token ? { authorization: `Bearer ${token}` } : {},
    tags: { rpc },
    timeout: settings.callTimeout,
  });
  const ok = check(response, { [`${rpc} status is OK`]: (r) => r.status === grpc.StatusOK }, { rpc });
  rpcErrors.add(!ok, { rpc });
  return ok ? (response.message as T) : undefined;
}
