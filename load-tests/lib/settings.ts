/**
 * Everything a run can change comes from the environment (k6 -e NAME=value or
 * K6-exported variables), so the same scripts run against a laptop or a
 * cluster's ingress. Read in the init context.
 */
import { isProfileName, type ProfileName } from './profiles.ts';

const env = (name: string, fallback: string): string => __ENV[name] ?? fallback;

function profileFromEnv(): ProfileName {
  const name = env('PROFILE', 'smoke');
  if (!isProfileName(name)) throw new Error(`PROFILE=${name}: expected smoke, average, stress, spike or soak`);
  return name;
}

function positiveNumber(name: string, fallback: string): number {
  const value = Number(env(name, fallback));
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

export interface TlsFiles {
  /** PEM of the CA that signed the ingress certificate; empty for the system roots. */
  caFile: string;
  /** Client certificate and key for mutual TLS at the ingress; empty when it does not ask for one. */
  certFile: string;
  keyFile: string;
}

export const settings = {
  profile: profileFromEnv(),
  /** Total calls per second at average load; each profile scales it (stress up to 3x, spike 5x). */
  rate: positiveNumber('RATE', '20'),
  /** The mesh ingress (or UserService itself) as host:port. */
  target: env('TARGET', '127.0.0.1:50051'),
  /** TLS=true for a TLS ingress; plaintext otherwise. */
  tls: env('TLS', 'false') === 'true',
  tlsFiles: { caFile: env('TLS_CA_FILE', ''), certFile: env('TLS_CERT_FILE', ''), keyFile: env('TLS_KEY_FILE', '') },
  /** The repository's proto folder, relative to this script or absolute. */
  protoDir: env('PROTO_DIR', '../proto'),
  /** How many accounts setup() registers; VUs share them round robin. */
  users: Math.round(positiveNumber('USERS', '10')),
  /**
   * Use these existing accounts instead of registering new ones, as
   * "email:password,email:password" (e.g. where sign-up is closed).
   */
  accounts: env('ACCOUNTS', ''),
  password: env('PASSWORD', 'k6 load test password'),
  /** Card used for sign-ups; the simulated provider accepts any Luhn-valid number. */
  cardNumber: env('CARD_NUMBER', '4242424242424242'),
  /** Re-login this many seconds before the JWT expires (the soak outlives the default 1 h token). */
  tokenRefreshMarginSeconds: positiveNumber('TOKEN_REFRESH_MARGIN_SECONDS', '120'),
  callTimeout: env('CALL_TIMEOUT', '10s'),
};
