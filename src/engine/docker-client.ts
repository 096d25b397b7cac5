/**
 * A dockerode client bound to exactly one engine: the socket in the
 * configuration. docker-modem reads DOCKER_HOST, DOCKER_TLS_VERIFY,
 * DOCKER_CERT_PATH, DOCKER_PATH_PREFIX and DOCKER_CLIENT_TIMEOUT from the
 * environment when a client is made, and a tcp:// or ssh:// DOCKER_HOST wins
 * over the socketPath option: whoever sets the environment of a dcm process
 * would choose which engine it drives (and which certificate files root
 * reads). The client is made with those variables hidden, and checked after;
 * every call it makes is bounded by the engine answering (engine-watchdog.ts).
 */
import Docker from 'dockerode';
import { DcmError } from '../errors.js';
import { watchEngineCalls } from './engine-watchdog.js';

/** Every variable docker-modem consults (SSH_AUTH_SOCK only for ssh:// hosts, which DOCKER_HOST alone selects). */
const MODEM_ENV = ['DOCKER_HOST', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_PATH_PREFIX', 'DOCKER_CLIENT_TIMEOUT'] as const;

/** What the client ended up pointing at (dockerode types its modem loosely). */
interface ModemView {
  socketPath?: unknown;
  host?: unknown;
  protocol?: unknown;
}

export function dockerAtSocket(socketPath: string): Docker {
  const saved = new Map<string, string>();
  for (const k of MODEM_ENV) {
    const v = process.env[k];
    if (v !== undefined) saved.set(k, v);
    delete process.env[k];
  }
  let docker: Docker;
  try {
    docker = new Docker({ socketPath, protocol: 'http' });
  } finally {
    for (const [k, v] of saved) process.env[k] = v;
  }
  const m = docker.modem as ModemView;
  if (m.socketPath !== socketPath || m.host !== undefined || m.protocol !== 'http') {
    throw new DcmError('unavailable', 'container engine unavailable', `docker client is not bound to ${socketPath}`);
  }
  // No call waits on an engine that stopped answering (see engine-watchdog.ts).
  watchEngineCalls(docker.modem, socketPath);
  return docker;
}
