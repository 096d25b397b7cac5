/**
 * A door's way to dcm-server in one call: choose the socket this account may
 * use (socket-choice.ts), send the command (command-client.ts), and when
 * nothing was sent, say why, so that the door runs the command itself and
 * words any refusal by what really happened.
 */
import { askServer, type Forwardable } from './command-client.js';
import type { CommandReply, DoorFacts } from './command-protocol.js';
import { socketChoice, type NoServer } from './socket-choice.js';

export async function viaServer(stateDir: string, facts: DoorFacts, what: Forwardable): Promise<{ reply: CommandReply } | { why: NoServer }> {
  const choice = socketChoice(stateDir, facts.euid);
  if ('why' in choice) return choice;
  const r = await askServer(choice.path, facts, what);
  return 'unsent' in r ? { why: r.unsent } : { reply: r };
}
