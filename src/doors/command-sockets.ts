/**
 * dcm-server's two command sockets (paths.ts, command-server.ts): the root
 * socket, and the service account's when that account exists and is not root.
 * A socket that cannot be made is logged and left out: the doors then run
 * their commands themselves, as when no server runs.
 */
import { unlinkSync } from 'node:fs';
import { rootSocketPath, serviceSocketPath } from '../paths.js';
import type { CommandCore } from '../shell/core.js';
import type { SessionSlots } from '../ssh/session-slots.js';
import { CommandServer, type SocketTrust } from './command-server.js';
import { hostAccountIds } from './host-account.js';
import { prepareSocketDirs } from './socket-dir.js';
import { userLine } from '../errors.js';

export interface CommandSockets {
  stop(): Promise<void>;
}

export async function startCommandSockets(o: {
  core: CommandCore;
  slots: SessionSlots;
  stateDir: string;
  log(line: string): void;
}): Promise<CommandSockets> {
  const up: CommandServer[] = [];
  const stop = async () => void (await Promise.all(up.map((s) => s.stop())));
  try {
    prepareSocketDirs(o.stateDir);
  } catch (e) {
    o.log(`command sockets not available: ${userLine(e)}`);
    return { stop };
  }
  const open = async (path: string, trust: SocketTrust, who: string) => {
    const s = new CommandServer({ core: o.core, slots: o.slots, path, trust, log: o.log });
    const ok = await s.listen().catch((e: Error) => (o.log(`command socket for ${who} not available: ${e.message}`), false));
    if (ok) {
      up.push(s);
      o.log(`command socket for ${who}: ${path}`);
    }
  };
  await open(rootSocketPath(o.stateDir), { kind: 'root' }, 'root');
  // Fixed at start, like the listen address: a new service account needs a restart.
  const account = o.core.deps.config.openssh.service_account;
  const ids = hostAccountIds(account);
  const servicePath = serviceSocketPath(o.stateDir);
  if (ids && ids.uid !== 0) {
    await open(servicePath, { kind: 'service', account, ...ids }, `the service account ${account}`);
  } else {
    try {
      unlinkSync(servicePath); // one made for an account configured before
    } catch {
      /* none */
    }
    o.log(
      ids
        ? `no service socket: the service account ${account} is root, which uses the root socket`
        : `no service socket: the service account ${account} does not exist on this host`,
    );
  }
  return { stop };
}
