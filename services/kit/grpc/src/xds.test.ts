import { describe, expect, it } from '@jest/globals';
import { isXdsTarget, registerXdsFor } from './xds.js';

describe('xds targets', () => {
  it('recognises the xds scheme only', () => {
    expect(isXdsTarget('xds:///payment.ordermesh.svc.cluster.local:50053')).toBe(true);
    expect(isXdsTarget('XDS://authority/payment')).toBe(true);
    expect(isXdsTarget('127.0.0.1:50053')).toBe(false);
    expect(isXdsTarget('dns:///payment:50053')).toBe(false);
    expect(isXdsTarget('payment-xds:50053')).toBe(false);
  });

  it('needs nothing for a plain address', () => {
    expect(() => registerXdsFor('127.0.0.1:50053', {})).not.toThrow();
  });

  it('names the missing bootstrap for an xds target', () => {
    expect(() => registerXdsFor('xds:///payment.ordermesh.svc.cluster.local:50053', {})).toThrow(
      'gRPC target xds:///payment.ordermesh.svc.cluster.local:50053 uses the xds scheme, but GRPC_XDS_BOOTSTRAP',
    );
  });
});
