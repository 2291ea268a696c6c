import { createServer, type Server } from 'node:http';
import type { Logger } from '@ordermesh/runtime';

/**
 * Serves the public keys of the access tokens at /.well-known/jwks.json, for
 * the mesh ingress (Istio RequestAuthentication) and other verifiers.
 */
export async function startJwksServer(host: string, port: number, jwks: object, log: Logger): Promise<Server> {
  const body = JSON.stringify(jwks);
  const server = createServer((request, response) => {
    if (request.method === 'GET' && request.url === '/.well-known/jwks.json') {
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
      response.end(body);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  log.info({ port }, 'JWKS endpoint listening');
  return server;
}
