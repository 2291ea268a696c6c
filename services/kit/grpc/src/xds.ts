import { createRequire } from 'node:module';

/**
 * Proxyless gRPC: a client target written `xds:///<listener name>` (for
 * example `xds:///payment.ordermesh.svc.cluster.local:50053`) is resolved by
 * @grpc/grpc-js-xds from the xDS control plane named in the bootstrap file
 * that GRPC_XDS_BOOTSTRAP points to (Istio's grpc-agent template writes it to
 * /etc/istio/proxy/grpc-bootstrap.json). Routes, retries, timeouts, fault
 * injection and circuit breaking then come from the control plane instead of
 * a sidecar. Plain `host:port` targets (the default, sidecar mode) never load
 * the xDS library at all.
 *
 * Server side the services keep a plain grpc-js server: in proxyless mode
 * nothing terminates mTLS or enforces AuthorizationPolicy for them (that needs
 * XdsServer with XdsServerCredentials); see docs/proxyless.md.
 */

/** True when `target` uses the xds name scheme (`xds:///name` or `xds://authority/name`). */
export function isXdsTarget(target: string): boolean {
  return /^xds:/i.test(target.trim());
}

let registered = false;

/**
 * Registers the `xds:` name resolver and its load-balancing policies with
 * @grpc/grpc-js the first time an xds target is seen; any other target is a
 * no-op. Synchronous (the package is CommonJS) so channels can be created
 * right after it. Throws when GRPC_XDS_BOOTSTRAP and
 * GRPC_XDS_BOOTSTRAP_CONFIG are both unset, because grpc-js-xds would
 * otherwise only fail later, per call, with a less helpful message.
 */
export function registerXdsFor(target: string, env: NodeJS.ProcessEnv = process.env): void {
  if (!isXdsTarget(target) || registered) return;
  if (!env.GRPC_XDS_BOOTSTRAP && !env.GRPC_XDS_BOOTSTRAP_CONFIG) {
    throw new Error(
      `gRPC target ${target} uses the xds scheme, but GRPC_XDS_BOOTSTRAP (a bootstrap file) and GRPC_XDS_BOOTSTRAP_CONFIG are both unset`,
    );
  }
  const xds = createRequire(import.meta.url)('@grpc/grpc-js-xds') as { register(): void };
  xds.register();
  registered = true;
}
