/**
 * Is a host port free on an IP? Binds a listening socket for an instant.
 * Catches ports held by processes dcm does not know about (the database only
 * knows dcm's own allocations).
 */
import { createServer } from 'node:net';

export function isPortFree(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host: ip, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}
