/**
 * The two questions dcm asks the host network, behind one small interface so
 * that unit tests with a fake engine can answer them without real sockets.
 */
import { isPortFree } from './port-probe.js';
import { waitForSsh } from './ssh-ready.js';

export interface HostNet {
  /** Is ip:port free for dcm to publish on? */
  isPortFree(ip: string, port: number): Promise<boolean>;
  /** Resolves true once an sshd answers on ip:port, false after timeoutMs. */
  waitForSsh(ip: string, port: number, timeoutMs: number): Promise<boolean>;
}

export const realHostNet: HostNet = { isPortFree, waitForSsh };
