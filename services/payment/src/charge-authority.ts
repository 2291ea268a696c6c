import type { ServiceCaller } from '@ordermesh/grpc';
import { unboundFields } from '@ordermesh/identity';
import { chargeBinding } from '@ordermesh/proto/charge-binding';
import { permissionDenied } from '@ordermesh/runtime';
import type { ChargeCommand } from './payments.js';

/**
 * Refuses a charge that OrderService did not vouch for exactly: its service
 * token for a Charge signs the order, user, card, amount and currency it
 * priced (@ordermesh/proto charge-binding), and every one must equal the request's. So an
 * amount changed on the way, or a token replayed for another charge, takes
 * no money. Who may call Charge at all is decided before this, by caller.
 */
export function checkChargeAuthority(caller: ServiceCaller | undefined, command: ChargeCommand): void {
  if (!caller?.binding) {
    throw permissionDenied('a charge needs a service token bound to its order, card and amount; this one is not');
  }
  const mismatched = unboundFields(caller.binding, chargeBinding(command));
  if (mismatched.length > 0) {
    throw permissionDenied(`${mismatched.join(', ')}: does not match the order the charge was authorised for`);
  }
}
