import { readFileSync } from 'node:fs';
import type { Interceptor, Metadata } from '@grpc/grpc-js';
import { ensureServiceIdentityKeys } from '@ordermesh/dev/platform';
import type { RequestBinding } from '@ordermesh/grpc';
import { ServiceTokenSigner } from '@ordermesh/identity';

/** The services that call others, and so sign service tokens. */
export type CallingService = 'user' | 'order';

/**
 * Lets a test call OrderService and PaymentService directly as one of their
 * real callers would: with that caller's service token, signed by the key
 * tools/dev/platform.ts made in `stateDir` (the state directory of a
 * Platform, or any directory for services started in-process).
 */
export function serviceIdentities(stateDir: string) {
  const keys = ensureServiceIdentityKeys(stateDir);
  const signers = {
    user: ServiceTokenSigner.fromPem('user', readFileSync(keys.user.privateKeyFile, 'utf8')),
    order: ServiceTokenSigner.fromPem('order', readFileSync(keys.order.privateKeyFile, 'utf8')),
  };
  return {
    keys,
    /** Environment that makes in-process services trust these callers and sign as them. */
    env: {
      order: {
        SERVICE_IDENTITY_KEY_FILE: keys.order.privateKeyFile,
        TRUSTED_CALLER_KEY_FILES: `user=${keys.user.publicKeyFile}`,
      },
      payment: { TRUSTED_CALLER_KEY_FILES: `user=${keys.user.publicKeyFile},order=${keys.order.publicKeyFile}` },
      user: { SERVICE_IDENTITY_KEY_FILE: keys.user.privateKeyFile },
    },
    /** Metadata carrying `caller`'s token for `callee` (bound to one request when `binding` is given, as Charge needs). */
    /** For a client's `interceptors` option: every call carries `caller`'s token for `callee`. */
    interceptor(caller: CallingService, callee: 'order' | 'payment'): Interceptor {
      return signers[caller].interceptor(callee);
    },
    metadata(caller: CallingService, callee: 'order' | 'payment', binding?: RequestBinding): Promise<Metadata> {
      return signers[caller].metadata(callee, binding);
    },
  };
}
